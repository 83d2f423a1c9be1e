"""The apps API group (``apps``, version ``v1``): Deployment and ReplicaSet, with the printer
columns of Kubernetes' server-side printers and the ``scale`` subresource.

:mod:`.deployment` and :mod:`.replicaset` declare the kinds once (:mod:`kawa.apis.model`);
:mod:`.workload` holds what both share (labels, annotations, the selector rule, conditions,
cells). :data:`KINDS` is what the scheme registers; their controllers are
:mod:`kawa.controllers.apps`.
"""

from __future__ import annotations

from typing import Final

from kawa.apis.apps import deployment, replicaset, workload
from kawa.apis.kinds import PrinterColumn, ResourceKind

GROUP: Final = "apps"
VERSION: Final = "v1"

AGE: Final = PrinterColumn("Age", "date", ".metadata.creationTimestamp")
_WIDE: Final = (
    PrinterColumn("Containers", "string", value=workload.containers_cell, priority=1),
    PrinterColumn("Images", "string", value=workload.images_cell, priority=1),
    PrinterColumn("Selector", "string", value=workload.selector_cell, priority=1),
)

DEPLOYMENT: Final = ResourceKind(
    group=GROUP,
    versions=(VERSION,),
    kind=deployment.KIND,
    plural="deployments",
    singular="deployment",
    namespaced=True,
    model=deployment.Deployment,
    status=deployment.DeploymentStatus,
    short_names=("deploy",),
    categories=("all",),
    printer_columns=(
        PrinterColumn("Ready", "string", value=deployment.ready_cell),
        PrinterColumn("Up-to-date", "integer", value=deployment.updated_cell),
        PrinterColumn("Available", "integer", value=deployment.available_cell),
        AGE,
        *_WIDE,
    ),
    subresources=("status", "scale"),
)

REPLICA_SET: Final = ResourceKind(
    group=GROUP,
    versions=(VERSION,),
    kind=replicaset.KIND,
    plural="replicasets",
    singular="replicaset",
    namespaced=True,
    model=replicaset.ReplicaSet,
    status=replicaset.ReplicaSetStatus,
    short_names=("rs",),
    categories=("all",),
    printer_columns=(
        PrinterColumn("Desired", "integer", value=replicaset.desired_cell),
        PrinterColumn("Current", "integer", value=replicaset.current_cell),
        PrinterColumn("Ready", "integer", value=replicaset.ready_cell),
        AGE,
        *_WIDE,
    ),
    subresources=("status", "scale"),
)

KINDS: Final = (DEPLOYMENT, REPLICA_SET)
"""The apps/v1 kinds kawa serves."""

__all__ = ["DEPLOYMENT", "GROUP", "KINDS", "REPLICA_SET", "VERSION"]
