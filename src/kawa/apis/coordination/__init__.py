"""The coordination.k8s.io/v1 API group: Lease (:mod:`.lease`), with the printer columns of
Kubernetes' server-side printer (``NAME HOLDER AGE``). :data:`KINDS` is what the scheme
registers."""

from __future__ import annotations

from typing import Final

from kawa.apis.coordination import lease
from kawa.apis.kinds import PrinterColumn, ResourceKind

GROUP: Final = lease.GROUP
VERSION: Final = "v1"

LEASE: Final = ResourceKind(
    group=GROUP,
    versions=(VERSION,),
    kind=lease.KIND,
    plural="leases",
    singular="lease",
    namespaced=True,
    model=lease.Lease,
    printer_columns=(
        PrinterColumn("Holder", "string", value=lease.holder_cell),
        PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
    ),
    subresources=(),
)

KINDS: Final = (LEASE,)
"""The coordination.k8s.io kinds kawa serves."""

__all__ = ["GROUP", "KINDS", "LEASE", "VERSION"]
