"""What bounds the SQLite resource store: its change history, capped in bytes as well as in
count, and a full store (``max_size``, or a real full disk: :mod:`tests.full_disk`), which
refuses writes with :class:`InsufficientStorageError` and writes again once there is room."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import pytest

from kawa.errors import GoneError, InsufficientStorageError
from kawa.store import sqlite as store_sqlite
from kawa.store.base import ResourceKey, ResourceStore, WatchEvent
from kawa.store.sqlite import SqliteResourceStore

from ..full_disk import fill_disk, small_disk

KEY = ResourceKey("configmaps", "default", "c")


def configmap(size: int, n: int = 0) -> dict[str, Any]:
    return {"kind": "ConfigMap", "metadata": {}, "data": {"n": str(n), "k": "x" * size}}


def open_watch(store: ResourceStore, since: int | None = None) -> AsyncGenerator[WatchEvent]:
    watch = store.watch("configmaps", since=since)
    assert isinstance(watch, AsyncGenerator)
    return watch


async def fill(store: ResourceStore) -> tuple[list[str], InsufficientStorageError]:
    """Create ConfigMaps until the store is full: the names stored, and the error."""
    names: list[str] = []
    for n in range(1000):
        try:
            await store.create(ResourceKey("configmaps", "default", f"c{n}"), configmap(2000))
        except InsufficientStorageError as err:
            return names, err
        names.append(f"c{n}")
    raise AssertionError("the store never filled up")


async def update_until_full(store: ResourceStore) -> InsufficientStorageError:
    """Update :data:`KEY` until the store refuses (the WAL may have room left at first)."""
    for n in range(1000):
        try:
            await store.update(KEY, configmap(2000, n))
        except InsufficientStorageError as err:
            return err
    raise AssertionError("the store never filled up")


def history(path: Path) -> tuple[int, int, int]:
    """(count, bytes of bodies, oldest rv) of the change history, as another reader sees it."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        count, size, oldest = conn.execute(
            "SELECT COUNT(*), TOTAL(LENGTH(body)), MIN(rv) FROM changes"
        ).fetchone()
    return int(count), int(size), int(oldest or 0)


def test_the_default_byte_cap() -> None:
    assert store_sqlite.DEFAULT_HISTORY_BYTES == 64 * 1024 * 1024


async def test_the_change_history_is_capped_in_bytes(tmp_path: Path) -> None:
    path = tmp_path / "resources.db"
    store = SqliteResourceStore(str(path), history=10_000, history_bytes=100_000)
    try:
        await store.create(KEY, configmap(10_000))
        for n in range(1, 50):  # 50 changes of ~10 KB: five times the cap
            await store.update(KEY, configmap(10_000, n))
        count, size, oldest = history(path)
        assert size <= 100_000
        assert count >= 8  # down to nine tenths of the cap, not further
        last = int((await store.get(KEY))["metadata"]["resourceVersion"])
        with pytest.raises(GoneError, match="too old"):
            async for _ in store.watch("configmaps", since=1):
                pass
        resumed = open_watch(store, since=oldest - 1)  # the oldest kept still works
        assert (await anext(resumed)).resource_version == oldest
        await resumed.aclose()
    finally:
        await store.close()

    store = SqliteResourceStore(str(path), history=10_000, history_bytes=100_000)
    try:  # the count of bytes kept is found again on reopen
        for n in range(50, 70):
            await store.update(KEY, configmap(10_000, n))
        assert history(path)[1] <= 100_000
        assert history(path)[2] > last - 10
    finally:
        await store.close()


async def test_one_change_over_the_cap_is_still_kept(tmp_path: Path) -> None:
    path = tmp_path / "resources.db"
    store = SqliteResourceStore(str(path), history_bytes=1_000)
    try:
        created = await store.create(KEY, configmap(5_000))
        assert history(path)[:1] == (1,)  # the newest change always stays
        watch = open_watch(store, since=0)
        assert (await anext(watch)).object == created
        await watch.aclose()
    finally:
        await store.close()


async def test_a_full_store_refuses_a_write_whole_and_writes_again_once_there_is_room(
    tmp_path: Path,
) -> None:
    path = tmp_path / "resources.db"
    store = SqliteResourceStore(str(path), max_size=256 * 1024)
    try:
        live = open_watch(store)
        first = asyncio.ensure_future(anext(live))
        await asyncio.sleep(0)  # the watch is open (it waits for the first change)
        names, refused = await fill(store)
        refused_key = ResourceKey("configmaps", "default", f"c{len(names)}")
        assert f"cannot store {refused_key}: the resource store is full" in str(refused)
        assert f"{path}, at most 262144 bytes" in str(refused)
        assert len(names) > 20

        listed = await store.list("configmaps")
        assert [o["metadata"]["name"] for o in listed.items] == sorted(names)
        seen = [(await first).object["metadata"]["name"]]
        seen += [(await anext(live)).object["metadata"]["name"] for _ in names[1:]]
        assert seen == names  # every stored change reached the watch, the refused one did not
        # the history was halved to make room: a watch from the start has to list again
        with pytest.raises(GoneError):
            async for _ in store.watch("configmaps", since=1):
                pass

        for name in names[:10]:  # deleting makes room, on a full store too
            await store.delete(ResourceKey("configmaps", "default", name))
        again = await store.create(refused_key, configmap(2000))
        assert int(again["metadata"]["resourceVersion"]) == listed.resource_version + 11
        for _ in range(11):
            event = await anext(live)
        assert event.object["metadata"]["name"] == refused_key.name
        await live.aclose()
    finally:
        await store.close()


async def test_a_store_on_a_full_disk_writes_again_once_the_disk_has_room(
    tmp_path: Path,
) -> None:
    with small_disk(tmp_path) as disk:
        store = SqliteResourceStore(str(disk / "resources.db"))
        try:
            await store.create(KEY, configmap(100))
            filler = fill_disk(disk)
            refused = await update_until_full(store)
            assert "the resource store is full (database or disk is full" in str(refused)
            assert (await store.get(KEY))["kind"] == "ConfigMap"  # reads go on

            filler.unlink()
            updated = await store.update(KEY, configmap(2000, -1))
            assert updated["data"]["n"] == "-1"
        finally:
            await store.close()
