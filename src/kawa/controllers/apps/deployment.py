"""The Deployment controller (Kubernetes' deployment controller, in kawa's shape).

A Deployment controls one ReplicaSet per pod template: ``<deployment>-<hash>``, whose
selector, template and labels carry ``pod-template-hash=<hash>``, with the Deployment's
annotations (``kubernetes.io/change-cause`` among them) and ``deployment.kubernetes.io/
revision``, ``desired-replicas`` and ``max-replicas``. The ReplicaSet of the current template
is the new one; it gets the next revision (also when ``kubectl rollout undo`` brings an old
template back), which the Deployment's own ``revision`` annotation repeats. Then:

- ``RollingUpdate``: the new ReplicaSet grows while all Pods stay within ``replicas +
  maxSurge``; old ones shrink while ``replicas - maxUnavailable`` stay available (their
  unavailable Pods go first) (:mod:`.rollout`);
- ``Recreate``: old ReplicaSets go to 0, and once none of their Pods is left the new one is
  made with every replica;
- ``paused``: nothing is rolled out; a change of ``replicas`` still scales the active
  ReplicaSets;
- old ReplicaSets scaled to 0 beyond ``revisionHistoryLimit`` are deleted, oldest first;
- the status sums the ReplicaSets' numbers; condition ``Available`` is ``True``
  (``MinimumReplicasAvailable``) while ``replicas - maxUnavailable`` Pods are available,
  else ``False`` (``MinimumReplicasUnavailable``, with the reason a Pod of the new
  ReplicaSet is waiting, such as ``ImageNotRunnable``); ``Progressing`` is
  ``NewReplicaSetCreated``, ``ReplicaSetUpdated`` while Pods move, ``NewReplicaSetAvailable``
  once done, ``ProgressDeadlineExceeded`` (``False``) when nothing moved for
  ``progressDeadlineSeconds``, ``DeploymentPaused``/``DeploymentResumed`` (``Unknown``).

Events ``ScalingReplicaSet``. A Deployment being deleted changes nothing (its ReplicaSets are
the garbage collector's). Built by :func:`kawa.controllers.apps.apps_controllers`.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kawa.apis import apps, meta
from kawa.apis.apps import deployment as d_api
from kawa.apis.apps import workload
from kawa.apis.apps.workload import DESIRED_REPLICAS, MAX_REPLICAS, POD_TEMPLATE_HASH, REVISION
from kawa.apis.conditions import Clock
from kawa.controllers.apps import common, rollout
from kawa.controllers.apps import conditions as conds
from kawa.controllers.apps.common import DEPLOYMENTS, PODS, REPLICA_SETS
from kawa.errors import (
    AlreadyExistsError,
    ConflictError,
    NotFoundError,
    TemporaryError,
    ValidationError,
)
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.loop import Controller, LateRequeue, Requeue, Watch, own
from kawa.store.base import Obj, ResourceKey, ResourceStore, WatchEvent

log = logging.getLogger(__name__)


class DeploymentReconciler:
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
            d = await self.store.get(key)
        except NotFoundError:
            return
        if common.deleting(d):
            return
        try:
            parsed = apps.DEPLOYMENT.parse(d)
        except ValidationError as err:
            log.warning("deployment %s/%s is invalid: %s", key.namespace, key.name, err)
            return
        assert isinstance(parsed, d_api.Deployment)
        spec = parsed.spec
        listed = await self.store.list(REPLICA_SETS, key.namespace)
        owned = await self._claim(d, spec, listed.items)
        template = rollout.template_of(d)
        found = rollout.find_new(template, owned)
        new: Obj | None = dict(found) if found is not None else None
        olds = [rs for rs in owned if found is None or rs is not found]
        surge, unavailable = d_api.surge_and_unavailable(spec)
        created_name = ""
        if new is not None:
            new = await self._keep_new_current(d, new, olds, surge)
        if spec.paused:
            await self._scale_paused(d, spec.replicas, surge, new, olds)
        elif spec.strategy.type == "Recreate":
            if await self._old_pods_gone(d, olds, key.namespace):
                if new is None:
                    new = await self._create_new(d, olds, spec.replicas, surge)
                    created_name = str(new["metadata"]["name"])
                elif rollout.replicas(new) != spec.replicas:
                    new = await self._scale(d, new, spec.replicas, spec.replicas, surge)
        else:
            want = rollout.new_replicas(spec.replicas, surge, owned, new)
            if new is None:
                new = await self._create_new(d, olds, want, surge)
                created_name = str(new["metadata"]["name"])
            elif want != rollout.replicas(new):
                new = await self._scale(d, new, want, spec.replicas, surge)
            else:
                for cut in rollout.old_scale_downs(spec.replicas, unavailable, new, olds):
                    rs = next(r for r in olds if r["metadata"]["name"] == cut.name)
                    await self._scale(d, rs, cut.replicas, spec.replicas, surge)
        all_sets = [*([new] if new is not None else []), *olds]
        numbers = rollout.status_numbers(all_sets, new)
        complete = (
            new is not None
            and numbers["updatedReplicas"] == spec.replicas
            and numbers["replicas"] == spec.replicas
            and numbers["availableReplicas"] >= spec.replicas
            and rollout.replicas(new) == spec.replicas
        )
        if complete or spec.paused:
            for old in rollout.to_clean(olds, spec.revision_history_limit):
                await self._delete_old(old)
        problem = None
        if numbers["availableReplicas"] < spec.replicas - unavailable and new is not None:
            problem = await self._pod_problem(new, key.namespace)
        await self._write_status(
            key, d, spec, numbers, new, unavailable, complete, created_name, problem
        )

    # -- ReplicaSets ----------------------------------------------------------------------------

    async def _claim(self, d: Obj, spec: d_api.DeploymentSpec, sets: Sequence[Obj]) -> list[Obj]:
        """The ReplicaSets ``d`` controls, after adopting orphans its selector selects."""
        owned: list[Obj] = []
        for rs in sets:
            ref = common.controller_of(rs)
            if ref is not None:
                if ref.get("uid") == d["metadata"].get("uid"):
                    owned.append(rs)
                continue
            if common.selects(spec.selector, rs) and not common.deleting(rs):
                key = ResourceKey(REPLICA_SETS, meta.namespace_of(rs), rs["metadata"]["name"])
                owned.append(await self._update(key, common.adopted(rs, d)))
        return owned

    async def _update(self, key: ResourceKey, obj: Obj) -> Obj:
        try:
            return await self.store.update(key, obj)
        except (ConflictError, NotFoundError) as err:
            raise TemporaryError(str(err), delay=0.0) from err

    async def _keep_new_current(self, d: Obj, new: Obj, olds: Sequence[Obj], surge: int) -> Obj:
        """The new ReplicaSet with the next revision, the Deployment's annotations and its
        ``minReadySeconds``; the Deployment with the new ReplicaSet's revision."""
        annotations = dict(meta.annotations_of(new))
        wanted = dict(annotations)
        wanted.update(_copied_annotations(d))
        next_revision = max((rollout.revision(rs) for rs in olds), default=0) + 1
        if rollout.revision(new) < next_revision:
            wanted[REVISION] = str(next_revision)
        min_ready = d["spec"].get("minReadySeconds", 0)
        if wanted != annotations or (new.get("spec") or {}).get("minReadySeconds", 0) != min_ready:
            changed = copy.deepcopy(new)
            changed["metadata"]["annotations"] = wanted
            changed["spec"]["minReadySeconds"] = min_ready
            new = await self._update(_key(new), changed)
        await self._set_deployment_revision(d, str(rollout.revision(new)))
        return new

    async def _set_deployment_revision(self, d: Obj, value: str) -> None:
        if meta.annotations_of(d).get(REVISION) == value:
            return
        changed = copy.deepcopy(d)
        changed["metadata"].setdefault("annotations", {})[REVISION] = value
        changed.pop("status", None)
        updated = await self._update(_key(d), changed)
        d["metadata"] = updated["metadata"]

    async def _create_new(self, d: Obj, olds: Sequence[Obj], count: int, surge: int) -> Obj:
        status = d.get("status") or {}
        collisions = int(status.get("collisionCount") or 0)
        template = copy.deepcopy(dict(rollout.template_of(d)))
        digest = workload.template_hash(template, collisions)
        template.setdefault("metadata", {}).setdefault("labels", {})[POD_TEMPLATE_HASH] = digest
        spec = d["spec"]
        selector = copy.deepcopy(spec["selector"])
        selector.setdefault("matchLabels", {})[POD_TEMPLATE_HASH] = digest
        revision = max((rollout.revision(rs) for rs in olds), default=0) + 1
        annotations = {
            **_copied_annotations(d),
            REVISION: str(revision),
            DESIRED_REPLICAS: str(spec["replicas"]),
            MAX_REPLICAS: str(spec["replicas"] + surge),
        }
        name = f"{d['metadata']['name']}-{digest}"
        rs: Obj = {
            "apiVersion": apps.REPLICA_SET.storage_api_version,
            "kind": apps.REPLICA_SET.kind,
            "metadata": {
                "name": name,
                "namespace": meta.namespace_of(d),
                "labels": dict(template["metadata"]["labels"]),
                "annotations": annotations,
                "ownerReferences": [common.owner_reference(d)],
            },
            "spec": {
                "replicas": count,
                "minReadySeconds": spec.get("minReadySeconds", 0),
                "selector": selector,
                "template": template,
            },
        }
        key = ResourceKey(REPLICA_SETS, meta.namespace_of(d), name)
        try:
            created = await self.store.create(key, apps.REPLICA_SET.default(rs))
        except AlreadyExistsError:
            existing = await self.store.get(key)
            same = workload.without_hash(rollout.template_of(existing)) == (
                workload.without_hash(template)
            )
            if common.controlled_by(existing, d) and same:
                return existing
            await self._count_collision(d, collisions + 1)
            raise TemporaryError(
                f"replicaset {name} exists with another template", delay=0.0
            ) from None
        await self._set_deployment_revision(d, str(revision))
        await self.recorder.record(
            d, "Normal", "ScalingReplicaSet", f"Scaled up replica set {name} from 0 to {count}"
        )
        return created

    async def _count_collision(self, d: Obj, count: int) -> None:
        status = dict(d.get("status") or {})
        status["collisionCount"] = count
        try:
            await self.store.update(_key(d), dict(d, status=status), status_only=True)
        except (ConflictError, NotFoundError) as err:
            raise TemporaryError(str(err), delay=0.0) from err

    async def _scale(self, d: Obj, rs: Obj, count: int, desired: int, surge: int) -> Obj:
        before = rollout.replicas(rs)
        changed = copy.deepcopy(rs)
        changed["spec"]["replicas"] = count
        annotations = changed["metadata"].setdefault("annotations", {})
        annotations[DESIRED_REPLICAS] = str(desired)
        annotations[MAX_REPLICAS] = str(desired + surge)
        updated = await self._update(_key(rs), changed)
        direction = "up" if count > before else "down"
        await self.recorder.record(
            d,
            "Normal",
            "ScalingReplicaSet",
            f"Scaled {direction} replica set {rs['metadata']['name']} from {before} to {count}",
        )
        return updated

    async def _scale_paused(
        self, d: Obj, desired: int, surge: int, new: Obj | None, olds: list[Obj]
    ) -> None:
        """A paused Deployment follows ``replicas`` with what runs: the newest active
        ReplicaSet takes the difference (the next ones when it reaches 0)."""
        active = [rs for rs in [*([new] if new is not None else []), *olds] if rollout.replicas(rs)]
        if not active:
            return
        diff = desired - sum(rollout.replicas(rs) for rs in active)
        for rs in sorted(active, key=rollout.created, reverse=True):
            if diff == 0:
                break
            count = max(rollout.replicas(rs) + diff, 0)
            diff -= count - rollout.replicas(rs)
            await self._scale(d, rs, count, desired, surge)

    async def _old_pods_gone(self, d: Obj, olds: Sequence[Obj], namespace: str) -> bool:
        """Recreate: old ReplicaSets are scaled to 0 (now) and none of their Pods is left."""
        for rs in olds:
            if rollout.replicas(rs) != 0:
                await self._scale(d, rs, 0, d["spec"]["replicas"], 0)
        uids = {rs["metadata"].get("uid") for rs in olds}
        if not uids:
            return True
        pods = await self.store.list(PODS, namespace)
        for pod in pods.items:
            ref = common.controller_of(pod)
            phase = (pod.get("status") or {}).get("phase")
            if ref is not None and ref.get("uid") in uids and phase not in common.TERMINAL_PHASES:
                return False
        return True

    async def _delete_old(self, rs: Mapping[str, Any]) -> None:
        try:
            await self.store.delete(_key(rs))
        except NotFoundError:
            return

    async def _pod_problem(self, new: Mapping[str, Any], namespace: str) -> str | None:
        """Why a Pod of the new ReplicaSet waits (its image cannot run...), if one does."""
        pods = await self.store.list(PODS, namespace)
        for pod in pods.items:
            if common.controlled_by(pod, new) and common.pod_active(pod):
                problem = common.waiting_problem(pod)
                if problem is not None:
                    return f"Pod {pod['metadata']['name']}: {problem}"
        return None

    # -- status ---------------------------------------------------------------------------------

    async def _write_status(
        self,
        key: ResourceKey,
        d: Obj,
        spec: d_api.DeploymentSpec,
        numbers: Mapping[str, int],
        new: Mapping[str, Any] | None,
        unavailable: int,
        complete: bool,
        created_name: str,
        problem: str | None,
    ) -> None:
        now = self.clock()
        stored = d.get("status")
        old: dict[str, Any] = stored if isinstance(stored, dict) else {}
        status: dict[str, Any] = {
            "observedGeneration": int(d["metadata"].get("generation") or 1),
            **numbers,
        }
        if old.get("collisionCount"):
            status["collisionCount"] = old["collisionCount"]
        conditions = {
            c["type"]: dict(c)
            for c in old.get("conditions") or []
            if isinstance(c, dict) and isinstance(c.get("type"), str)
        }
        healthy = numbers["availableReplicas"] >= spec.replicas - unavailable
        conds.mark_available(conditions, healthy, problem, now)
        name = str(new["metadata"]["name"]) if new is not None else ""
        delay = conds.mark_progressing(
            conditions,
            old,
            status,
            paused=spec.paused,
            complete=complete,
            name=name,
            created_name=created_name,
            deadline=spec.progress_deadline_seconds,
            now=now,
        )
        if delay is not None:
            self._later(key, delay)
        order = {conds.AVAILABLE: 0, conds.PROGRESSING: 1}
        status["conditions"] = sorted(conditions.values(), key=lambda c: order.get(c["type"], 2))
        if status == old:
            return
        try:
            await self.store.update(key, dict(d, status=status), status_only=True)
        except ConflictError as err:
            raise TemporaryError(str(err), delay=0.0) from err
        except NotFoundError:
            return

    def _later(self, key: ResourceKey, delay: float) -> None:
        """Look at the Deployment again when its progress deadline may have passed."""
        if self._requeue is not None:
            self._requeue(key, delay + 1.0)


