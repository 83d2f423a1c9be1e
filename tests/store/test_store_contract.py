"""The ResourceStore contract, run against every backend (file and in-memory SQLite)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kawa.errors import ConflictError, GoneError, NotFoundError
from kawa.store.base import Obj, ResourceKey, ResourceStore, WatchEvent
from kawa.store.sqlite import SqliteResourceStore

BROKERS = "brokers.eventing.knative.dev"


def broker(name: str, ns: str = "default", **spec: object) -> Obj:
    return {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Broker",
        "metadata": {"name": name, "namespace": ns},
        "spec": dict(spec),
    }


@pytest.fixture(params=["file", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ResourceStore]:
    path = str(tmp_path / "store.db") if request.param == "file" else ":memory:"
    s = SqliteResourceStore(path)
    yield s
    await s.close()


async def test_create_sets_bookkeeping_metadata(store: ResourceStore) -> None:
    key = ResourceKey(BROKERS, "default", "b1")
    created = await store.create(key, broker("b1"))
    meta = created["metadata"]
    assert meta["generation"] == 1
    assert meta["uid"]
    assert meta["creationTimestamp"].endswith("Z")
    assert int(meta["resourceVersion"]) >= 1
    assert await store.get(key) == created
    with pytest.raises(ConflictError):
        await store.create(key, broker("b1"))


async def test_get_and_delete_missing_raise_not_found(store: ResourceStore) -> None:
    key = ResourceKey(BROKERS, "default", "nope")
    with pytest.raises(NotFoundError):
        await store.get(key)
    with pytest.raises(NotFoundError):
        await store.delete(key)
    with pytest.raises(NotFoundError):
        await store.update(key, broker("nope"))


async def test_update_bumps_generation_only_for_spec_changes(store: ResourceStore) -> None:
    key = ResourceKey(BROKERS, "default", "b1")
    created = await store.create(key, broker("b1"))
    labelled = broker("b1")
    labelled["metadata"]["labels"] = {"a": "b"}
    after_label = await store.update(key, labelled)
    assert after_label["metadata"]["generation"] == 1
    assert int(after_label["metadata"]["resourceVersion"]) > int(
        created["metadata"]["resourceVersion"]
    )
    after_spec = await store.update(key, broker("b1", config={"x": 1}))
    assert after_spec["metadata"]["generation"] == 2
    assert after_spec["metadata"]["uid"] == created["metadata"]["uid"]


async def test_stale_resource_version_conflicts(store: ResourceStore) -> None:
    key = ResourceKey(BROKERS, "default", "b1")
    created = await store.create(key, broker("b1"))
    stale = dict(created, spec={"a": 1})
    await store.update(key, stale)
    with pytest.raises(ConflictError, match="modified"):
        await store.update(key, dict(created, spec={"a": 2}))


async def test_status_updates_touch_only_status(store: ResourceStore) -> None:
    key = ResourceKey(BROKERS, "default", "b1")
    created = await store.create(key, broker("b1", config={"k": "v"}))
    attempt = dict(created, spec={"changed": True}, status={"conditions": []})
    updated = await store.update(key, attempt, status_only=True)
    assert updated["spec"] == {"config": {"k": "v"}}
    assert updated["status"] == {"conditions": []}
    # and a spec update keeps the status as stored
    again = await store.update(key, broker("b1", config={"k": "w"}))
    assert again["status"] == {"conditions": []}


async def test_list_by_namespace(store: ResourceStore) -> None:
    for ns, name in [("a", "x"), ("a", "y"), ("b", "x")]:
        await store.create(ResourceKey(BROKERS, ns, name), broker(name, ns))
    everything = await store.list(BROKERS)
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in everything.items] == [
        ("a", "x"),
        ("a", "y"),
        ("b", "x"),
    ]
    assert len((await store.list(BROKERS, "a")).items) == 2
    assert (await store.list("triggers.eventing.knative.dev")).items == []


async def _collect(it: AsyncIterator[WatchEvent], n: int) -> list[WatchEvent]:
    out = []
    async for event in it:
        out.append(event)
        if len(out) == n:
            break
    return out


async def test_watch_sees_live_changes_in_order(store: ResourceStore) -> None:
    watch = store.watch(BROKERS, "default")
    task = asyncio.create_task(_collect(watch, 3))
    await asyncio.sleep(0)
    key = ResourceKey(BROKERS, "default", "b1")
    await store.create(ResourceKey(BROKERS, "other", "ignored"), broker("ignored", "other"))
    await store.create(key, broker("b1"))
    await store.update(key, broker("b1", x=1))
    await store.delete(key)
    events = await asyncio.wait_for(task, 5)
    assert [e.type for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert all(e.object["metadata"]["name"] == "b1" for e in events)
    rvs = [e.resource_version for e in events]
    assert rvs == sorted(rvs)


async def test_watch_resumes_from_resource_version(store: ResourceStore) -> None:
    key = ResourceKey(BROKERS, "default", "b1")
    created = await store.create(key, broker("b1"))
    since = int(created["metadata"]["resourceVersion"])
    await store.update(key, broker("b1", x=1))
    await store.delete(key)
    events = await asyncio.wait_for(_collect(store.watch(BROKERS, since=since), 2), 5)
    assert [e.type for e in events] == ["MODIFIED", "DELETED"]


async def test_file_store_survives_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    first = SqliteResourceStore(path)
    key = ResourceKey(BROKERS, "default", "b1")
    created = await first.create(key, broker("b1"))
    await first.close()
    second = SqliteResourceStore(path)
    try:
        assert await second.get(key) == created
        again = await second.create(ResourceKey(BROKERS, "default", "b2"), broker("b2"))
        assert int(again["metadata"]["resourceVersion"]) > int(
            created["metadata"]["resourceVersion"]
        )
    finally:
        await second.close()


async def test_watch_from_trimmed_history_is_gone(tmp_path: Path) -> None:
    s = SqliteResourceStore(str(tmp_path / "s.db"), history=10)
    try:
        key = ResourceKey(BROKERS, "default", "b1")
        await s.create(key, broker("b1"))
        for i in range(1100):
            await s.update(key, broker("b1", i=i))
        with pytest.raises(GoneError):
            await _collect(s.watch(BROKERS, since=1), 1)
    finally:
        await s.close()


async def test_update_without_resource_version_that_changes_nothing_is_a_no_op(
    store: ResourceStore,
) -> None:
    key = ResourceKey(BROKERS, "default", "b1")
    created = await store.create(key, broker("b1", config={"k": "v"}))
    same = await store.update(key, broker("b1", config={"k": "v"}))
    assert same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
