"""The garbage collector on a real SQLite store: dependents go with their owners (by uid,
through chains, unless another owner lives), ``Orphan`` and ``Foreground`` deletions as
Kubernetes carries them out (``blockOwnerDeletion``), what was left while kawa was down, and
the index of dependents by owner uid.

Deletions are made as the API server makes them: the propagation policy's finalizer
(:func:`kawa.store.finalizers.for_propagation`), then the store's delete."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from kawa.controllers.garbage_collector import GarbageCollector, garbage_collector
from kawa.controllers.garbage_collector.graph import Graph
from kawa.errors import NotFoundError
from kawa.store import finalizers
from kawa.store.base import Obj, ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ..waiting import eventually

NS = "default"
CM = "configmaps"
HOLD = "example.com/hold"


def key(name: str, resource: str = CM, ns: str = NS) -> ResourceKey:
    return ResourceKey(resource, ns, name)


def ref(owner: Obj, *, block: bool = False) -> dict[str, Any]:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        **({"blockOwnerDeletion": True} if block else {}),
    }


async def configmap(
    store: SqliteResourceStore, name: str, *owners: dict[str, Any], ns: str = NS, **meta: Any
) -> Obj:
    metadata: dict[str, Any] = {"name": name, "namespace": ns, **meta}
    if owners:
        metadata["ownerReferences"] = list(owners)
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"a": "b"}}
    return await store.create(key(name, ns=ns), obj)


async def pod(store: SqliteResourceStore, name: str, *owners: dict[str, Any]) -> Obj:
    obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "ownerReferences": list(owners)},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    return await store.create(key(name, "pods"), obj)


async def delete(store: SqliteResourceStore, at: ResourceKey, policy: str | None = None) -> None:
    """Delete as the API server does with ``propagationPolicy: policy``."""
    current = await store.get(at)
    wanted = finalizers.for_propagation(current, policy, None)
    if wanted is not None:
        current["metadata"]["finalizers"] = wanted
        current = await store.update(at, current)
    await store.delete(at)


async def exists(store: SqliteResourceStore, at: ResourceKey) -> Obj | None:
    try:
        return await store.get(at)
    except NotFoundError:
        return None


async def gone(store: SqliteResourceStore, *keys: ResourceKey) -> None:
    async def check() -> bool:
        return all([await exists(store, k) is None for k in keys])

    await eventually(check, 10.0, f"{keys} still exist")


async def settled(gc: GarbageCollector) -> None:
    """The collector has nothing left to do (a later change would queue new work)."""

    async def idle() -> bool:
        await asyncio.sleep(0.05)
        return gc.queue_idle

    await eventually(idle, 10.0, "the collector never went idle")


@contextlib.asynccontextmanager
async def collecting(store: SqliteResourceStore) -> AsyncIterator[GarbageCollector]:
    gc = garbage_collector(store)
    task = asyncio.create_task(gc.run(), name="garbage-collector")
    try:
        await asyncio.wait_for(gc.synced.wait(), 10.0)
        yield gc
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@contextlib.asynccontextmanager
async def running() -> AsyncIterator[tuple[SqliteResourceStore, GarbageCollector]]:
    store = SqliteResourceStore(":memory:")
    try:
        async with collecting(store) as gc:
            yield store, gc
    finally:
        await store.close()


async def test_background_deletion_follows_a_chain_of_three() -> None:
    async with running() as (store, gc):
        top = await configmap(store, "top")
        middle = await configmap(store, "middle", ref(top))
        await pod(store, "bottom", ref(middle))
        bystander = await configmap(store, "bystander")
        await configmap(store, "of-bystander", ref(bystander))
        await settled(gc)

        await delete(store, key("top"), finalizers.BACKGROUND_POLICY)
        await gone(store, key("middle"), key("bottom", "pods"))
        await settled(gc)
        assert await exists(store, key("bystander"))
        assert await exists(store, key("of-bystander"))


async def test_one_live_owner_keeps_a_dependent_and_the_dead_reference_goes() -> None:
    async with running() as (store, _gc):
        first = await configmap(store, "first")
        second = await configmap(store, "second")
        await configmap(store, "shared", ref(first), ref(second))
        await delete(store, key("first"))

        async def only_second() -> bool:
            shared = await store.get(key("shared"))
            return bool(shared["metadata"].get("ownerReferences") == [ref(second)])

        await eventually(only_second, 10.0, "the reference to the deleted owner stayed")
        await delete(store, key("second"))
        await gone(store, key("shared"))


async def test_owners_are_matched_by_uid_namespace_and_scope() -> None:
    async with running() as (store, gc):
        owner = await configmap(store, "owner")
        stale = dict(ref(owner), uid="an-older-owner")
        await configmap(store, "of-an-older-owner", stale)
        await configmap(store, "in-another-namespace", ref(owner), ns="kube-public")
        unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "name": "w", "uid": "u"}
        await configmap(store, "of-an-unknown-kind", unknown)
        malformed = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner"}
        await configmap(store, "without-uid", malformed)
        role = await store.create(
            ResourceKey("clusterroles.rbac.authorization.k8s.io", "", "role"),
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": "role"},
                "rules": [],
            },
        )
        await configmap(store, "of-a-cluster-owner", ref(role))
        await configmap(store, "of-the-owner", ref(owner))

        # same name, other uid; a namespaced owner of another namespace: absent owners
        await gone(store, key("of-an-older-owner"), key("in-another-namespace", ns="kube-public"))
        await settled(gc)
        for kept in ("of-an-unknown-kind", "without-uid", "of-a-cluster-owner", "of-the-owner"):
            assert await exists(store, key(kept)), kept
        await store.delete(ResourceKey("clusterroles.rbac.authorization.k8s.io", "", "role"))
        await gone(store, key("of-a-cluster-owner"))


async def test_orphan_keeps_the_dependents_without_the_reference() -> None:
    async with running() as (store, gc):
        owner = await configmap(store, "owner")
        other = await configmap(store, "other")
        await configmap(store, "child", ref(owner, block=True))
        await configmap(store, "shared", ref(owner), ref(other))
        await pod(store, "grandchild", ref(await store.get(key("child"))))

        await delete(store, key("owner"), finalizers.ORPHAN_POLICY)
        await gone(store, key("owner"))
        await settled(gc)
        child = await store.get(key("child"))
        assert "ownerReferences" not in child["metadata"]
        shared = await store.get(key("shared"))
        assert shared["metadata"]["ownerReferences"] == [ref(other)]
        assert await exists(store, key("grandchild", "pods"))


async def test_foreground_waits_for_blocking_dependents_recursively() -> None:
    async with running() as (store, gc):
        owner = await configmap(store, "owner")
        held = await configmap(store, "held", ref(owner, block=True), finalizers=[HOLD])
        await pod(store, "of-held", ref(held, block=True))
        await configmap(store, "loose", ref(owner))

        await delete(store, key("owner"), finalizers.FOREGROUND_POLICY)
        await gone(store, key("loose"), key("of-held", "pods"))
        # "held" was deleted in the foreground (it had a dependent), which is gone: only its
        # own finalizer keeps it; the owner waits for it, visible, with its deletion mark

        async def only_held() -> Obj | None:
            held_now = await store.get(key("held"))
            return held_now if held_now["metadata"].get("finalizers") == [HOLD] else None

        held_now = await eventually(only_held, 10.0, "held kept foregroundDeletion")
        assert held_now["metadata"]["deletionTimestamp"]
        await settled(gc)
        owner_now = await store.get(key("owner"))
        assert owner_now["metadata"]["finalizers"] == [finalizers.FOREGROUND]
        assert owner_now["metadata"]["deletionTimestamp"]

        released = copy.deepcopy(held_now)
        del released["metadata"]["finalizers"]
        await store.update(key("held"), released)
        await gone(store, key("held"), key("owner"))


async def test_foreground_without_blocking_dependents_finishes_at_once() -> None:
    async with running() as (store, _gc):
        owner = await configmap(store, "owner")
        await configmap(store, "loose", ref(owner))
        await delete(store, key("owner"), finalizers.FOREGROUND_POLICY)
        await gone(store, key("owner"), key("loose"))


async def test_what_was_left_while_kawa_was_down_is_done_at_start(tmp_path: Path) -> None:
    path = str(tmp_path / "resources.db")
    store = SqliteResourceStore(path)
    owner = await configmap(store, "owner")
    await configmap(store, "child", ref(owner))
    orphaning = await configmap(store, "orphaning")
    await configmap(store, "kept", ref(orphaning))
    waiting = await configmap(store, "waiting")
    await configmap(store, "blocking", ref(waiting, block=True))
    await delete(store, key("owner"))
    await delete(store, key("orphaning"), finalizers.ORPHAN_POLICY)
    await delete(store, key("waiting"), finalizers.FOREGROUND_POLICY)
    await store.close()

    store = SqliteResourceStore(path)
    try:
        async with collecting(store) as gc:
            await gone(store, key("child"), key("orphaning"), key("blocking"), key("waiting"))
            await settled(gc)
            kept = await store.get(key("kept"))
            assert "ownerReferences" not in kept["metadata"]
    finally:
        await store.close()


def test_the_graph_indexes_dependents_by_owner_uid() -> None:
    graph = Graph()
    owner = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "o", "uid": "u-o"}}
    dependent = {
        "metadata": {"name": "d", "uid": "u-d", "ownerReferences": [ref(owner, block=True)]}
    }
    before, after = graph.observe(key("d"), dependent)
    assert before is None
    assert after is not None
    assert after.owners[0].block
    assert [n.key for n in graph.dependents("u-o")] == [key("d")]
    # references without a uid name no owner; an object without owners has no node
    dependent["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "ConfigMap"}]
    assert graph.observe(key("d"), dependent) == (after, None)
    assert not graph.has_dependents("u-o")
    assert len(graph) == 0
    dependent["metadata"]["ownerReferences"] = [ref(owner)]
    graph.observe(key("d"), dependent)
    assert [n.uid for n in graph.forget_missing(CM, ["u-other"])] == ["u-d"]
    assert graph.dependents("u-o") == []


async def test_a_cycle_of_blocking_owners_is_broken_in_the_foreground() -> None:
    async with running() as (store, _gc):
        first = await configmap(store, "first")
        second = await configmap(store, "second", ref(first, block=True))
        first["metadata"]["ownerReferences"] = [ref(second, block=True)]
        await store.update(key("first"), first)
        await delete(store, key("first"), finalizers.FOREGROUND_POLICY)
        await gone(store, key("first"), key("second"))
