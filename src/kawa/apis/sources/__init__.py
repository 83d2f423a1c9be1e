"""The sources.knative.dev API group: PingSource, ApiServerSource, ContainerSource, SinkBinding.

One module per kind, shaped like Knative's ``pkg/apis/sources/v1``; :mod:`.cron` parses
PingSource schedules. :data:`KINDS` declares them for the registry; ApiServerSource is also
served as the 2019 ``sources.eventing.knative.dev/v1alpha1``.
"""

from __future__ import annotations

from typing import Final

from kawa.apis import kn_common
from kawa.apis.kinds import PrinterColumn, ResourceKind
from kawa.apis.sources import apiserversource, containersource, pingsource, sinkbinding

GROUP: Final = "sources.knative.dev"
_CATEGORIES: Final = ("all", "knative", "sources")
_COLUMNS: Final = (kn_common.SINK, kn_common.AGE, kn_common.READY, kn_common.REASON)

PINGSOURCE: Final = ResourceKind(
    group=GROUP,
    versions=("v1",),
    kind=pingsource.KIND,
    plural="pingsources",
    singular="pingsource",
    namespaced=True,
    legacy_default=pingsource.default_pingsource,
    legacy_validate=pingsource.validate_pingsource,
    legacy_validate_update=pingsource.validate_pingsource_update,
    categories=_CATEGORIES,
    printer_columns=(
        kn_common.SINK,
        PrinterColumn("Schedule", "string", ".spec.schedule"),
        kn_common.AGE,
        kn_common.READY,
        kn_common.REASON,
    ),
    legacy_schema=pingsource.SCHEMA,
)

APISERVERSOURCE: Final = ResourceKind(
    group=GROUP,
    versions=("v1",),
    kind=apiserversource.KIND,
    plural="apiserversources",
    singular="apiserversource",
    namespaced=True,
    legacy_default=apiserversource.default_apiserversource,
    legacy_validate=apiserversource.validate_apiserversource,
    legacy_validate_update=apiserversource.validate_apiserversource_update,
    categories=_CATEGORIES,
    printer_columns=_COLUMNS,
    legacy_schema=apiserversource.SCHEMA,
    extra_api_versions=(apiserversource.API_VERSION_V1ALPHA1,),
    convert=apiserversource.convert_apiserversource,
)

CONTAINERSOURCE: Final = ResourceKind(
    group=GROUP,
    versions=("v1",),
    kind=containersource.KIND,
    plural="containersources",
    singular="containersource",
    namespaced=True,
    legacy_default=containersource.default_containersource,
    legacy_validate=containersource.validate_containersource,
    legacy_validate_update=containersource.validate_containersource_update,
    categories=_CATEGORIES,
    printer_columns=_COLUMNS,
    legacy_schema=containersource.SCHEMA,
)

SINKBINDING: Final = ResourceKind(
    group=GROUP,
    versions=("v1",),
    kind=sinkbinding.KIND,
    plural="sinkbindings",
    singular="sinkbinding",
    namespaced=True,
    legacy_default=sinkbinding.default_sinkbinding,
    legacy_validate=sinkbinding.validate_sinkbinding,
    legacy_validate_update=sinkbinding.validate_sinkbinding_update,
    categories=(*_CATEGORIES, "bindings"),
    printer_columns=_COLUMNS,
    legacy_schema=sinkbinding.SCHEMA,
)

KINDS: Final[tuple[ResourceKind, ...]] = (PINGSOURCE, APISERVERSOURCE, CONTAINERSOURCE, SINKBINDING)

__all__ = ["APISERVERSOURCE", "CONTAINERSOURCE", "GROUP", "KINDS", "PINGSOURCE", "SINKBINDING"]