def _copied_annotations(d: Mapping[str, Any]) -> dict[str, str]:
    return {k: v for k, v in meta.annotations_of(d).items() if k not in workload.NOT_COPIED}


def _key(obj: Mapping[str, Any]) -> ResourceKey:
    resource = DEPLOYMENTS if obj.get("kind") == d_api.KIND else REPLICA_SETS
    return ResourceKey(resource, meta.namespace_of(obj), str(meta.metadata_of(obj)["name"]))


def deployment_controller(store: ResourceStore, clock: Clock) -> Controller:
    """Watches Deployments, ReplicaSets (a change concerns the controlling Deployment, or
    for an orphan every Deployment of its namespace that selects it) and Pods (their
    ReplicaSet's Deployment: for Recreate and for why Pods wait)."""
    recorder = EventRecorder(store, "deployment-controller", clock=clock)
    requeue = LateRequeue()
    reconciler = DeploymentReconciler(store, clock, recorder, requeue)

    async def of_replicaset(event: WatchEvent) -> Iterable[ResourceKey]:
        rs = event.object
        namespace = meta.namespace_of(rs)
        ref = common.controller_of(rs)
        if ref is not None:
            if ref.get("kind") != d_api.KIND:
                return []
            return [ResourceKey(DEPLOYMENTS, namespace, str(ref.get("name", "")))]
        if event.type == "DELETED":
            return []
        listed = await store.list(DEPLOYMENTS, namespace)
        return [_key(d) for d in listed.items if common.spec_selects(d, common.labels_of(rs))]

    async def of_pod(event: WatchEvent) -> Iterable[ResourceKey]:
        ref = common.controller_of(event.object)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return []
        namespace = meta.namespace_of(event.object)
        try:
            rs = await store.get(ResourceKey(REPLICA_SETS, namespace, str(ref.get("name", ""))))
        except NotFoundError:
            return []
        owner = common.controller_of(rs)
        if owner is None or owner.get("kind") != d_api.KIND:
            return []
        return [ResourceKey(DEPLOYMENTS, namespace, str(owner.get("name", "")))]

    controller = requeue.controller = Controller(
        "deployment",
        store,
        reconciler.reconcile,
        [own(DEPLOYMENTS), Watch(REPLICA_SETS, of_replicaset), Watch(PODS, of_pod)],
    )
    return controller
