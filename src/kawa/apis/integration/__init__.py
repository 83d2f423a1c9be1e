"""IntegrationSource (sources.knative.dev) and IntegrationSink (sinks.knative.dev), v1alpha1.

Knative's Apache Camel based kinds, kept together as Knative keeps their shared parts
(``pkg/apis/common/integration``): :mod:`.integrationsource` (the timer, run by kawa; the AWS
connectors, accepted only), :mod:`.integrationsink` (the log sink, run by kawa; the AWS
connectors, accepted only) and :mod:`.aws` (what both AWS sets share). :data:`KINDS` declares
them for the registry.
"""

from __future__ import annotations

from typing import Final

from kawa.apis import duck, kn_common
from kawa.apis.integration import aws, integrationsink, integrationsource
from kawa.apis.kinds import PrinterColumn, ResourceKind

SOURCES_GROUP: Final = "sources.knative.dev"
SINKS_GROUP: Final = "sinks.knative.dev"

INTEGRATIONSOURCE: Final = ResourceKind(
    group=SOURCES_GROUP,
    versions=("v1alpha1",),
    kind=integrationsource.KIND,
    plural="integrationsources",
    singular="integrationsource",
    namespaced=True,
    model=integrationsource.IntegrationSource,
    status=duck.SourceStatus,
    categories=("all", "knative", "sources"),
    printer_columns=(kn_common.SINK, kn_common.AGE, kn_common.READY, kn_common.REASON),
)
"""IntegrationSource (v1alpha1): a timer (or an AWS connector, not run) sending to a sink."""

INTEGRATIONSINK: Final = ResourceKind(
    group=SINKS_GROUP,
    versions=("v1alpha1",),
    kind=integrationsink.KIND,
    plural="integrationsinks",
    singular="integrationsink",
    namespaced=True,
    model=integrationsink.IntegrationSink,
    status=integrationsink.IntegrationSinkStatus,
    categories=("all", "knative", "sinks"),
    printer_columns=(
        PrinterColumn("URL", "string", ".status.address.url"),
        kn_common.AGE,
        kn_common.READY,
        kn_common.REASON,
    ),
)
"""IntegrationSink (v1alpha1): an addressable that logs events (or an AWS connector, not run)."""

KINDS: Final[tuple[ResourceKind, ...]] = (INTEGRATIONSOURCE, INTEGRATIONSINK)

__all__ = [
    "INTEGRATIONSINK",
    "INTEGRATIONSOURCE",
    "KINDS",
    "aws",
    "integrationsink",
    "integrationsource",
]
