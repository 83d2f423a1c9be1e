"""The discovery.k8s.io/v1 API group: EndpointSlice (:mod:`.endpointslice`), with the printer
columns of Kubernetes' server-side printer. :data:`KINDS` is what the scheme registers."""

from __future__ import annotations

from typing import Final

from kawa.apis.discovery import endpointslice
from kawa.apis.kinds import PrinterColumn, ResourceKind

GROUP: Final = endpointslice.GROUP
VERSION: Final = "v1"

ENDPOINT_SLICE: Final = ResourceKind(
    group=GROUP,
    versions=(VERSION,),
    kind=endpointslice.KIND,
    plural="endpointslices",
    singular="endpointslice",
    namespaced=True,
    model=endpointslice.EndpointSlice,
    printer_columns=(
        PrinterColumn("AddressType", "string", ".addressType"),
        PrinterColumn("Ports", "string", value=endpointslice.ports_cell),
        PrinterColumn("Endpoints", "string", value=endpointslice.endpoints_cell),
        PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
    ),
    subresources=(),
)

KINDS: Final = (ENDPOINT_SLICE,)
"""The discovery.k8s.io kinds kawa serves."""

__all__ = ["ENDPOINT_SLICE", "GROUP", "KINDS", "VERSION"]
