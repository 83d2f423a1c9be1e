"""The EventLog contract: one test suite every backend must pass.

A backend's test module subclasses :class:`EventLogContract` and implements
:meth:`EventLogContract.open_log` (faststream style: the very same tests run against memory,
SQLite and, later, JetStream). Time-dependent behaviour (``trim``) runs on a :class:`FakeClock`
handed to the backend, so no test sleeps.

What the protocol says about several processes (:mod:`kawa.eventlog.base`) is shown here only
as far as one object can show it (wait wakes, cursors resume at least once): the embedded
backends refuse a second opener (``tests/eventlog/test_sqlite.py`` shows it with a second
process). A backend shared by processes adds, in its own suite, a second object on the same
storage: appends of one are read, awaited and cursor-tracked through the other.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kawa.errors import ValidationError
from kawa.eventlog import EventLog, Record
from kawa.eventlog.feed import Feed


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def payloads(prefix: str, n: int) -> list[bytes]:
    return [f"{prefix}-{i}".encode() for i in range(n)]


class EventLogContract:
    """Behaviour every :class:`~kawa.eventlog.EventLog` backend must show."""

    async def open_log(self, tmp_path: Path, clock: FakeClock) -> EventLog:
        raise NotImplementedError

    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    async def log(self, tmp_path: Path, clock: FakeClock) -> AsyncIterator[EventLog]:
        log = await self.open_log(tmp_path, clock)
        yield log
        await log.close()

    # -- append and read -----------------------------------------------------------------------

    async def test_seqs_start_at_one_and_increase_per_stream(self, log: EventLog) -> None:
        assert await log.last_seq("b1") == 0
        assert await log.append("b1", [b"a", b"b"]) == [1, 2]
        assert await log.append("b2", [b"x"]) == [1]
        assert await log.append("b1", [b"c"]) == [3]
        assert await log.append("b1", []) == []
        assert await log.last_seq("b1") == 3
        assert await log.last_seq("b2") == 1
        assert await log.last_seq("unknown") == 0

    async def test_read_after_and_limit(self, log: EventLog, clock: FakeClock) -> None:
        await log.append("b1", payloads("e", 10))
        await log.append("other", [b"noise"])
        records = await log.read("b1", 0, 100)
        assert [r.seq for r in records] == list(range(1, 11))
        assert [r.payload for r in records] == payloads("e", 10)
        assert all(isinstance(r, Record) and r.appended_at == clock.now for r in records)
        assert [r.seq for r in await log.read("b1", 4, 3)] == [5, 6, 7]
        assert [r.payload for r in await log.read("b1", 8, 100)] == [b"e-8", b"e-9"]
        assert await log.read("b1", 10, 100) == []
        assert await log.read("unknown", 0, 100) == []

    async def test_read_within_max_bytes_returns_at_least_one_record(self, log: EventLog) -> None:
        await log.append("b1", [b"a" * 10, b"b" * 10, b"c" * 30, b"d" * 5])
        assert [r.seq for r in await log.read("b1", 0, 100, max_bytes=25)] == [1, 2]
        assert [r.seq for r in await log.read("b1", 0, 100, max_bytes=20)] == [1, 2]
        assert [r.seq for r in await log.read("b1", 0, 1, max_bytes=1000)] == [1]
        # the first record comes whatever its size: a reader always makes progress
        assert [r.seq for r in await log.read("b1", 2, 100, max_bytes=1)] == [3]
        assert [r.seq for r in await log.read("b1", 2, 100, max_bytes=35)] == [3, 4]
        with pytest.raises(ValidationError, match="max_bytes"):
            await log.read("b1", 0, 10, max_bytes=0)

    async def test_appended_at_never_goes_back(self, log: EventLog, clock: FakeClock) -> None:
        await log.append("b1", [b"a"])
        clock.advance(-60)  # the wall clock was set back
        await log.append("b1", [b"b"])
        clock.advance(120)
        await log.append("b1", [b"c"])
        times = [r.appended_at for r in await log.read("b1", 0, 10)]
        assert times == sorted(times)
        assert times[2] == clock.now

    async def test_payload_bytes_are_kept_exactly(self, log: EventLog) -> None:
        blobs = [b"", b"\x00\xff" * 1000, bytes(range(256)), b"x" * 65536]
        await log.append("b1", blobs)
        assert [r.payload for r in await log.read("b1", 0, 10)] == blobs

    async def test_bad_arguments_raise_validation_errors(self, log: EventLog) -> None:
        with pytest.raises(ValidationError) as info:
            await log.read("", -1, 0)
        assert [e.path for e in info.value.errors] == ["stream", "after", "limit"]
        with pytest.raises(ValidationError):
            await log.append("", [b"x"])
        with pytest.raises(ValidationError) as info:
            await log.save_cursor("", "b1", -1)
        assert [e.path for e in info.value.errors] == ["consumer", "seq"]
        with pytest.raises(ValidationError):
            await log.trim(-1)

    async def test_concurrent_appends_get_distinct_seqs_and_are_all_readable(
        self, log: EventLog
    ) -> None:
        async def appender(task: int) -> list[tuple[int, bytes]]:
            acked: list[tuple[int, bytes]] = []
            for i in range(20):
                batch = payloads(f"t{task}-{i}", 1 + i % 3)
                seqs = await log.append("b1", batch)
                assert seqs == sorted(seqs)
                acked.extend(zip(seqs, batch, strict=True))
            return acked

        results = await asyncio.gather(*(appender(t) for t in range(50)))
        acked = dict(pair for result in results for pair in result)
        total = sum(len(result) for result in results)
        assert len(acked) == total
        assert sorted(acked) == list(range(1, total + 1))
        records = await log.read("b1", 0, total + 10)
        assert {r.seq: r.payload for r in records} == acked

    async def test_one_append_gets_consecutive_seqs(self, log: EventLog) -> None:
        results = await asyncio.gather(*(log.append("b1", payloads(str(t), 5)) for t in range(20)))
        for seqs in results:
            assert seqs == list(range(seqs[0], seqs[0] + 5))

    # -- wait ----------------------------------------------------------------------------------

    async def test_wait_returns_at_once_when_a_record_exists(self, log: EventLog) -> None:
        await log.append("b1", [b"a"])
        assert await log.wait("b1", 0, 0) is True
        assert await log.wait("b1", 1, 0) is False

    async def test_wait_wakes_on_append(self, log: EventLog) -> None:
        await log.append("b1", [b"a"])
        loop = asyncio.get_running_loop()
        waiters = [asyncio.create_task(log.wait("b1", 1, 30)) for _ in range(3)]
        other = asyncio.create_task(log.wait("b2", 0, 30))
        # a wait begun after theirs times out: nothing was appended, so they still wait
        assert await log.wait("b1", 1, 0.01) is False
        assert not any(w.done() for w in waiters)
        started = loop.time()
        await log.append("b1", [b"b"])
        assert await asyncio.gather(*waiters) == [True, True, True]
        assert loop.time() - started < 5
        assert not other.done()
        await log.append("b2", [b"x"])
        assert await other is True

    async def test_close_ends_waits(self, tmp_path: Path, clock: FakeClock) -> None:
        log = await self.open_log(tmp_path, clock)
        await log.append("b1", [b"a"])
        waiter = asyncio.create_task(log.wait("b1", 1, 30))
        await asyncio.sleep(0)
        await log.close()
        async with asyncio.timeout(5):
            assert await waiter is False
        await log.close()  # closing twice is fine

    async def test_wait_times_out(self, log: EventLog) -> None:
        await log.append("b1", [b"a"])
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await log.wait("b1", 1, 0.05) is False
        assert loop.time() - started >= 0.04
        assert await log.wait("unknown", 0, 0.01) is False

    # -- cursors -------------------------------------------------------------------------------

    async def test_cursor_on_an_empty_stream_then_read(self, log: EventLog) -> None:
        # A new trigger saves its cursor at seq 0 of a broker that has no events yet.
        await log.save_cursor("trigger:new", "fresh", 0)
        assert await log.read("fresh", 0, 10) == []
        assert await log.wait("fresh", 0, 0.01) is False
        await log.append("fresh", [b"first"])
        assert [r.payload for r in await log.read("fresh", 0, 10)] == [b"first"]

    async def test_cursors_are_saved_updated_and_deleted(self, log: EventLog) -> None:
        assert await log.load_cursor("trigger:1") is None
        await log.append("b1", payloads("e", 3))
        await log.save_cursor("trigger:1", "b1", 2)
        await log.save_cursor("trigger:2", "b1", 0)
        assert await log.load_cursor("trigger:1") == 2
        await log.save_cursor("trigger:1", "b1", 3)
        assert await log.load_cursor("trigger:1") == 3
        assert await log.load_cursor("trigger:2") == 0
        await log.delete_cursor("trigger:1")
        await log.delete_cursor("trigger:never")
        assert await log.load_cursor("trigger:1") is None
        assert await log.load_cursor("trigger:2") == 0

    async def test_a_restarted_consumer_resumes_after_its_saved_cursor(self, log: EventLog) -> None:
        # At least once: the cursor lags behind what was read and delivered; whoever runs the
        # consumer next (after a crash, or in another process) starts after the saved cursor.
        await log.append("b1", payloads("e", 10))
        read = await log.read("b1", 0, 6)
        await log.save_cursor("trigger:1@b1", "b1", 4)  # 5 and 6 were in flight
        assert [r.seq for r in read] == [1, 2, 3, 4, 5, 6]
        resumed_at = await log.load_cursor("trigger:1@b1")
        assert resumed_at == 4
        again = await log.read("b1", resumed_at, 100)
        assert [r.seq for r in again] == [5, 6, 7, 8, 9, 10]
        assert [r.payload for r in again[:2]] == [r.payload for r in read[4:]]

    # -- delete_stream -------------------------------------------------------------------------

    async def test_delete_stream_removes_records_and_cursors_only_of_that_stream(
        self, log: EventLog
    ) -> None:
        await log.append("b1", payloads("e", 3))
        await log.append("b2", payloads("f", 2))
        await log.save_cursor("trigger:1", "b1", 1)
        await log.save_cursor("trigger:2", "b2", 1)
        await log.delete_stream("b1")
        await log.delete_stream("never-existed")
        assert await log.read("b1", 0, 10) == []
        assert await log.load_cursor("trigger:1") is None
        assert [r.payload for r in await log.read("b2", 0, 10)] == payloads("f", 2)
        assert await log.load_cursor("trigger:2") == 1
        # seqs are never reused, not even by a new stream of the same name
        assert await log.append("b1", [b"again"]) == [4]
        assert [r.seq for r in await log.read("b1", 0, 10)] == [4]

    # -- trim ----------------------------------------------------------------------------------

    async def test_trim_without_cursors_deletes_by_age(
        self, log: EventLog, clock: FakeClock
    ) -> None:
        await log.append("b1", payloads("old", 3))
        clock.advance(100)
        await log.append("b1", payloads("new", 2))
        clock.advance(10)
        assert await log.trim(50) == 3
        assert [r.payload for r in await log.read("b1", 0, 10)] == payloads("new", 2)
        assert await log.trim(50) == 0
        assert await log.last_seq("b1") == 5
        assert await log.append("b1", [b"next"]) == [6]

    async def test_size_counts_records_and_bytes_per_stream(
        self, log: EventLog, clock: FakeClock
    ) -> None:
        assert (await log.size()).streams == {}
        await log.append("broker:b1", payloads("old", 3))
        clock.advance(100)
        await log.append("broker:b1", payloads("new", 2))
        await log.append("channel:c-1", [b"x" * 100])
        await log.append("gone", [b"y"])
        await log.delete_stream("gone")
        clock.advance(10)
        assert await log.trim(50) == 3  # what is left of a stream is still counted right
        size = await log.size()
        records = {name: of.records for name, of in size.streams.items()}
        assert records == {"broker:b1": 2, "channel:c-1": 1}
        for name, least in (("broker:b1", 2 * len(b"new-0")), ("channel:c-1", 100)):
            found = size.streams[name].bytes  # None: the backend cannot tell cheaply
            assert found is None or least <= found < least + 1000, (name, found)
        assert size.bytes >= 100

    async def test_trim_keeps_what_a_cursor_still_needs(
        self, log: EventLog, clock: FakeClock
    ) -> None:
        await log.append("b1", payloads("e", 10))
        await log.append("b2", payloads("f", 4))
        await log.save_cursor("trigger:fast", "b1", 8)
        await log.save_cursor("trigger:slow", "b1", 3)
        clock.advance(1000)
        assert await log.trim(60) == 3 + 4  # b1 up to the slowest cursor; b2 has no cursor
        assert [r.seq for r in await log.read("b1", 0, 100)] == list(range(4, 11))
        assert await log.read("b2", 0, 100) == []
        await log.save_cursor("trigger:slow", "b1", 10)
        assert await log.trim(60) == 5  # now the fast one (8) holds back 9 and 10
        assert [r.seq for r in await log.read("b1", 0, 100)] == [9, 10]

    async def test_trim_keeps_young_records_even_when_consumed(
        self, log: EventLog, clock: FakeClock
    ) -> None:
        await log.append("b1", payloads("e", 2))
        clock.advance(30)
        await log.append("b1", payloads("f", 2))
        await log.save_cursor("trigger:1", "b1", 4)
        clock.advance(30)
        assert await log.trim(45) == 2
        assert [r.seq for r in await log.read("b1", 0, 100)] == [3, 4]
        assert await log.trim(0) == 2
        assert await log.read("b1", 0, 100) == []

    async def test_trim_keeps_a_stream_for_its_own_retention(
        self, log: EventLog, clock: FakeClock
    ) -> None:
        await log.append("broker:kept", payloads("k", 3))
        await log.append("broker:short", payloads("s", 2))
        await log.append("broker:other", payloads("o", 2))
        clock.advance(100)
        # the kept stream holds its records for an hour, the short one for 10 s, the
        # others for the log's 500 s
        streams = {"broker:kept": 3600.0, "broker:short": 10.0}
        assert await log.trim(500, streams=streams) == 2
        assert len(await log.read("broker:kept", 0, 10)) == 3
        assert await log.read("broker:short", 0, 10) == []
        assert len(await log.read("broker:other", 0, 10)) == 2
        clock.advance(1000)
        assert await log.trim(500, streams=streams) == 2
        assert len(await log.read("broker:kept", 0, 10)) == 3
        with pytest.raises(ValidationError) as refused:
            await log.trim(500, streams={"broker:kept": -1})
        assert refused.value.errors[0].path == "streams[broker:kept]"

    # -- feeds: a consumer's records, finished one by one ---------------------------------------

    async def _take(self, feed: Feed, n: int, timeout: float = 5.0) -> list[Record]:
        """Exactly ``n`` records from ``feed`` (waiting for them)."""
        taken: list[Record] = []
        async with asyncio.timeout(timeout):
            while len(taken) < n:
                if await feed.wait(0.5):
                    taken += await feed.read(n - len(taken))
        return taken

    async def test_a_new_feed_starts_at_the_end_and_hands_out_new_records_in_order(
        self, log: EventLog
    ) -> None:
        await log.append("s", payloads("old", 2))
        feed = log.feed("trigger:f@s", "s")
        await feed.start(None)
        assert await feed.wait(0) is False or await feed.read(10) == []
        await log.append("s", payloads("new", 3))
        records = await self._take(feed, 3)
        assert [r.payload for r in records] == payloads("new", 3)
        assert [r.seq for r in records] == [3, 4, 5]
        assert feed.fetched == 5
        for record in records:
            await feed.done(record.seq)
        await feed.stop()

    async def test_a_new_feed_starts_after_what_came_before_it_was_ready(
        self, log: EventLog, clock: FakeClock
    ) -> None:
        await log.append("s", payloads("before", 2))
        clock.advance(10)
        await log.append("s", payloads("after", 2))
        feed = log.feed("trigger:f@s", "s")
        await feed.start(clock.now - 5)
        assert [r.payload for r in await self._take(feed, 2)] == payloads("after", 2)
        await feed.stop()

    async def test_what_is_not_done_comes_again_after_a_stop_and_done_stays_done(
        self, log: EventLog
    ) -> None:
        feed = log.feed("trigger:f@s", "s")
        await feed.start(None)
        await log.append("s", payloads("e", 5))
        records = await self._take(feed, 5)
        for record in records:
            if record.seq != 2:  # seq 2 is still being delivered when the consumer stops
                await feed.done(record.seq)
        await feed.stop()
        assert await log.load_cursor("trigger:f@s") == 1  # done up to the hole

        again = log.feed("trigger:f@s", "s")
        await again.start(None)
        first = await self._take(again, 1, timeout=15.0)  # within the backend's ack wait
        # At least once: seq 2 comes again; what was done may come again only past the hole.
        assert first[0].seq == 2, first
        await again.done(2)
        more = await again.read(10)
        for record in more:
            await again.done(record.seq)
        assert all(r.seq > 2 for r in more)
        await again.stop()
        assert await log.load_cursor("trigger:f@s") == 5
        await log.append("s", payloads("later", 1))
        third = log.feed("trigger:f@s", "s")
        await third.start(None)
        assert [r.seq for r in await self._take(third, 1)] == [6]
        await third.stop()

    async def test_read_within_max_bytes_and_the_rest_later(self, log: EventLog) -> None:
        feed = log.feed("trigger:f@s", "s")
        await feed.start(None)
        await log.append("s", [b"x" * 100] * 4)
        await self._take(feed, 0)
        assert await feed.wait(5.0)
        first = await feed.read(10, max_bytes=150)
        assert [r.seq for r in first] == [1]
        rest = await self._take(feed, 3)
        assert [r.seq for r in rest] == [2, 3, 4]
        for record in first + rest:
            await feed.done(record.seq)
        await feed.stop()

    async def test_deleting_a_feeds_cursor_starts_it_anew(self, log: EventLog) -> None:
        feed = log.feed("trigger:f@s", "s")
        await feed.start(None)
        await log.append("s", payloads("e", 2))
        for record in await self._take(feed, 2):
            await feed.done(record.seq)
        await feed.stop()
        await log.delete_cursor("trigger:f@s")
        assert await log.load_cursor("trigger:f@s") is None
        await log.append("s", payloads("f", 1))
        again = log.feed("trigger:f@s", "s")
        await again.start(None)  # at the end: nothing old comes back
        assert await again.read(10) == [] or not await again.wait(0.3)
        await log.append("s", payloads("g", 1))
        assert [r.payload for r in await self._take(again, 1)] == payloads("g", 1)
        await again.stop()

    async def test_trim_keeps_what_a_feed_has_not_finished(
        self, log: EventLog, clock: FakeClock
    ) -> None:
        feed = log.feed("trigger:f@s", "s")
        await feed.start(None)
        await log.append("s", payloads("e", 4))
        records = await self._take(feed, 4)
        await feed.done(1)
        await feed.done(2)
        await feed.stop()
        clock.advance(3600)
        assert await log.trim(60) == 2
        assert [r.seq for r in await log.read("s", 0, 10)] == [3, 4]
        assert len(records) == 4

    async def test_ids_must_match_the_payloads(self, log: EventLog) -> None:
        with pytest.raises(ValidationError, match="one id per payload"):
            await log.append("s", payloads("e", 2), ids=["a"])
        with pytest.raises(ValidationError, match="non-empty"):
            await log.append("s", payloads("e", 1), ids=[""])
        assert await log.last_seq("s") == 0  # nothing stored

    async def test_keeps_ids_says_whether_a_repeated_id_is_stored_once(self, log: EventLog) -> None:
        # the broker leaves ids out where the log does not keep them: it must say so truly
        first = await log.append("s", [b"one"], ids=["same"])
        again = await log.append("s", [b"one again"], ids=["same"])
        stored = [r.payload for r in await log.read("s", 0, 10)]
        if log.keeps_ids:
            assert (again, stored) == (first, [b"one"])
        else:
            assert (again, stored) == ([first[0] + 1], [b"one", b"one again"])
