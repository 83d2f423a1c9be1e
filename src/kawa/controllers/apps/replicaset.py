"""The ReplicaSet controller (Kubernetes' replicaset controller, in kawa's shape).

A ReplicaSet keeps ``spec.replicas`` active Pods (not being deleted, not finished) that its
selector selects and that it controls:

- Pods it controls are the ones whose controller owner reference names its uid; a Pod that
  matches the selector and has no controller is adopted (its owner reference added), a Pod
  it controls that no longer matches is released;
- too few: Pods are made from the template, named ``<replicaset>-<5 random characters>``,
  with an owner reference to the ReplicaSet (``controller``, ``blockOwnerDeletion``); Event
  ``SuccessfulCreate``; a refused create is condition ``ReplicaFailure`` (``FailedCreate``);
- too many: the extra Pods are deleted, the least useful first (not scheduled, pending, not
  ready, ready the shortest time, most restarted, newest); Event ``SuccessfulDelete``. A Pod
  running on the node is deleted gracefully, as through the API: ``Terminating`` until the
  kubelet has stopped it.

The status counts ``replicas``, ``fullyLabeledReplicas``, ``readyReplicas``,
``availableReplicas`` (Ready for ``minReadySeconds``: the ReplicaSet is looked at again when
the next Pod gets there) and ``observedGeneration``. A ReplicaSet being deleted makes and
deletes nothing (its Pods are the garbage collector's). Built by
:func:`kawa.controllers.apps.apps_controllers`.
"""

from __future__ import annotations

import copy
import logging
import secrets
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any, Final

from kawa.apis import apps, meta
from kawa.apis.apps import replicaset as rs_api
from kawa.apis.apps.workload import random_suffix
from kawa.apis.conditions import Clock, format_time
from kawa.apis.core.pod import default_pod
from kawa.apis.label_selector import LabelSelector
from kawa.controllers.apps import common
from kawa.controllers.apps.common import PODS, REPLICA_SETS
from kawa.errors import (
    AlreadyExistsError,
    ConflictError,
    KawaError,
    NotFoundError,
    TemporaryError,
    ValidationError,
)
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.loop import Controller, LateRequeue, Requeue, Watch, own
from kawa.store.base import Obj, ResourceKey, ResourceStore, WatchEvent

log = logging.getLogger(__name__)

BURST: Final = 100
"""Pods made or deleted at most per reconcile (the next reconcile goes on)."""
MAX_PREFIX: Final = 57
"""A Pod's generated name keeps at most this much of the ReplicaSet's name (as Kubernetes'
``generateName``, so the name stays within 63 characters)."""


def pod_from_template(rs: Mapping[str, Any], name: str) -> Obj:
    """The Pod ``name`` made from the ReplicaSet's template, controlled by it."""
    spec = rs.get("spec") or {}
    template = spec.get("template") or {}
    template_meta = template.get("metadata") or {}
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": meta.namespace_of(rs),
        "ownerReferences": [common.owner_reference(rs)],
    }
    for key in ("labels", "annotations"):
        if template_meta.get(key):
            metadata[key] = copy.deepcopy(template_meta[key])
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }
    return default_pod(pod)


