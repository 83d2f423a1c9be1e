"""The scheduler: binds each Pod without a node to a Ready node (``spec.nodeName``).

Runs on the leader (one scheduler across the nodes sharing a store). Woken by every change
the :class:`~kawa.controllers.nodes.view.ClusterView` sees (a new Pod, a Node, a Lease
renewal), it takes the unbound Pods (not being deleted, not finished, ``schedulerName``
empty or ``default-scheduler``) oldest first and places each with
:func:`kawa.controllers.nodes.choice.choose` among the nodes whose ``Ready`` condition is
``True`` and whose heartbeat Lease is alive. A bound Pod gets the ``PodScheduled``
condition and a ``Scheduled`` Event ("Successfully assigned ns/name to node"), as from
Kubernetes' ``default-scheduler``; the node's kubelet runs it. A Pod that fits nowhere gets
``PodScheduled=False`` (reason ``Unschedulable``, "0/2 nodes are available: ...") and a
``FailedScheduling`` Event, and is tried again at the next change.

The binding is an update of ``spec.nodeName`` at the Pod's ``resourceVersion``: a Pod changed
meanwhile is read again at the next pass, never bound twice.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any, Final

from kawa.apis.conditions import Clock
from kawa.apis.core import pod_status as ps
from kawa.controllers.nodes import choice
from kawa.controllers.nodes.view import PODS, ClusterView, key_of
from kawa.errors import ConflictError, KawaError, NotFoundError
from kawa.reconciler.events import EventRecorder
from kawa.store.base import Obj, ResourceKey, ResourceStore

log = logging.getLogger(__name__)

SCHEDULER: Final = "default-scheduler"
RETRY: Final = 5.0
"""Seconds before an unschedulable Pod is tried again when nothing changed meanwhile."""


def pending(pod: Obj) -> bool:
    """A Pod the scheduler places: unbound, alive, for this scheduler."""
    spec = pod.get("spec") or {}
    meta = pod.get("metadata") or {}
    return (
        not spec.get("nodeName")
        and not meta.get("deletionTimestamp")
        and (pod.get("status") or {}).get("phase") not in choice.TERMINAL
        and spec.get("schedulerName") in (None, "", SCHEDULER)
    )


def _order(pod: Obj) -> tuple[str, str, str]:
    meta = pod.get("metadata") or {}
    return (str(meta.get("creationTimestamp") or ""), *key_of(pod))


class Scheduler:
    """Binds unbound Pods to nodes (see the module docstring)."""

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
        self.recorder = EventRecorder(store, SCHEDULER, clock=clock)
        self._unschedulable: dict[tuple[str, str], str] = {}

    def candidates(self) -> tuple[list[choice.NodeLoad], int]:
        """The schedulable nodes' loads, and how many nodes are not schedulable."""
        now = self.monotonic()
        ready = [
            node
            for name, node in self.view.nodes.items()
            if choice.node_ready(node) and self.view.health.alive(name, now)
        ]
        loads = choice.loads(ready, self.view.pods.values())
        return loads, len(self.view.nodes) - len(ready)

    async def schedule_pending(self) -> bool:
        """One pass over the unbound Pods; whether one is left unschedulable."""
        left = False
        for pod in sorted((p for p in self.view.pods.values() if pending(p)), key=_order):
            loads, not_ready = self.candidates()
            node = choice.choose(pod, loads)
            if node is None:
                left = True
                message = choice.unschedulable_message(pod, len(self.view.nodes), not_ready, loads)
                await self._unschedulable_pod(pod, message)
                continue
            await self._bind(pod, node)
        return left

    async def _bind(self, pod: Obj, node: str) -> None:
        namespace, name = key_of(pod)
        key = ResourceKey(PODS, namespace, name)
        obj = copy.deepcopy(pod)
        obj.setdefault("spec", {})["nodeName"] = node
        try:
            bound = await self.store.update(key, obj)
        except (ConflictError, NotFoundError):
            return  # changed meanwhile: the watch brings it back for the next pass
        except KawaError as err:
            log.warning("scheduler: cannot bind pod %s/%s: %s", namespace, name, err)
            return
        self.view.put(bound)
        self._unschedulable.pop((namespace, name), None)
        await self._write_condition(key, lambda s: _scheduled(s, self.clock))
        await self.recorder.record(
            bound, "Normal", "Scheduled", f"Successfully assigned {namespace}/{name} to {node}"
        )

    async def _unschedulable_pod(self, pod: Obj, message: str) -> None:
        namespace, name = key_of(pod)
        if self._unschedulable.get((namespace, name)) == message:
            return
        self._unschedulable[(namespace, name)] = message
        log.info("scheduler: pod %s/%s: %s", namespace, name, message)
        key = ResourceKey(PODS, namespace, name)

        def mark(status: dict[str, Any]) -> None:
            ps.POD_CONDITIONS.mark_false(
                status, ps.POD_SCHEDULED, "Unschedulable", message, clock=self.clock
            )
            status.setdefault("phase", "Pending")

        await self._write_condition(key, mark)
        await self.recorder.record(pod, "Warning", "FailedScheduling", message)

    async def _write_condition(
        self, key: ResourceKey, change: Callable[[dict[str, Any]], None]
    ) -> None:
        for _ in range(5):
            try:
                current = await self.store.get(key)
            except NotFoundError:
                return
            status = copy.deepcopy(current.get("status") or {})
            change(status)
            if status == current.get("status"):
                return
            try:
                self.view.put(
                    await self.store.update(key, dict(current, status=status), status_only=True)
                )
                return
            except ConflictError:
                continue
            except (NotFoundError, KawaError) as err:
                log.debug("scheduler: status of %s/%s: %s", key.namespace, key.name, err)
                return

    def forget(self, namespace: str, name: str) -> None:
        self._unschedulable.pop((namespace, name), None)


def _scheduled(status: dict[str, Any], clock: Clock) -> None:
    ps.POD_CONDITIONS.mark_true(status, ps.POD_SCHEDULED, clock=clock)
    status.setdefault("phase", "Pending")
