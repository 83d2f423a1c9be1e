"""The dead-letter store over a real SQLite event log: entries are durable when ``keep``
returns, stay through the log's trim until removed, and removed ones go with the next trim."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

from kawa.dispatch import deadletters
from kawa.dispatch.deadletter_store import DeadLetterStore, Seen
from kawa.dispatch.deadletters import Query
from kawa.eventlog.sqlite import SqliteEventLog

from .test_deadletters import entry

STREAM = "broker:b1"


async def test_entries_outlive_trims_until_removed(tmp_path: Path) -> None:
    log = await SqliteEventLog.open(str(tmp_path / "events.db"))
    try:
        store = DeadLetterStore(log)
        ids = [await store.keep(STREAM, entry(name), f"c#{n}") for n, name in enumerate("abc")]
        assert ids == [1, 2, 3]
        await log.trim(0.0)  # retention 0: only the floor cursor keeps them
        assert [e.name for e in await store.entries(STREAM)] == ["a", "b", "c"]
        assert [e.id for e in await store.entries(STREAM, Query(name="b"))] == [2]

        await store.remove(STREAM, [1, 3])
        assert [e.name for e in await store.entries(STREAM)] == ["b"]
        dead_letter_stream = deadletters.stream_of(STREAM)
        assert await log.load_cursor(deadletters.floor_cursor(dead_letter_stream)) == 1
        await log.trim(0.0)  # the first entry is below the floor now: trimmed
        remaining = await log.read(dead_letter_stream, 0, 10)
        assert [r.seq for r in remaining] == [2, 3, 4]
        await store.remove(STREAM, [2])
        await log.trim(0.0)
        assert await store.entries(STREAM) == []
        assert await log.read(dead_letter_stream, 0, 10) == []
    finally:
        await log.close()

    reopened = await SqliteEventLog.open(str(tmp_path / "events.db"))
    try:  # a new entry after a restart is still kept from the trim
        store = DeadLetterStore(reopened)
        assert await store.keep(STREAM, entry("d"), "c#9") == 6
        await reopened.trim(0.0)
        assert [e.name for e in await store.entries(STREAM)] == ["d"]
    finally:
        await reopened.close()


class Slow:
    """The SQLite log with a network's latency on its reads (JetStream's KV and stream info),
    so the first keeps of a store interleave."""

    def __init__(self, log: SqliteEventLog) -> None:
        self._log = log

    def __getattr__(self, name: str) -> Any:
        return getattr(self._log, name)

    async def load_cursor(self, consumer: str) -> int | None:
        await asyncio.sleep(0.005)
        return await self._log.load_cursor(consumer)

    async def last_seq(self, stream: str) -> int:
        await asyncio.sleep(0.03)
        return await self._log.last_seq(stream)


async def test_first_keeps_at_once_all_stay_through_a_trim(tmp_path: Path) -> None:
    """A trigger's deliveries give up together (its subscriber went down): each of the first
    keeps finds no floor, and none of them may set it above another's entry."""
    log = await SqliteEventLog.open(str(tmp_path / "events.db"))
    try:
        store = DeadLetterStore(cast(SqliteEventLog, Slow(log)))

        async def give_up(n: int) -> int:
            await asyncio.sleep(n * 0.003)
            return await store.keep(STREAM, entry(f"t{n}"), f"c#{n}")

        ids = await asyncio.gather(*(give_up(n) for n in range(10)))
        await log.trim(0.0)
        assert sorted(e.id for e in await store.entries(STREAM)) == sorted(ids)
    finally:
        await log.close()


async def test_removals_through_one_scan_keep_what_came_after_it(tmp_path: Path) -> None:
    """A redrive removes its entries one by one through the scan it made: an entry kept after
    the scan stays above the floor it moves."""
    log = await SqliteEventLog.open(str(tmp_path / "events.db"))
    try:
        store = DeadLetterStore(log)
        for n, name in enumerate("ab"):
            await store.keep(STREAM, entry(name), f"c#{n}")
        found, seen = await store.scan(STREAM)
        assert [e.name for e in found] == ["a", "b"]
        late = await store.keep(STREAM, entry("late"), "c#9")
        for e in found:
            await store.remove(STREAM, [e.id], seen)
        await log.trim(0.0)
        assert [e.id for e in await store.entries(STREAM)] == [late]
    finally:
        await log.close()


def test_a_scans_floor_follows_its_removals_in_any_order() -> None:
    live = {seq: entry(f"e{seq}") for seq in (2, 5, 9)}
    seen = Seen(live, last=11)
    assert seen.floor() == 1
    seen.drop([5])
    assert seen.floor() == 1  # 2 is still there
    seen.drop([2])
    assert seen.floor() == 8
    seen.drop([9, 7])
    assert seen.floor() == 11  # none left: the last seq read
