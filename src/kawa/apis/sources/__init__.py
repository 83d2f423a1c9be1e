"""The sources.knative.dev API group: PingSource, ApiServerSource, ContainerSource, SinkBinding.

One module per kind, shaped like Knative's ``pkg/apis/sources/v1``, each declaring the kind as
models (ADR 0014) whose spec derives from :class:`kawa.apis.duck.SourceSpec` (``sink``,
``ceOverrides``) and whose status is :class:`kawa.apis.duck.SourceStatus` (``sinkUri``,
``ceAttributes``); :mod:`.cron` parses PingSource schedules. :data:`KINDS` declares them for
the registry; ApiServerSource is also served as the 2019
``sources.eventing.knative.dev/v1alpha1``.
"""

from __future__ import annotations

from typing import Final

from kawa.apis import duck, kn_common
from kawa.apis.kinds import PrinterColumn, ResourceKind
from kawa.apis.sources import apiserversource, containersource, pingsource, sinkbinding

GROUP: Final = "sources.knative.dev"
_CATEGORIES: Final = ("all", "knative", "sources")
_COLUMNS: Final = (kn_common.SINK, kn_common.AGE, kn_common.READY, kn_common.REASON)

PINGSOURCE: Final = ResourceKind(
    group=GROUP,
    versions=("v1", "v1beta2"),
    kind=pingsource.KIND,
    plural="pingsources",
    singular="pingsource",
    namespaced=True,
    model=pingsource.PingSource,
    status=duck.SourceStatus,
    categories=_CATEGORIES,
    printer_columns=(
        kn_common.SINK,
        PrinterColumn("Schedule", "string", ".spec.schedule"),
        kn_common.AGE,
        kn_common.READY,
        kn_common.REASON,
    ),
)

APISERVERSOURCE: Final = ResourceKind(
    group=GROUP,
    versions=("v1",),
    kind=apiserversource.KIND,
    plural="apiserversources",
    singular="apiserversource",
    namespaced=True,
    model=apiserversource.ApiServerSource,
    status=apiserversource.ApiServerSourceStatus,
    categories=_CATEGORIES,
    printer_columns=_COLUMNS,
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
    model=containersource.ContainerSource,
    status=duck.SourceStatus,
    categories=_CATEGORIES,
    printer_columns=_COLUMNS,
)

SINKBINDING: Final = ResourceKind(
    group=GROUP,
    versions=("v1",),
    kind=sinkbinding.KIND,
    plural="sinkbindings",
    singular="sinkbinding",
    namespaced=True,
    model=sinkbinding.SinkBinding,
    status=sinkbinding.SinkBindingStatus,
    categories=(*_CATEGORIES, "bindings"),
    printer_columns=_COLUMNS,
)

KINDS: Final[tuple[ResourceKind, ...]] = (PINGSOURCE, APISERVERSOURCE, CONTAINERSOURCE, SINKBINDING)

__all__ = ["APISERVERSOURCE", "CONTAINERSOURCE", "GROUP", "KINDS", "PINGSOURCE", "SINKBINDING"]
