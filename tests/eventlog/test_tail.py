"""The in-memory tail of recent records: it answers reads exactly as the file would."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from kawa.eventlog import SqliteEventLog
from kawa.eventlog._tail import DEFAULT_MAX_BYTES, TailCache
from kawa.eventlog.base import Record

from .contract import FakeClock, payloads


def test_holds_contiguous_records_and_reads_slices() -> None:
    tail = TailCache(capacity=10)
    tail.add("s", [1, 2, 3], [b"a", b"b", b"c"], 5.0)
    tail.add("s", [4], [b"d"], 6.0)
    assert tail.read("s", 0, 2) == [Record(1, b"a", 5.0), Record(2, b"b", 5.0)]
    assert tail.read("s", 2, 10) == [Record(3, b"c", 5.0), Record(4, b"d", 6.0)]
    assert tail.read("s", 4, 10) == []
    assert tail.read("other", 0, 10) is None


def test_a_gap_restarts_the_tail_and_older_records_are_not_held() -> None:
    tail = TailCache(capacity=10)
    tail.add("s", [1, 2], [b"a", b"b"], 1.0)
    tail.add("s", [7, 8], [b"g", b"h"], 2.0)
    assert tail.read("s", 5, 10) is None  # seq 6 was never seen here
    assert tail.read("s", 6, 10) == [Record(7, b"g", 2.0), Record(8, b"h", 2.0)]


def test_evicts_the_oldest_beyond_twice_the_capacity() -> None:
    tail = TailCache(capacity=4)
    for seq in range(1, 10):
        tail.add("s", [seq], [str(seq).encode()], 0.0)
    assert tail.read("s", 0, 100) is None
    held = tail.read("s", 5, 100)
    assert held is not None
    assert [r.seq for r in held] == [6, 7, 8, 9]
    tail.clear()
    assert tail.read("s", 5, 100) is None


def test_holds_at_most_max_bytes_across_streams_evicting_the_oldest() -> None:
    tail = TailCache(capacity=100, max_bytes=10)
    tail.add("a", [1, 2, 3], [b"aaa", b"bbb", b"ccc"], 1.0)
    assert tail.size == 9
    tail.add("a", [4], [b"dd"], 1.0)  # 11 bytes: the stream's own oldest record goes
    assert tail.size == 8
    assert tail.read("a", 0, 10) is None
    assert tail.read("a", 1, 10) == [
        Record(2, b"bbb", 1.0),
        Record(3, b"ccc", 1.0),
        Record(4, b"dd", 1.0),
    ]
    tail.add("b", [1], [b"xxxxxxxx"], 2.0)  # 8 more: the older records of "a" go first
    assert tail.size <= 10
    assert tail.read("b", 0, 10) == [Record(1, b"xxxxxxxx", 2.0)]
    assert tail.read("a", 2, 10) is None
    assert tail.read("a", 3, 10) == [Record(4, b"dd", 1.0)]
    tail.add("b", [2], [b"y" * 50], 3.0)  # larger than the whole bound: not held at all
    assert tail.size <= 10
    assert tail.read("b", 1, 10) is None
    tail.add("b", [3], [b"z"], 4.0)  # the tail goes on from there
    assert tail.read("b", 2, 10) == [Record(3, b"z", 4.0)]
    tail.clear()
    assert tail.size == 0


def test_a_gap_releases_the_bytes_of_the_old_run() -> None:
    tail = TailCache(capacity=100, max_bytes=100)
    tail.add("a", [1, 2], [b"x" * 40, b"x" * 40], 1.0)
    tail.add("a", [9], [b"y" * 10], 1.0)
    assert tail.size == 10


async def test_a_burst_of_large_records_is_held_only_up_to_the_bound(tmp_path: Path) -> None:
    log = await SqliteEventLog.open(str(tmp_path / "log.db"))
    try:
        big = [bytes([i]) * (1024 * 1024) for i in range(48)]  # 48 MiB, past the 32 MiB bound
        for blob in big:
            await log.append("b", [blob])
        assert log._tail.size <= DEFAULT_MAX_BYTES
        assert [r.payload for r in await log.read("b", 0, 100)] == big  # the rest from the file
    finally:
        await log.close()


async def test_reads_from_memory_match_the_file(tmp_path: Path) -> None:
    path = str(tmp_path / "log.db")
    clock = FakeClock()
    log = await SqliteEventLog.open(path, clock=clock)
    try:
        for i in range(5):
            clock.now += 1
            await log.append("b", payloads(f"e{i}-", 7))
        await log.append("c", payloads("x", 3))
        hot = [await log.read("b", after, 4) for after in range(0, 36, 3)]
    finally:
        await log.close()
    cold_log = await SqliteEventLog.open(path, clock=clock)  # a fresh process: nothing held
    try:
        cold = [await cold_log.read("b", after, 4) for after in range(0, 36, 3)]
    finally:
        await cold_log.close()
    assert hot == cold
    assert [r.seq for r in hot[0]] == [1, 2, 3, 4]


async def test_a_group_commit_of_appends_to_several_streams_is_held_as_stored(
    tmp_path: Path,
) -> None:
    # one commit's appends are held with one add per stream: in seq order, nothing lost
    path = str(tmp_path / "log.db")
    log = await SqliteEventLog.open(path)
    streams = ("a", "b", "c")
    try:
        await asyncio.gather(
            *(log.append(streams[i % 3], payloads(f"p{i}-", 1 + i % 4)) for i in range(90))
        )
        hot = {s: await log.read(s, 0, 1000) for s in streams}
    finally:
        await log.close()
    cold_log = await SqliteEventLog.open(path)
    try:
        cold = {s: await cold_log.read(s, 0, 1000) for s in streams}
    finally:
        await cold_log.close()
    assert hot == cold
    sent = [sum(1 + i % 4 for i in range(k, 90, 3)) for k in range(3)]
    assert [len(hot[s]) for s in streams] == sent


async def test_trimmed_records_are_not_served_from_memory(tmp_path: Path) -> None:
    clock = FakeClock()
    log = await SqliteEventLog.open(str(tmp_path / "log.db"), clock=clock)
    try:
        await log.append("b", payloads("e", 5))
        await log.save_cursor("trigger:1", "b", 3)
        clock.now += 10
        assert await log.trim(1.0) == 3
        assert [r.seq for r in await log.read("b", 0, 10)] == [4, 5]
        await log.delete_stream("b")
        assert await log.read("b", 0, 10) == []
    finally:
        await log.close()


async def test_a_trim_or_deletion_that_deletes_nothing_keeps_what_memory_holds(
    tmp_path: Path,
) -> None:
    # the trimmer runs every 30 s whether or not anything is due; only a step that deleted
    # records drops the held tail (every consumer then reads from the file once)
    clock = FakeClock()
    log = await SqliteEventLog.open(str(tmp_path / "log.db"), clock=clock)
    try:
        await log.append("b", payloads("e", 5))
        await log.save_cursor("trigger:1", "b", 3)
        assert await log.trim(60.0) == 0  # nothing is a minute old yet
        assert log._tail.read("b", 0, 10) == await log.read("b", 0, 10)
        assert [r.seq for r in log._tail.read("b", 0, 10) or []] == [1, 2, 3, 4, 5]
        await log.delete_stream("never-had")  # a channel's empty dead-letter stream, say
        assert [r.seq for r in log._tail.read("b", 0, 10) or []] == [1, 2, 3, 4, 5]
        clock.now += 120
        assert await log.trim(60.0) == 3
        assert log._tail.read("b", 0, 10) is None
        assert [r.seq for r in await log.read("b", 0, 10)] == [4, 5]
    finally:
        await log.close()


def test_held_records_give_the_garbage_collector_nothing_to_scan() -> None:
    # an object per held record (16,000 per busy stream) made every young collection move
    # thousands of them on: 10-25 ms pauses under load (issue 18)
    tail = TailCache(capacity=10_000)
    gc.collect()
    before = len(gc.get_objects())
    for seq in range(1, 10_001, 100):
        tail.add("s", list(range(seq, seq + 100)), [b"%d" % i for i in range(100)], float(seq))
    tracked = len(gc.get_objects()) - before
    assert tracked < 100, f"{tracked} objects tracked for 10,000 held records"
    held = tail.read("s", 9_997, 10)
    assert held == [
        Record(9_998, b"97", 9_901.0),
        Record(9_999, b"98", 9_901.0),
        Record(10_000, b"99", 9_901.0),
    ]
