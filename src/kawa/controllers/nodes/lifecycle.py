"""The node lifecycle controller: what happens to a node that stopped renewing its Lease.

Runs on the leader. When a node's heartbeat Lease (``kube-node-lease/<node>``) has not been
seen renewed for the grace period (``kawa up --node-monitor-grace-period``;
:class:`~kawa.controllers.nodes.health.Health`), as Kubernetes' node lifecycle controller:

- the Node's conditions become ``Unknown`` (reason ``NodeStatusUnknown``, "Kubelet stopped
  posting node status."), with a ``NodeNotReady`` Event; the scheduler places nothing there
  any more. The node's kubelet sets them ``True`` again when it reports next.
- every Pod bound to it that is not finished is marked ``Failed`` (``status.reason``
  ``NodeLost``, its ``Ready`` condition ``False``, a ``DisruptionTarget`` condition ``True``
  with Kubernetes' reason ``DeletionByTaintManager``, which a Job's ``podFailurePolicy`` can
  match to ignore the loss): their owners (ReplicaSet, Job, Revision,
  ContainerSource) count them gone and make replacements, which the scheduler puts on live
  nodes. A Pod that was being deleted there is removed at once (no kubelet will do it). Pods
  bound to a node that does not exist at all are treated the same way once the grace period
  has passed (as Kubernetes' Pod garbage collector does for Pods of deleted nodes).

A kubelet that comes back stops the containers of its Pods marked ``NodeLost`` (they have
been replaced) and does not start them again.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any, Final

from kawa.apis.conditions import Clock, format_time
from kawa.apis.core import pod_status as ps
from kawa.controllers.nodes import choice
from kawa.controllers.nodes.view import NODES, PODS, ClusterView, key_of
from kawa.errors import ConflictError, KawaError, NotFoundError
from kawa.reconciler.events import EventRecorder
from kawa.store.base import Obj, ResourceKey, ResourceStore

log = logging.getLogger(__name__)

NODE_CONTROLLER: Final = "node-controller"
NODE_LOST: Final = "NodeLost"
UNKNOWN_REASON: Final = "NodeStatusUnknown"
UNKNOWN_MESSAGE: Final = "Kubelet stopped posting node status."
DISRUPTION_TARGET: Final = "DisruptionTarget"
DELETION_BY_TAINT_MANAGER: Final = "DeletionByTaintManager"
"""The reason Kubernetes' node lifecycle controller (its taint manager) gives a Pod of an
unreachable node in its ``DisruptionTarget`` condition."""


def lost_pods(view: ClusterView, lost: set[str]) -> list[Obj]:
    """The Pods bound to a lost node that are not finished."""
    return [
        pod
        for pod in view.pods.values()
        if choice.bound_to(pod) in lost
        and (pod.get("status") or {}).get("phase") not in choice.TERMINAL
    ]


def unknown_conditions(status: dict[str, Any], now: str) -> bool:
    """Every condition of a Node ``Unknown``; whether something changed."""
    changed = False
    for condition in status.get("conditions") or ():
        if not isinstance(condition, dict) or condition.get("status") == "Unknown":
            continue
        condition.update(
            status="Unknown",
            reason=UNKNOWN_REASON,
            message=UNKNOWN_MESSAGE,
            lastTransitionTime=now,
        )
        changed = True
    return changed


def failed_status(pod: Obj, now: str) -> dict[str, Any]:
    """The status of ``pod`` once its node is lost."""
    status = copy.deepcopy(pod.get("status") or {})
    node = choice.bound_to(pod)
    name = key_of(pod)[1]
    status["phase"] = "Failed"
    status["reason"] = NODE_LOST
    status["message"] = f"Node {node} which was running pod {name} is unresponsive"
    conditions = [
        c for c in status.get("conditions") or () if isinstance(c, dict) and c.get("type")
    ]
    for condition in conditions:
        if condition["type"] in (ps.READY, ps.CONTAINERS_READY) and condition.get("status") != (
            "False"
        ):
            condition.update(status="False", reason=NODE_LOST, lastTransitionTime=now)
    # a disruption, not the Pod's own failure: a Job's podFailurePolicy may ignore it
    conditions = [c for c in conditions if c["type"] != DISRUPTION_TARGET]
    conditions.append(
        {
            "type": DISRUPTION_TARGET,
            "status": "True",
            "reason": DELETION_BY_TAINT_MANAGER,
            "message": f"Node {node} is unreachable: the Pod is stopped and replaced",
            "lastTransitionTime": now,
        }
    )
    status["conditions"] = conditions
    return status


class NodeLifecycle:
    """Marks lost nodes and fails their Pods (see the module docstring)."""

    def __init__(
        self,
        store: ResourceStore,
        view: ClusterView,
        *,
        clock: Clock,
        monotonic: Callable[[], float],
    ) -> None:
        self.store = store
        self.view = view
        self.clock = clock
        self.monotonic = monotonic
        self.recorder = EventRecorder(store, NODE_CONTROLLER, clock=clock)

    def lost(self) -> set[str]:
        now = self.monotonic()
        return {name for name in self.view.health.nodes() if self.view.health.lost(name, now)}

    async def check(self) -> None:
        """Mark what is lost now."""
        lost = self.lost()
        if not lost:
            return
        for name in sorted(lost):
            node = self.view.nodes.get(name)
            cached = copy.deepcopy((node or {}).get("status") or {})
            if node is not None and unknown_conditions(cached, ""):  # not marked yet
                await self._mark_node(name)
        for pod in lost_pods(self.view, lost):
            await self._fail_pod(pod)

    async def _mark_node(self, name: str) -> None:
        key = ResourceKey(NODES, "", name)
        for _ in range(5):
            try:
                node = await self.store.get(key)
            except NotFoundError:
                return
            status = copy.deepcopy(node.get("status") or {})
            if not unknown_conditions(status, format_time(self.clock())):
                return
            try:
                updated = await self.store.update(key, dict(node, status=status), status_only=True)
            except ConflictError:
                continue
            except KawaError as err:
                log.warning("node lifecycle: cannot mark node %s: %s", name, err)
                return
            self.view.nodes[name] = updated
            log.warning("node %s stopped renewing its lease: marked NotReady", name)
            await self.recorder.record(
                updated, "Normal", "NodeNotReady", f"Node {name} status is now: NodeNotReady"
            )
            return

    async def _fail_pod(self, pod: Obj) -> None:
        namespace, name = key_of(pod)
        key = ResourceKey(PODS, namespace, name)
        for _ in range(5):
            try:
                current = await self.store.get(key)
            except NotFoundError:
                self.view.put(pod, deleted=True)
                return
            if (current.get("status") or {}).get("phase") in choice.TERMINAL:
                self.view.put(current)
                return
            try:
                if (current.get("metadata") or {}).get("deletionTimestamp"):
                    await self.store.delete(key)  # no kubelet will finish its deletion
                    self.view.put(current, deleted=True)
                    return
                status = failed_status(current, format_time(self.clock()))
                updated = await self.store.update(
                    key, dict(current, status=status), status_only=True
                )
            except ConflictError:
                continue
            except NotFoundError:
                return
            except KawaError as err:
                log.warning("node lifecycle: cannot fail pod %s/%s: %s", namespace, name, err)
                return
            self.view.put(updated)
            log.info("pod %s/%s: its node %s is lost", namespace, name, choice.bound_to(current))
            await self.recorder.record(
                updated,
                "Warning",
                NODE_LOST,
                f"Node {choice.bound_to(current)} which was running pod {name} is unresponsive",
            )
            return
