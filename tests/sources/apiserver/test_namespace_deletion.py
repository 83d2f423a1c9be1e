"""An ApiServerSource whose namespaceSelector selects a namespace that is then deleted sends a
``delete`` for each object it had announced there (a Kubernetes watch delivers their DELETED
events while the namespace is torn down), even though the namespace leaves
``status.namespaces`` first; a namespace merely unlabelled sends nothing. Real SQLite store,
kawa's namespace controller (which deletes a deleted namespace's objects), the source's
controller and adapters."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from kawa.controllers.namespaces import namespace_controller
from kawa.sources.apiserver import adapter
from kawa.sources.apiserver.state import STATES
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ...waiting import eventually
from .support import (
    SOURCES,
    Subscriber,
    cluster_grant,
    namespace,
    put,
    remove,
    running_sources,
    service_account,
    source,
    subscriber,
    wait_condition,
)

PROD = {"env": "prod"}


def config_map(name: str, ns: str, app: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": app}},
        "data": {"name": name},
    }


def web_source(sink_url: str) -> dict[str, Any]:
    selector = {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]}
    obj: dict[str, Any] = source(
        "s",
        {"uri": sink_url},
        [{"apiVersion": "v1", "kind": "ConfigMap", "selector": selector}],
        namespaceSelector={"matchLabels": PROD},
        mode="Resource",
    )
    return obj


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteResourceStore]:
    store = SqliteResourceStore(str(tmp_path / "resources.db"))
    await put(store, namespace("default"))
    await put(store, service_account("watcher"))
    for obj in cluster_grant(["configmaps"]):
        await put(store, obj)
    await put(store, namespace("del-y", PROD))
    await put(store, namespace("keep", PROD))
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def sub() -> AsyncIterator[Subscriber]:
    async with subscriber() as s:
        yield s


@contextlib.asynccontextmanager
async def namespaces_torn_down(store: SqliteResourceStore) -> AsyncIterator[None]:
    """kawa's namespace controller: deleting a namespace deletes every object in it."""
    task = asyncio.create_task(namespace_controller(store).run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def gone_from_the_store(store: SqliteResourceStore, name: str) -> None:
    """Namespace ``name`` leaves the store with its objects still there: deleted (marked) and
    its ``kubernetes`` finalizer taken away at once, as no namespace controller would."""
    marked = await remove(store, namespace(name))
    await store.update(ResourceKey("namespaces", "", name), {**marked, "spec": {"finalizers": []}})


async def watched(store: SqliteResourceStore) -> list[str]:
    obj = await store.get(ResourceKey(SOURCES, "default", "s"))
    return list((obj.get("status") or {}).get("namespaces") or [])


async def streams_in(store: SqliteResourceStore) -> list[str]:
    (obj,) = (await store.list(STATES)).items
    return sorted(obj["streams"])


def drained(store: SqliteResourceStore) -> Callable[[], Awaitable[bool]]:
    """A check: only the stream of "keep" is left in the source's state (the stream of
    del-y was drained, or stopped)."""

    async def only_keep() -> bool:
        return [s.split("@")[1].split("#")[0] for s in await streams_in(store)] == ["keep"]

    return only_keep


async def test_deleting_a_selected_namespace_sends_delete_for_its_objects(
    store: SqliteResourceStore, sub: Subscriber, tmp_path: Path
) -> None:
    y1 = await put(store, config_map("y1", "del-y", "web"))
    await put(store, config_map("y2", "del-y", "db"))  # not selected: never announced
    await put(store, config_map("k1", "keep", "api"))
    await put(store, web_source(sub.url))
    async with namespaces_torn_down(store), running_sources(store, tmp_path):
        await wait_condition(store, "s", "True")
        await sub.wait_for(2)
        assert await watched(store) == ["del-y", "keep"]
        await remove(store, namespace("del-y"))
        await sub.wait_for(3)
        # drained: only the stream of "keep" is left in the state
        await eventually(drained(store), message="the stream of del-y was never drained")
        assert await watched(store) == ["keep"]
    assert sorted(sub.summary()[:2]) == [
        ("dev.knative.apiserver.resource.add", "k1"),
        ("dev.knative.apiserver.resource.add", "y1"),
    ]
    deleted = sub.events[2]
    assert deleted.type == "dev.knative.apiserver.resource.delete"
    assert deleted.get("subject") == "/apis/v1/namespaces/del-y/configmaps/y1"
    assert deleted.get("namespace") == "del-y"
    data = sub.data(2)  # the object's last state, as a watch's DELETED event carries it
    assert data["metadata"]["uid"] == y1["metadata"]["uid"]
    assert data["data"] == {"name": "y1"}


async def test_an_unlabelled_namespace_is_no_longer_watched_and_sends_nothing(
    store: SqliteResourceStore, sub: Subscriber, tmp_path: Path
) -> None:
    await put(store, config_map("y1", "del-y", "web"))
    await put(store, web_source(sub.url))
    async with namespaces_torn_down(store), running_sources(store, tmp_path):
        await wait_condition(store, "s", "True")
        await sub.wait_for(1)
        await put(store, namespace("del-y", {}))

        async def left() -> bool:
            return await watched(store) == ["keep"]

        await eventually(left, message="del-y never left status.namespaces")
        # its stream is stopped: only the stream of "keep" is left in the state
        await eventually(drained(store), message="del-y is still watched")
        await remove(store, config_map("y1", "del-y", "web"))
    assert sub.summary() == [("dev.knative.apiserver.resource.add", "y1")]


async def test_a_namespace_deleted_while_kawa_is_down_is_drained_after_the_restart(
    store: SqliteResourceStore, sub: Subscriber, tmp_path: Path
) -> None:
    await put(store, config_map("y1", "del-y", "web"))
    await put(store, web_source(sub.url))
    async with running_sources(store, tmp_path):
        await wait_condition(store, "s", "True")
        await sub.wait_for(1)
    # kawa is down: the namespace goes, its objects are not removed yet
    await gone_from_the_store(store, "del-y")
    async with running_sources(store, tmp_path):

        async def left() -> bool:
            return await watched(store) == ["keep"]

        await eventually(left, message="del-y never left status.namespaces")
        assert len(sub.events) == 1  # y1 still exists: nothing yet (its last state below)
        await put(store, {**config_map("y1", "del-y", "web"), "data": {"v": "2"}})
        await remove(store, config_map("y1", "del-y", "web"))
        await sub.wait_for(2)
        await eventually(drained(store), message="the stream of del-y was never drained")
    assert len(sub.events) == 2
    assert sub.summary()[1] == ("dev.knative.apiserver.resource.delete", "y1")
    assert sub.data(1)["data"] == {"v": "2"}  # its last state


async def test_objects_that_outlive_their_deleted_namespace_get_a_delete_after_a_while(
    store: SqliteResourceStore, sub: Subscriber, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(adapter, "DRAIN_TIMEOUT", 1.0)
    await put(store, config_map("y1", "del-y", "web"))
    await put(store, web_source(sub.url))
    async with running_sources(store, tmp_path):  # no namespace controller: y1 stays
        await wait_condition(store, "s", "True")
        await sub.wait_for(1)
        await gone_from_the_store(store, "del-y")
        await sub.wait_for(2)
        await eventually(drained(store), message="the stream of del-y was never given up")
    assert len(sub.events) == 2
    assert sub.summary()[1] == ("dev.knative.apiserver.resource.delete", "y1")
    assert sub.data(1) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "y1", "namespace": "del-y"},
    }