def deletion_rank(pod: Mapping[str, Any]) -> tuple[Any, ...]:
    """Sort key of Pods to delete, the first deleted first (Kubernetes' ``ActivePods``
    order): unscheduled, then pending, then not ready, then ready the shortest time, then
    restarted most, then the newest."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    phase = status.get("phase")
    since = common.ready_since(pod)
    restarts = sum(
        int(c.get("restartCount") or 0)
        for c in status.get("containerStatuses") or []
        if isinstance(c, Mapping)
    )
    created = str(meta.metadata_of(pod).get("creationTimestamp") or "")
    return (
        bool(spec.get("nodeName")),
        {"Pending": 0, "Unknown": 1, "Running": 2}.get(str(phase), 0),
        since is not None,
        -(since.timestamp() if since is not None and since != common.LONG_AGO else 0),
        -restarts,
        tuple(-ord(ch) for ch in created),
    )


class ReplicaSetReconciler:
    def __init__(
        self,
        store: ResourceStore,
        clock: Clock,
        recorder: EventRecorder,
        requeue: Requeue | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.recorder = recorder
        self._requeue = requeue

    async def reconcile(self, key: ResourceKey) -> None:
        try:
            rs = await self.store.get(key)
        except NotFoundError:
            return
        try:
            parsed = apps.REPLICA_SET.parse(rs)
        except ValidationError as err:
            log.warning("replicaset %s/%s is invalid: %s", key.namespace, key.name, err)
            return
        assert isinstance(parsed, rs_api.ReplicaSet)
        spec = parsed.spec
        listed = await self.store.list(PODS, key.namespace)
        owned = await self._claim(rs, spec.selector, listed.items)
        active = [p for p in owned if common.pod_active(p)]
        failure: str | None = None
        if not common.deleting(rs):
            failure = await self._manage(rs, active, spec.replicas)
        await self._write_status(key, rs, spec, active, failure)

    async def _claim(self, rs: Obj, selector: LabelSelector, pods: list[Obj]) -> list[Obj]:
        """The Pods ``rs`` controls, after adopting matching orphans and releasing Pods that
        no longer match (Kubernetes' ControllerRefManager)."""
        owned: list[Obj] = []
        for pod in pods:
            ref = common.controller_of(pod)
            matches = common.selects(selector, pod)
            if ref is not None:
                if ref.get("uid") != rs["metadata"].get("uid"):
                    continue
                if matches or common.deleting(pod):
                    owned.append(pod)
                elif not common.deleting(rs):
                    await self._update_pod(common.released(pod, rs))
                continue
            if matches and not common.deleting(pod) and not common.deleting(rs):
                updated = await self._update_pod(common.adopted(pod, rs))
                if updated is not None:
                    owned.append(updated)
        return owned

    async def _update_pod(self, pod: Obj) -> Obj | None:
        key = ResourceKey(PODS, meta.namespace_of(pod), str(pod["metadata"]["name"]))
        try:
            return await self.store.update(key, pod)
        except NotFoundError:
            return None
        except ConflictError as err:
            raise TemporaryError(str(err), delay=0.0) from err

    async def _manage(self, rs: Obj, active: list[Obj], replicas: int) -> str | None:
        """Create or delete Pods towards ``replicas``; a refused create's message."""
        diff = len(active) - replicas
        namespace = meta.namespace_of(rs)
        if diff < 0:
            for _ in range(min(-diff, BURST)):
                problem = await self._create_pod(rs, namespace)
                if problem is not None:
                    return problem
        elif diff > 0:
            victims = sorted(active, key=deletion_rank)[: min(diff, BURST)]
            for pod in victims:
                name = str(pod["metadata"]["name"])
                if await self._delete_pod(pod):
                    await self.recorder.record(
                        rs, "Normal", "SuccessfulDelete", f"Deleted pod: {name}"
                    )
        return None

    async def _delete_pod(self, pod: Obj) -> bool:
        """Delete ``pod`` as a delete through the API would: a Pod running on the node is
        marked (``deletionTimestamp`` now + its grace period), so it is ``Terminating`` until
        the kubelet has stopped it and removes it; any other Pod goes at once. ``False`` when
        it was gone already."""
        key = ResourceKey(PODS, meta.namespace_of(pod), str(pod["metadata"]["name"]))
        grace = common.graceful_period(pod)
        try:
            if grace is None:
                await self.store.delete(key)
                return True
            marked = copy.deepcopy(pod)
            marked["metadata"]["deletionTimestamp"] = format_time(
                self.clock() + timedelta(seconds=grace)
            )
            marked["metadata"]["deletionGracePeriodSeconds"] = grace
            await self.store.update(key, marked)
            return True
        except NotFoundError:
            return False
        except ConflictError as err:
            raise TemporaryError(str(err), delay=0.0) from err

    async def _create_pod(self, rs: Obj, namespace: str) -> str | None:
        prefix = str(rs["metadata"]["name"])[:MAX_PREFIX]
        for _ in range(3):
            name = f"{prefix}-{random_suffix(secrets.token_bytes(8))}"
            try:
                await self.store.create(
                    ResourceKey(PODS, namespace, name), pod_from_template(rs, name)
                )
            except AlreadyExistsError:
                continue
            except KawaError as err:
                message = f"Error creating: {err}"
                await self.recorder.record(rs, "Warning", "FailedCreate", message)
                return message
            await self.recorder.record(rs, "Normal", "SuccessfulCreate", f"Created pod: {name}")
            return None
        return None

    async def _write_status(
        self,
        key: ResourceKey,
        rs: Obj,
        spec: rs_api.ReplicaSetSpec,
        active: list[Obj],
        failure: str | None,
    ) -> None:
        now = self.clock()
        template_labels = dict((spec.template.metadata and spec.template.metadata.labels) or {})
        ready = available = labelled = 0
        next_check: float | None = None
        for pod in active:
            labels = common.labels_of(pod)
            if all(labels.get(k) == v for k, v in template_labels.items()):
                labelled += 1
            since = common.ready_since(pod)
            if since is None:
                continue
            ready += 1
            due = since + timedelta(seconds=spec.min_ready_seconds)
            if spec.min_ready_seconds == 0 or due <= now:
                available += 1
            else:
                wait = (due - now).total_seconds()
                next_check = wait if next_check is None else min(next_check, wait)
        stored = rs.get("status")
        old = stored if isinstance(stored, dict) else {}
        status: dict[str, Any] = {
            "replicas": len(active),
            "fullyLabeledReplicas": labelled,
            "readyReplicas": ready,
            "availableReplicas": available,
            "observedGeneration": int(rs["metadata"].get("generation") or 1),
        }
        conditions = [
            c
            for c in old.get("conditions") or []
            if isinstance(c, dict) and c.get("type") != rs_api.REPLICA_FAILURE
        ]
        if failure is not None:
            before = next(
                (
                    c
                    for c in old.get("conditions") or []
                    if isinstance(c, dict) and c.get("type") == rs_api.REPLICA_FAILURE
                ),
                None,
            )
            since = before.get("lastTransitionTime") if before else None
            conditions.append(
                {
                    "type": rs_api.REPLICA_FAILURE,
                    "status": "True",
                    "lastTransitionTime": since or format_time(now),
                    "reason": "FailedCreate",
                    "message": failure,
                }
            )
        if conditions:
            status["conditions"] = conditions
        if next_check is not None and self._requeue is not None:
            self._requeue(key, next_check + 0.05)
        if status == old:
            return
        try:
            await self.store.update(key, dict(rs, status=status), status_only=True)
        except ConflictError as err:
            raise TemporaryError(str(err), delay=0.0) from err
        except NotFoundError:
            return


def replicaset_controller(store: ResourceStore, clock: Clock) -> Controller:
    """Watches ReplicaSets and Pods (a Pod's change concerns its controller, or, for an orphan,
    every ReplicaSet of its namespace that selects it)."""
    recorder = EventRecorder(store, "replicaset-controller", clock=clock)
    requeue = LateRequeue()
    reconciler = ReplicaSetReconciler(store, clock, recorder, requeue)

    async def of_pod(event: WatchEvent) -> Iterable[ResourceKey]:
        pod = event.object
        namespace = meta.namespace_of(pod)
        ref = common.controller_of(pod)
        if ref is not None:
            if ref.get("kind") != rs_api.KIND:
                return []
            return [ResourceKey(REPLICA_SETS, namespace, str(ref.get("name", "")))]
        if event.type == "DELETED" or common.deleting(pod):
            return []
        listed = await store.list(REPLICA_SETS, namespace)
        labels = common.labels_of(pod)
        return [
            ResourceKey(REPLICA_SETS, namespace, str(rs["metadata"]["name"]))
            for rs in listed.items
            if common.spec_selects(rs, labels)
        ]

    controller = requeue.controller = Controller(
        "replicaset", store, reconciler.reconcile, [own(REPLICA_SETS), Watch(PODS, of_pod)]
    )
    return controller
