"""The ReplicaSet controller on a real store: Pods made from the template, owned, adopted,
counted and deleted (the not-ready first)."""

from __future__ import annotations

from typing import Any

from kawa.apis.conditions import format_time, system_clock
from kawa.store.base import ResourceKey

from ...waiting import eventually
from .support import NS, PODS, REPLICA_SETS, deployment, running_apps


def replicaset(name: str = "front", replicas: int = 2, **spec: Any) -> dict[str, Any]:
    obj = deployment(name, replicas=replicas, **spec)
    obj["kind"] = "ReplicaSet"
    return obj


def owned_by(uid: str) -> Any:
    return lambda pod: any(r.get("uid") == uid for r in pod["metadata"].get("ownerReferences", []))


async def test_keeps_replicas_and_adopts_orphans() -> None:
    async with running_apps() as apps:
        orphan = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "stray", "namespace": NS, "labels": {"app": "front"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        }
        await apps.create(PODS, orphan)
        rs = await apps.create(REPLICA_SETS, replicaset(replicas=3))
        uid = rs["metadata"]["uid"]
        done = await apps.wait(
            REPLICA_SETS,
            "front",
            lambda o: (o.get("status") or {}).get("availableReplicas") == 3,
        )
        assert done["status"] == {
            "replicas": 3,
            "fullyLabeledReplicas": 3,
            "readyReplicas": 3,
            "availableReplicas": 3,
            "observedGeneration": 1,
        }
        pods = [p for p in await apps.items(PODS) if owned_by(uid)(p)]
        names = sorted(p["metadata"]["name"] for p in pods)
        assert "stray" in names  # adopted, not duplicated
        made = [n for n in names if n != "stray"]
        assert len(made) == 2
        assert all(n.startswith("front-") and len(n) == 11 for n in made)
        ref = pods[0]["metadata"]["ownerReferences"][-1]
        assert ref == {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "front",
            "uid": uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
        made_pod = next(p for p in pods if p["metadata"]["name"] == made[0])
        assert made_pod["metadata"]["labels"] == {"app": "front"}
        assert made_pod["spec"]["restartPolicy"] == "Always"

        await apps.change(REPLICA_SETS, "front", lambda o: o["spec"].update(replicas=1))
        await apps.wait(
            REPLICA_SETS, "front", lambda o: (o.get("status") or {}).get("replicas") == 1
        )

        async def gone() -> bool:
            return len([p for p in await apps.items(PODS) if owned_by(uid)(p)]) == 1

        await eventually(gone)
        events = (await apps.store.list("events", NS)).items
        reasons = {e["reason"] for e in events}
        assert {"SuccessfulCreate", "SuccessfulDelete"} <= reasons


async def test_not_ready_pods_go_first() -> None:
    async with running_apps() as apps:
        await apps.create(REPLICA_SETS, replicaset(replicas=2))
        await apps.wait(
            REPLICA_SETS, "front", lambda o: (o.get("status") or {}).get("readyReplicas") == 2
        )
        pods = await apps.items(PODS)
        victim = pods[0]
        key = ResourceKey(PODS, NS, victim["metadata"]["name"])
        status = dict(victim["status"])
        status["conditions"] = [
            {"type": "Ready", "status": "False", "lastTransitionTime": format_time(system_clock())}
        ]
        await apps.store.update(key, dict(victim, status=status), status_only=True)
        await apps.change(REPLICA_SETS, "front", lambda o: o["spec"].update(replicas=1))
        await apps.wait(
            REPLICA_SETS, "front", lambda o: (o.get("status") or {}).get("replicas") == 1
        )
        left = [p["metadata"]["name"] for p in await apps.items(PODS)]
        assert left == [pods[1]["metadata"]["name"]]


async def test_min_ready_seconds_delays_availability() -> None:
    async with running_apps() as apps:
        await apps.create(REPLICA_SETS, replicaset(replicas=1, minReadySeconds=1))
        ready = await apps.wait(
            REPLICA_SETS, "front", lambda o: (o.get("status") or {}).get("readyReplicas") == 1
        )
        assert ready["status"]["availableReplicas"] in (0, 1)
        await apps.wait(
            REPLICA_SETS, "front", lambda o: (o.get("status") or {}).get("availableReplicas") == 1
        )


async def test_pods_on_the_node_are_deleted_gracefully() -> None:
    async with running_apps() as apps:
        apps.hold_deletions = True
        await apps.create(REPLICA_SETS, replicaset(replicas=2))
        await apps.wait(
            REPLICA_SETS, "front", lambda o: (o.get("status") or {}).get("readyReplicas") == 2
        )
        await apps.change(REPLICA_SETS, "front", lambda o: o["spec"].update(replicas=1))
        done = await apps.wait(
            REPLICA_SETS, "front", lambda o: (o.get("status") or {}).get("replicas") == 1
        )
        assert done["status"]["readyReplicas"] == 1
        pods = await apps.items(PODS)
        assert len(pods) == 2  # one Terminating until its kubelet removes it
        (stopping,) = [p for p in pods if p["metadata"].get("deletionTimestamp")]
        assert stopping["metadata"]["deletionGracePeriodSeconds"] == 30
