"""The Deployment kind (apps/v1): a Pod template rolled out through ReplicaSets.

Declared once (ADR 0014) with Kubernetes' defaults: ``replicas`` 1, strategy
``RollingUpdate`` with ``maxSurge`` and ``maxUnavailable`` 25%, ``revisionHistoryLimit`` 10,
``progressDeadlineSeconds`` 600. The selector is required, not empty, selects the template's
labels and never changes; a ``Recreate`` strategy has no ``rollingUpdate``; ``maxSurge`` and
``maxUnavailable`` are not both 0; the deadline exceeds ``minReadySeconds``. Its controller is
:mod:`kawa.controllers.apps.deployment`; :func:`surge_and_unavailable` resolves the strategy's
numbers as that controller uses them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final, Literal

from kawa.apis.apps import workload
from kawa.apis.apps.replicaset import restart_policy_errors
from kawa.apis.core.pod_spec import PodTemplateSpec
from kawa.apis.label_selector import LabelSelector
from kawa.apis.model.base import STORED, Context, Immutable, MergeKey, Model, RawChecked, doc
from kawa.apis.model.objects import KubeObject
from kawa.apis.model.types import IntOrString
from kawa.errors import FieldError

KIND: Final = "Deployment"
API_VERSION: Final = "apps/v1"
AVAILABLE: Final = "Available"
PROGRESSING: Final = "Progressing"
REPLICA_FAILURE: Final = "ReplicaFailure"

_PERCENT: Final = re.compile(r"^(\d+)%$")


def _int_or_percent(value: Any, path: str) -> Iterable[FieldError]:
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if value < 0:
            yield FieldError(path, f"Invalid value: {value}: must be greater than or equal to 0")
    elif isinstance(value, str):
        found = _PERCENT.match(value)
        if found is None:
            yield FieldError(
                path,
                f'Invalid value: "{value}": a valid percent string must be a '
                "numeric string followed by an ending '%' (e.g. '1%',  or '93%')",
            )


class RollingUpdateDeployment(Model):
    """How far a rolling update may go above and below the desired number of Pods."""

    max_unavailable: Annotated[
        IntOrString,
        doc(
            "Pods that may be unavailable during the update: a number or a percentage "
            "(default 25%, rounded down)."
        ),
        STORED,
    ] = "25%"
    max_surge: Annotated[
        IntOrString,
        doc(
            "Pods that may be created above the desired number: a number or a percentage "
            "(default 25%, rounded up)."
        ),
        STORED,
    ] = "25%"

    def check(self, ctx: Context) -> Iterable[FieldError]:
        yield from _int_or_percent(self.max_unavailable, "maxUnavailable")
        yield from _int_or_percent(self.max_surge, "maxSurge")
        unavailable = self.max_unavailable
        m = _PERCENT.match(unavailable) if isinstance(unavailable, str) else None
        if m is not None and int(m.group(1)) > 100:
            yield FieldError(
                "maxUnavailable",
                f'Invalid value: "{unavailable}": must not be greater than 100%',
            )
        if _is_zero(self.max_unavailable) and _is_zero(self.max_surge):
            yield FieldError(
                "maxUnavailable", "Invalid value: 0: may not be 0 when `maxSurge` is 0"
            )


def _is_zero(value: int | str) -> bool:
    return value in (0, "0%")


class DeploymentStrategy(Model):
    """How old Pods are replaced by new ones."""

    type: Annotated[
        Literal["Recreate", "RollingUpdate"],
        doc(
            "RollingUpdate (the default): replace Pods gradually; Recreate: stop all old Pods "
            "before new ones start."
        ),
        STORED,
    ] = "RollingUpdate"
    rolling_update: Annotated[
        RollingUpdateDeployment | None, doc("The bounds of a rolling update.")
    ] = None

    @classmethod
    def set_defaults(cls, data: dict[str, Any], ctx: Context) -> None:
        if data.get("type") == "RollingUpdate" and data.get("rollingUpdate") is None:
            data["rollingUpdate"] = {}


class DeploymentSpec(RawChecked):
    """The desired state of the Deployment."""

    replicas: Annotated[int, doc("The number of Pods wanted (default 1).", ge=0), STORED] = 1
    selector: Annotated[
        LabelSelector,
        doc("The Pods the Deployment manages: must select the template's labels; immutable."),
        Immutable("delete and recreate the Deployment to change its selector"),
    ]
    template: Annotated[PodTemplateSpec, doc("The Pods to run.")]
    strategy: Annotated[
        DeploymentStrategy, doc("How old Pods are replaced by new ones."), STORED
    ] = DeploymentStrategy()
    min_ready_seconds: Annotated[
        int,
        doc("Seconds a new Pod must be ready before it counts as available (default 0).", ge=0),
    ] = 0
    revision_history_limit: Annotated[
        int, doc("Old ReplicaSets kept for rollbacks (default 10).", ge=0), STORED
    ] = 10
    paused: Annotated[bool, doc("A paused Deployment rolls nothing out (it still scales).")] = False
    progress_deadline_seconds: Annotated[
        int,
        doc(
            "Seconds a rollout may make no progress before it is reported failed (default 600).",
            ge=1,
        ),
        STORED,
    ] = 600

    @classmethod
    def check_raw(cls, data: Mapping[str, Any]) -> Iterable[FieldError]:
        yield from workload.selector_errors(data, "deployment")
        yield from restart_policy_errors(data)
        strategy = data.get("strategy")
        if (
            isinstance(strategy, Mapping)
            and strategy.get("type") == "Recreate"
            and strategy.get("rollingUpdate") is not None
        ):
            yield FieldError(
                "strategy.rollingUpdate",
                "Forbidden: may not be specified when strategy `type` is 'Recreate'",
            )
        deadline, ready = data.get("progressDeadlineSeconds"), data.get("minReadySeconds")
        if isinstance(deadline, int) and isinstance(ready, int) and 0 < deadline <= ready:
            yield FieldError(
                "progressDeadlineSeconds",
                f"Invalid value: {deadline}: must be greater than minReadySeconds",
            )


class DeploymentStatus(Model):
    """What the Deployment controller observed."""

    observed_generation: Annotated[
        int, doc("The generation of the spec these numbers are about.")
    ] = 0
    replicas: Annotated[int, doc("Pods of all the Deployment's ReplicaSets.")] = 0
    updated_replicas: Annotated[int, doc("Pods made from the current template.")] = 0
    ready_replicas: Annotated[int, doc("Pods that are Ready.")] = 0
    available_replicas: Annotated[int, doc("Pods Ready for at least minReadySeconds.")] = 0
    unavailable_replicas: Annotated[int, doc("Pods wanted but not available.")] = 0
    terminating_replicas: Annotated[int | None, doc("Pods being deleted.")] = None
    collision_count: Annotated[
        int | None, doc("How often the template's hash named another template's ReplicaSet.")
    ] = None
    conditions: Annotated[
        list[workload.WorkloadCondition],
        doc("Available and Progressing."),
        MergeKey("type"),
    ] = []


class Deployment(KubeObject):
    """A Deployment runs a number of Pods from a template and rolls out template changes."""

    spec: Annotated[DeploymentSpec, doc("The desired state of the Deployment.")]


def resolve(value: int | str, total: int, *, round_up: bool) -> int:
    """An int-or-percent of ``total``: a percentage rounded up or down."""
    if isinstance(value, int):
        return value
    found = _PERCENT.match(value)
    if found is None:
        return 0
    exact = int(found.group(1)) * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def surge_and_unavailable(spec: DeploymentSpec) -> tuple[int, int]:
    """``(maxSurge, maxUnavailable)`` in Pods for a rolling update: the surge rounded up, the
    unavailable count rounded down, and 1 unavailable when both come to 0 (as Kubernetes);
    a Recreate Deployment has neither."""
    rolling = spec.strategy.rolling_update
    if spec.strategy.type != "RollingUpdate" or rolling is None:
        return 0, 0
    surge = resolve(rolling.max_surge, spec.replicas, round_up=True)
    unavailable = resolve(rolling.max_unavailable, spec.replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, min(unavailable, spec.replicas)


def ready_cell(obj: Mapping[str, Any]) -> str:
    ready = workload.int_at(obj, "status", "readyReplicas")
    return f"{ready}/{workload.int_at(obj, 'spec', 'replicas', 1)}"


def updated_cell(obj: Mapping[str, Any]) -> int:
    return workload.int_at(obj, "status", "updatedReplicas")


def available_cell(obj: Mapping[str, Any]) -> int:
    return workload.int_at(obj, "status", "availableReplicas")
