"""The leader's scheduler and node lifecycle controller on a real store: Pods bound to live
Ready nodes as they come (Events and conditions as Kubernetes'), a node whose Lease stops
being renewed marked NotReady and its Pods failed ``NodeLost``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from kawa.controllers.nodes import NodeControllers
from kawa.coordination.node_lease import NodeLease
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ...waiting import eventually

GRACE = 1.5


def node(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "spec": {},
        "status": {
            "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
        },
    }


def pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }


@contextlib.asynccontextmanager
async def cluster(*names: str) -> AsyncIterator[tuple[SqliteResourceStore, dict[str, Any]]]:
    """A store with Ready nodes ``names`` renewing their Leases, and the leader's controllers
    (the leader is ``names[0]``); the renewing tasks by node name (cancel one: it dies)."""
    store = SqliteResourceStore(":memory:")
    beats: dict[str, Any] = {}
    for name in names:
        await store.create(ResourceKey("nodes", "", name), node(name))
        lease = NodeLease(store, name, interval=0.2, duration=2)
        beats[name] = asyncio.create_task(lease.run())
    controllers = asyncio.create_task(NodeControllers(store, me=names[0], grace_period=GRACE).run())
    try:
        yield store, beats
    finally:
        for task in [controllers, *beats.values()]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await store.close()


async def bound(store: SqliteResourceStore, name: str) -> str | None:
    got = await store.get(ResourceKey("pods", "default", name))
    return got["spec"].get("nodeName") or None


async def bound_soon(store: SqliteResourceStore, name: str, timeout: float = 5.0) -> str:
    async def probe() -> str | None:
        return await bound(store, name)

    return await eventually(probe, timeout, f"pod {name} never bound")


async def test_pods_spread_over_the_ready_nodes_with_kubernetes_events() -> None:
    async with cluster("a", "b") as (store, _):
        for name in ("p1", "p2", "p3", "p4"):
            await store.create(ResourceKey("pods", "default", name), pod(name))
        placed = [await bound_soon(store, n) for n in ("p1", "p2", "p3", "p4")]
        assert sorted(placed) == ["a", "a", "b", "b"]

        async def scheduled() -> dict[str, Any] | None:
            got = await store.get(ResourceKey("pods", "default", "p1"))
            conditions = {c["type"]: c for c in got.get("status", {}).get("conditions", [])}
            return got if conditions.get("PodScheduled", {}).get("status") == "True" else None

        await eventually(scheduled, 5.0)
        events = (await store.list("events", "default")).items
        # (a FailedScheduling may come first, while a node is not Ready yet on a busy machine)
        [event] = [
            e for e in events if e["involvedObject"]["name"] == "p1" and e["reason"] == "Scheduled"
        ]
        assert event["reason"] == "Scheduled"
        assert event["source"]["component"] == "default-scheduler"
        assert event["message"] == f"Successfully assigned default/p1 to {placed[0]}"


async def test_no_ready_node_leaves_the_pod_pending_until_one_is() -> None:
    async with cluster("a") as (store, _):
        key = ResourceKey("nodes", "", "a")
        tired = await store.get(key)
        tired["status"]["conditions"][0]["status"] = "False"
        await store.update(key, tired, status_only=True)
        await store.create(ResourceKey("pods", "default", "p"), pod("p"))

        async def unschedulable() -> str | None:
            got = await store.get(ResourceKey("pods", "default", "p"))
            for condition in got.get("status", {}).get("conditions", []):
                if condition["type"] == "PodScheduled" and condition["status"] == "False":
                    return str(condition["message"])
            return None

        message = await eventually(unschedulable, 5.0)
        assert message == "0/1 nodes are available: 1 node(s) were not ready."
        assert await bound(store, "p") is None
        ready = await store.get(key)
        ready["status"]["conditions"][0]["status"] = "True"
        await store.update(key, ready, status_only=True)
        assert await bound_soon(store, "p") == "a"


async def test_a_node_that_stops_renewing_is_lost_and_its_pods_fail() -> None:
    async with cluster("a", "b") as (store, beats):
        for name in ("p1", "p2"):
            await store.create(ResourceKey("pods", "default", name), pod(name))
        placed = {n: await bound_soon(store, n) for n in ("p1", "p2")}
        [on_b] = [name for name, where in placed.items() if where == "b"]
        beats["b"].cancel()  # b dies

        async def failed() -> dict[str, Any] | None:
            got = await store.get(ResourceKey("pods", "default", on_b))
            return got if got.get("status", {}).get("phase") == "Failed" else None

        lost = await eventually(failed, GRACE + 5.0)
        assert lost["status"]["reason"] == "NodeLost"
        assert lost["status"]["message"] == f"Node b which was running pod {on_b} is unresponsive"
        # a disruption, as Kubernetes' node lifecycle controller says it: a Job may ignore it
        [disrupted] = [c for c in lost["status"]["conditions"] if c["type"] == "DisruptionTarget"]
        assert (disrupted["status"], disrupted["reason"]) == ("True", "DeletionByTaintManager")
        b = await store.get(ResourceKey("nodes", "", "b"))
        [ready] = b["status"]["conditions"]
        assert (ready["status"], ready["reason"]) == ("Unknown", "NodeStatusUnknown")
        [on_a] = [name for name in placed if name != on_b]
        still = await store.get(ResourceKey("pods", "default", on_a))
        assert still.get("status", {}).get("phase") != "Failed"
        # a new Pod goes to the live node only
        await store.create(ResourceKey("pods", "default", "p3"), pod("p3"))
        assert await bound_soon(store, "p3") == "a"
