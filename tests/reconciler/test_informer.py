"""The one list-then-watch: every object as ADDED, then each change; a namespace of its own;
a caller's own first list (``since``); a fresh list after a 410 (with ``on_listed``)."""

from __future__ import annotations

import asyncio
from typing import Any

from kawa.reconciler.informer import inform
from kawa.store.base import Obj, ResourceKey, WatchEvent
from kawa.store.sqlite import SqliteResourceStore

from ..waiting import eventually

CM = "configmaps"


def configmap(name: str, ns: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}}


async def test_a_namespace_a_first_list_of_its_own_and_a_relist_after_410() -> None:
    store = SqliteResourceStore(":memory:", history=4)
    seen: list[tuple[str, str]] = []
    lists: list[list[str]] = []

    async def handler(event: WatchEvent) -> None:
        seen.append((event.type, event.object["metadata"]["name"]))

    async def listed(items: list[Obj]) -> None:
        lists.append(sorted(o["metadata"]["name"] for o in items))

    try:
        await store.create(ResourceKey(CM, "a", "old"), configmap("old", "a"))
        since = (await store.list(CM, "a")).resource_version  # the caller listed already
        await store.create(ResourceKey(CM, "b", "other"), configmap("other", "b"))
        await store.create(ResourceKey(CM, "a", "new"), configmap("new", "a"))
        task = asyncio.create_task(
            inform(store, CM, handler, namespace="a", since=since, on_listed=listed)
        )

        async def saw_new() -> bool:
            return ("ADDED", "new") in seen

        await eventually(saw_new)
        assert seen == [("ADDED", "new")]  # not "old" (listed by the caller), not namespace b
        assert lists == []
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        # a history of 4 changes: resuming from the old version is a 410, so it lists again
        for i in range(8):
            await store.create(ResourceKey(CM, "a", f"c{i}"), configmap(f"c{i}", "a"))
        seen.clear()
        task = asyncio.create_task(
            inform(store, CM, handler, namespace="a", since=since, on_listed=listed)
        )

        async def relisted() -> bool:
            return bool(lists)

        await eventually(relisted)
        assert lists == [sorted(["old", "new", *(f"c{i}" for i in range(8))])]
        assert all(kind == "ADDED" for kind, _ in seen)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    finally:
        await store.close()
