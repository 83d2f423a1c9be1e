"""The ReplicaSet kind (apps/v1): keeps ``replicas`` Pods made from its template running.

Declared once (ADR 0014): ``replicas`` defaults to 1, the selector is required, may not be
empty, must select the template's labels and never changes; the template is a core
:class:`~kawa.apis.core.pod_spec.PodTemplateSpec` with the Pod defaults, whose restart policy
must be ``Always``. Its controller is :mod:`kawa.controllers.apps.replicaset`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final

from kawa.apis.apps import workload
from kawa.apis.core.pod_spec import PodTemplateSpec
from kawa.apis.label_selector import LabelSelector
from kawa.apis.model.base import STORED, Immutable, MergeKey, Model, RawChecked, doc
from kawa.apis.model.objects import KubeObject
from kawa.errors import FieldError

KIND: Final = "ReplicaSet"
API_VERSION: Final = "apps/v1"
REPLICA_FAILURE: Final = "ReplicaFailure"
"""The condition a ReplicaSet gets while its Pods cannot be created."""


def restart_policy_errors(spec: Mapping[str, Any]) -> Iterable[FieldError]:
    """A workload's Pods restart ``Always`` (the raw spec; other values are a type error)."""
    template = spec.get("template")
    pod_spec = template.get("spec") if isinstance(template, Mapping) else None
    policy = pod_spec.get("restartPolicy") if isinstance(pod_spec, Mapping) else None
    if isinstance(policy, str) and policy in ("OnFailure", "Never"):
        yield FieldError(
            "template.spec.restartPolicy",
            f'Unsupported value: "{policy}": supported values: "Always"',
        )


class ReplicaSetSpec(RawChecked):
    """The desired state of the ReplicaSet."""

    replicas: Annotated[
        int, doc("The number of Pods to keep running (default 1).", ge=0), STORED
    ] = 1
    min_ready_seconds: Annotated[
        int,
        doc("Seconds a new Pod must be ready before it counts as available (default 0).", ge=0),
    ] = 0
    selector: Annotated[
        LabelSelector,
        doc("The Pods the ReplicaSet counts: must select the template's labels; immutable."),
        Immutable("delete and recreate the ReplicaSet to change its selector"),
    ]
    template: Annotated[PodTemplateSpec, doc("The Pods to make when there are too few.")]

    @classmethod
    def check_raw(cls, data: Mapping[str, Any]) -> Iterable[FieldError]:
        yield from workload.selector_errors(data, "replicaset")
        yield from restart_policy_errors(data)


class ReplicaSetStatus(Model):
    """What the ReplicaSet controller observed."""

    replicas: Annotated[int, doc("Pods the ReplicaSet has (not being deleted).")] = 0
    fully_labeled_replicas: Annotated[
        int, doc("Pods whose labels match the template's labels.")
    ] = 0
    ready_replicas: Annotated[int, doc("Pods that are Ready.")] = 0
    available_replicas: Annotated[int, doc("Pods Ready for at least minReadySeconds.")] = 0
    terminating_replicas: Annotated[int | None, doc("Pods being deleted.")] = None
    observed_generation: Annotated[
        int, doc("The generation of the spec these numbers are about.")
    ] = 0
    conditions: Annotated[
        list[workload.WorkloadCondition],
        doc("Conditions of the ReplicaSet (ReplicaFailure)."),
        MergeKey("type"),
    ] = []


class ReplicaSet(KubeObject):
    """A ReplicaSet keeps a number of identical Pods running; Deployments make them."""

    spec: Annotated[ReplicaSetSpec, doc("The desired state of the ReplicaSet.")]


def desired_cell(obj: Mapping[str, Any]) -> int:
    return workload.int_at(obj, "spec", "replicas", 1)


def current_cell(obj: Mapping[str, Any]) -> int:
    return workload.int_at(obj, "status", "replicas")


def ready_cell(obj: Mapping[str, Any]) -> int:
    return workload.int_at(obj, "status", "readyReplicas")
