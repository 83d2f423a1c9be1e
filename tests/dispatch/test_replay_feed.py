"""A replay's window: times to seqs (two binary searches), and the feed that hands the window's
records out once, keeps its position in memory and counts what a trim took first."""

from __future__ import annotations

from kawa.dispatch.replay_feed import NO_RECORDS, WindowFeed, find_window
from kawa.eventlog.memory import MemoryEventLog

from ..eventlog.contract import FakeClock, payloads

T0 = 1_700_000_000.0


async def _log_at_three_times() -> tuple[MemoryEventLog, FakeClock]:
    """Seqs 1-3 at T0, 4-5 at T0+100, 6-7 at T0+200."""
    clock = FakeClock(T0)
    log = MemoryEventLog(clock=clock)
    await log.append("s", payloads("a", 3))
    clock.advance(100)
    await log.append("s", payloads("b", 2))
    clock.advance(100)
    await log.append("s", payloads("c", 2))
    return log, clock


async def test_a_time_window_is_a_run_of_seqs() -> None:
    log, _ = await _log_at_three_times()
    assert await find_window(log, "s", T0, T0 + 100) == (1, 5)
    assert await find_window(log, "s", T0 + 1, T0 + 100) == (4, 5)
    assert await find_window(log, "s", T0 + 100, T0 + 1000) == (4, 7)
    assert await find_window(log, "s", T0 - 50, T0 - 1) == NO_RECORDS
    assert await find_window(log, "s", T0 + 201, T0 + 300) == NO_RECORDS
    assert await find_window(log, "s", T0 + 150, T0 + 160) == NO_RECORDS
    assert await find_window(log, "s", T0 + 100, T0) == NO_RECORDS
    assert await find_window(log, "unknown", T0, T0 + 1000) == NO_RECORDS


async def test_a_window_starts_where_the_trim_left_the_stream() -> None:
    log, clock = await _log_at_three_times()
    clock.advance(50)
    assert await log.trim(200) == 3  # the records of T0 are gone
    assert await find_window(log, "s", T0 - 10, T0 + 150) == (4, 5)


async def test_the_feed_hands_out_the_window_once_and_keeps_its_position() -> None:
    log, _ = await _log_at_three_times()
    feed = WindowFeed(log, "s", 2, 5, position=0)
    await feed.start(None)
    assert await feed.wait(0)
    records = await feed.read(2)
    assert [r.seq for r in records] == [2, 3]
    await feed.done(3)
    assert feed.position == 1  # 2 is not done: a restart hands it out again
    await feed.done(2)
    assert feed.position == 3
    assert [r.seq for r in await feed.read(10)] == [4, 5]  # never past the window
    assert await feed.read(10) == []
    assert not feed.finished.is_set()
    await feed.done(4)
    await feed.start(None)  # a restarted consumer: 5 (handed out, not done) comes again
    assert [r.seq for r in await feed.read(10)] == [5]
    await feed.done(5)
    assert feed.finished.is_set()
    assert not await feed.wait(0)
    assert feed.missed == 0


async def test_a_resumed_feed_starts_after_its_position() -> None:
    log, _ = await _log_at_three_times()
    feed = WindowFeed(log, "s", 1, 7, position=4)
    assert [r.seq for r in await feed.read(10)] == [5, 6, 7]
    done = WindowFeed(log, "s", 1, 7, position=7)
    assert done.finished.is_set()
    empty = WindowFeed(log, "s", *NO_RECORDS, position=0)
    assert empty.finished.is_set()


async def test_records_trimmed_before_their_turn_are_missed() -> None:
    log, clock = await _log_at_three_times()
    feed = WindowFeed(log, "s", 1, 5, position=0)
    clock.advance(50)
    await log.trim(200)  # 1-3 go
    assert [r.seq for r in await feed.read(10)] == [4, 5]
    assert feed.missed == 3
    gone = WindowFeed(log, "s", 1, 5, position=0)
    await log.trim(0)  # everything goes
    assert await gone.read(10) == []
    assert gone.missed == 5
    assert gone.finished.is_set()
