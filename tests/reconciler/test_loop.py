"""The control loop on a real SQLite store: list-then-watch feeds the queue, and with a
tracker a change of any object a key resolved (created, changed, even one the controller
never watched before) reconciles that key, while references a later reconcile dropped do
not. The periodic resync is off, so nothing here is the resync's doing."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from kawa.reconciler.loop import Controller, own
from kawa.reconciler.tracker import Tracker
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

OWNERS = "configmaps"
"""The objects reconciled: ConfigMaps whose ``data.dependsOn`` names a Secret."""
SECRETS = "secrets"
NS = "ns"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteResourceStore]:
    s = SqliteResourceStore(str(tmp_path / "s.db"))
    yield s
    await s.close()


def configmap(name: str, depends_on: str | None) -> dict[str, Any]:
    data = {"dependsOn": depends_on} if depends_on else {}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NS},
        "data": data,
    }


def secret(name: str, value: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NS},
        "stringData": {"v": value},
    }


class Reconciler:
    """Tracks the Secret a ConfigMap names (existing or not) and counts its reconciles."""

    def __init__(self, store: SqliteResourceStore, tracker: Tracker) -> None:
        self._store = store
        self._tracker = tracker
        self.count: Counter[str] = Counter()
        self.changed = asyncio.Event()

    async def reconcile(self, key: ResourceKey) -> None:
        self.count[key.name] += 1
        self.changed.set()
        try:
            obj = await self._store.get(key)
        except Exception:
            return
        depends_on = (obj.get("data") or {}).get("dependsOn")
        if depends_on:
            self._tracker.track(ResourceKey(SECRETS, NS, depends_on), key)


async def until(check: Callable[[], bool], reconciler: Reconciler, controller: Controller) -> None:
    """Wait (on the reconciler's own signal, 5 s at most) until ``check()`` holds and the
    controller's queue is idle."""

    async def wait() -> None:
        while not (check() and controller.queue.idle()):
            reconciler.changed.clear()
            try:
                await asyncio.wait_for(reconciler.changed.wait(), 0.1)
            except TimeoutError:
                continue

    await asyncio.wait_for(wait(), 5.0)


async def running(
    store: SqliteResourceStore, tracker: Tracker
) -> tuple[Reconciler, Controller, asyncio.Task[None]]:
    reconciler = Reconciler(store, tracker)
    controller = Controller(
        "test", store, reconciler.reconcile, [own(OWNERS)], tracker=tracker, resync=None
    )
    return reconciler, controller, asyncio.create_task(controller.run())


async def stopped(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_change_of_a_tracked_object_reconciles_the_keys_tracking_it(
    store: SqliteResourceStore,
) -> None:
    tracker = Tracker()
    reconciler, controller, task = await running(store, tracker)
    try:
        await store.create(ResourceKey(OWNERS, NS, "a"), configmap("a", "dep"))
        await store.create(ResourceKey(OWNERS, NS, "b"), configmap("b", "dep"))
        await until(lambda: reconciler.count == {"a": 1, "b": 1}, reconciler, controller)
        assert tracker.keys_for(ResourceKey(SECRETS, NS, "dep")) == {
            ResourceKey(OWNERS, NS, "a"),
            ResourceKey(OWNERS, NS, "b"),
        }

        # the Secret did not exist: its creation reconciles both (the controller watches
        # Secrets since a key first tracked one)
        await store.create(ResourceKey(SECRETS, NS, "dep"), secret("dep", "1"))
        await until(lambda: reconciler.count == {"a": 2, "b": 2}, reconciler, controller)

        # "a" stops depending on it: its next reconcile drops the reference
        a = await store.get(ResourceKey(OWNERS, NS, "a"))
        await store.update(ResourceKey(OWNERS, NS, "a"), dict(a, data={}))
        await until(lambda: reconciler.count["a"] == 3, reconciler, controller)
        dep = await store.get(ResourceKey(SECRETS, NS, "dep"))
        await store.update(ResourceKey(SECRETS, NS, "dep"), dict(dep, stringData={"v": "2"}))
        await until(lambda: reconciler.count["b"] == 3, reconciler, controller)
        assert reconciler.count["a"] == 3  # both would have been queued by the same change

        # a deleted object is reconciled once more (it is gone) and then tracks nothing
        await store.delete(ResourceKey(OWNERS, NS, "b"))
        await until(lambda: reconciler.count["b"] == 4, reconciler, controller)
        assert tracker.references(ResourceKey(OWNERS, NS, "b")) == frozenset()
        assert tracker.keys_for(ResourceKey(SECRETS, NS, "dep")) == frozenset()
    finally:
        await stopped(task)


async def test_resources_tracked_before_the_controller_runs_are_watched(
    store: SqliteResourceStore,
) -> None:
    tracker = Tracker()
    key = ResourceKey(OWNERS, NS, "a")
    tracker.track(ResourceKey(SECRETS, NS, "dep"), key)  # say, a reconcile before run()
    await store.create(key, configmap("a", "dep"))
    reconciler, controller, task = await running(store, tracker)
    try:
        await until(lambda: reconciler.count["a"] == 1, reconciler, controller)
        await store.create(ResourceKey(SECRETS, NS, "dep"), secret("dep", "1"))
        await until(lambda: reconciler.count["a"] == 2, reconciler, controller)
    finally:
        await stopped(task)


async def test_a_failed_reconcile_is_retried_and_keeps_its_references_until_then(
    store: SqliteResourceStore,
) -> None:
    tracker = Tracker()
    key = ResourceKey(OWNERS, NS, "a")
    old, new = ResourceKey(SECRETS, NS, "old"), ResourceKey(SECRETS, NS, "new")
    at_retry: list[frozenset[ResourceKey]] = []
    done = asyncio.Event()

    async def reconcile(key: ResourceKey) -> None:
        if not at_retry:
            at_retry.append(frozenset())
            tracker.track(new, key)
            raise RuntimeError("boom")  # retried after a short backoff
        at_retry.append(tracker.references(key))
        done.set()  # tracks nothing this time

    tracker.track(old, key)
    controller = Controller("test", store, reconcile, [own(OWNERS)], tracker=tracker, resync=None)
    task = asyncio.create_task(controller.run())
    try:
        await store.create(key, configmap("a", None))
        await asyncio.wait_for(done.wait(), 5.0)
        assert at_retry[1] == {old, new}  # the failure forgot nothing
        # the worker ended the round before this test resumed (no await in between)
        assert tracker.references(key) == frozenset()
    finally:
        await stopped(task)
