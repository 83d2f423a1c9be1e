"""A write whose caller is cancelled mid-commit still completes as one step: the
resourceVersion advances with the row and watchers hear of it, so later writes never collide
with a half-finished one (the kubelet's and controllers' tasks are cancelled at any moment)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ..waiting import eventually


async def test_cancelled_writers_never_break_later_writes(tmp_path: Path) -> None:
    store = SqliteResourceStore(str(tmp_path / "resources.db"))
    try:
        listed = await store.list("configmaps")
        seen: list[str] = []

        async def watch() -> None:
            async for event in store.watch("configmaps", since=listed.resource_version):
                seen.append(event.object["metadata"]["name"])

        watcher = asyncio.create_task(watch())
        cancelled = 0
        for i in range(200):
            key = ResourceKey("configmaps", "default", f"cm-{i}")
            task = asyncio.create_task(store.create(key, {"metadata": {}, "data": {}}))
            # cancel at every stage: before the lock, in the thread write, after it
            if i % 3:
                await asyncio.sleep((i % 20) * 0.0001)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            cancelled += task.cancelled()
        final = await store.create(
            ResourceKey("configmaps", "default", "after"), {"metadata": {}, "data": {}}
        )
        stored = await store.list("configmaps")
        names = {o["metadata"]["name"] for o in stored.items}
        assert "after" in names
        assert int(final["metadata"]["resourceVersion"]) == stored.resource_version

        async def last_seen() -> bool:  # the watch is in order: the last write comes last
            return "after" in seen

        await eventually(last_seen, 5.0, "the watch never saw the last write")
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        # every object that is stored was announced, in order, exactly once
        assert sorted(seen) == sorted(names)
        assert len(seen) == len(set(seen))
        assert cancelled > 0
    finally:
        await store.close()
