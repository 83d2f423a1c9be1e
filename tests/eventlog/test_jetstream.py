"""The EventLog contract against NATS JetStream (a private nats-server), plus what only a shared
server can show: two log objects (two processes' worth) on one stream, and streams the log did
not make (of its names or subjects), which it refuses and leaves as they are."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from nats.js.api import StreamConfig

from kawa.errors import PermanentError, ValidationError
from kawa.eventlog import EventLog, _js_streams
from kawa.eventlog._js_feed import durable_name
from kawa.eventlog._js_names import Names
from kawa.eventlog.base import Record
from kawa.eventlog.jetstream import JetStreamEventLog
from kawa.jetstream import NatsOptions, StreamConflict, connect

from ..nats_support import nats_url, unique
from .contract import EventLogContract, FakeClock, payloads

__all__ = ["nats_url"]


class TestJetStreamEventLog(EventLogContract):
    @pytest.fixture(autouse=True)
    def _server(self, nats_url: str) -> None:
        self.url = nats_url

    async def open_log(self, tmp_path: Path, clock: FakeClock) -> EventLog:
        return await JetStreamEventLog.open(
            NatsOptions((self.url,)), prefix=unique("t"), clock=clock
        )


@pytest.fixture
async def pair(nats_url: str) -> AsyncIterator[tuple[JetStreamEventLog, JetStreamEventLog]]:
    """Two logs on one prefix: what two kawa processes sharing the server see."""
    prefix = unique("p")
    one = await JetStreamEventLog.open(NatsOptions((nats_url,)), prefix=prefix)
    two = await JetStreamEventLog.open(NatsOptions((nats_url,)), prefix=prefix)
    yield one, two
    await one.close()
    await two.close()


async def test_two_logs_share_streams_seqs_and_cursors(
    pair: tuple[JetStreamEventLog, JetStreamEventLog],
) -> None:
    one, two = pair
    assert await one.append("broker:a", [b"1", b"2"]) == [1, 2]
    assert await two.append("broker:a", [b"3"]) == [3]
    assert [r.payload for r in await two.read("broker:a", 0, 10)] == [b"1", b"2", b"3"]
    assert await one.last_seq("broker:a") == 3
    await one.save_cursor("trigger:x@broker:a", "broker:a", 2)
    assert await two.load_cursor("trigger:x@broker:a") == 2


async def test_wait_wakes_for_another_logs_append(
    pair: tuple[JetStreamEventLog, JetStreamEventLog],
) -> None:
    one, two = pair
    await one.append("b", [b"a"])
    loop = asyncio.get_running_loop()
    waiter = asyncio.create_task(two.wait("b", 1, 30))
    assert await two.wait("b", 1, 0.05) is False  # nothing new yet: both still wait
    assert not waiter.done()
    started = loop.time()
    await one.append("b", [b"b"])
    assert await waiter is True
    assert loop.time() - started < 5  # the tick, not the 30 s timeout


async def test_a_stream_deleted_by_one_log_is_made_again_above_its_seqs_by_another(
    pair: tuple[JetStreamEventLog, JetStreamEventLog],
) -> None:
    one, two = pair
    await two.append("channel:c", payloads("e", 3))  # two knows the stream exists
    await one.save_cursor("subscription:s@channel:c", "channel:c", 2)
    await one.delete_stream("channel:c")
    assert await two.last_seq("channel:c") == 3  # the high-water mark outlives the stream
    assert await two.load_cursor("subscription:s@channel:c") is None
    assert await two.append("channel:c", [b"again"]) == [4]
    assert await one.append("channel:c", [b"more"]) == [5]
    assert [r.seq for r in await one.read("channel:c", 0, 10)] == [4, 5]
    await one.delete_stream("channel:c")
    await one.delete_stream("channel:c")  # twice is fine
    assert await two.append("channel:c", [b"third life"]) == [6]


async def test_records_carry_the_servers_time_without_a_clock(
    pair: tuple[JetStreamEventLog, JetStreamEventLog],
) -> None:
    one, _ = pair
    before = time.time()
    await one.append("b", payloads("e", 3))
    after = time.time()
    records = await one.read("b", 0, 10)
    assert all(before - 1 <= r.appended_at <= after + 1 for r in records)
    assert [r.appended_at for r in records] == sorted(r.appended_at for r in records)
    await one.save_cursor("trigger:t@b", "b", 2)
    assert await one.trim(3600) == 0  # young
    await asyncio.sleep(0.05)
    assert await one.trim(0) == 2  # old enough, and only up to the cursor
    assert [r.seq for r in await one.read("b", 0, 10)] == [3]


async def test_server_names_come_from_kawa_names_and_nothing_is_left_behind(
    nats_url: str,
) -> None:
    prefix = unique("n")
    client, js = await connect(NatsOptions((nats_url,)))
    log = await JetStreamEventLog.open((client, js), prefix=prefix)
    try:
        await log.append("broker:0f1e", [b"x"])
        await log.append("weird name/with.dots*>", [b"y"])
        await log.save_cursor("trigger:1@broker:0f1e", "broker:0f1e", 0)
        assert await log.trim(0) == 1  # only the stream whose cursor is not past its record
        info = await js.stream_info(f"{prefix}_broker_3A0f1e")
        assert info.config.subjects == [f"{prefix}.log.broker_3A0f1e"]
        await log.delete_stream("broker:0f1e")
        await log.delete_stream("weird name/with.dots*>")
        names = [str(s.config.name) for s in await js.streams_info()]
        mine = [name for name in names if name.startswith(f"{prefix}_")]
        assert mine == []
    finally:
        await log.close()
        await client.close()


async def test_a_foreign_stream_of_our_name_is_refused_and_left_alone(nats_url: str) -> None:
    prefix = unique("f")
    client, js = await connect(NatsOptions((nats_url,)))
    log = await JetStreamEventLog.open((client, js), prefix=prefix)
    try:
        await js.add_stream(StreamConfig(name=f"{prefix}_b", subjects=[f"someone.{prefix}"]))
        await js.publish(f"someone.{prefix}", b"theirs")
        with pytest.raises(StreamConflict) as caught:
            await log.append("b", [b"x"])
        assert str(caught.value) == (
            f"JetStream stream {prefix}_b has the name of an event log stream of kawa's "
            f"(streams named {prefix}_... are kawa's) but holds ['someone.{prefix}'], not "
            f"kawa's [{prefix}.log.b]: kawa changes nothing in it; if it is not kawa's, "
            f"remove it (nats stream rm {prefix}_b) or give kawa a NATS account of its own"
        )
        await log.delete_stream("b")  # not ours: nothing to delete
        assert await log.trim(0) == 0
        info = await js.stream_info(f"{prefix}_b")
        assert (info.config.subjects, info.state.messages) == ([f"someone.{prefix}"], 1)
        assert not info.config.sealed
    finally:
        await log.close()
        await client.close()


async def test_a_foreign_stream_holding_our_subjects_is_named_and_never_trimmed(
    nats_url: str,
) -> None:
    prefix = unique("o")
    client, js = await connect(NatsOptions((nats_url,)))
    log = await JetStreamEventLog.open((client, js), prefix=prefix)
    try:
        await js.add_stream(StreamConfig(name=f"other{prefix}", subjects=[f"{prefix}.log.z"]))
        await js.publish(f"{prefix}.log.z", b"theirs")
        with pytest.raises(StreamConflict) as caught:
            await log.append("z", [b"x"])
        assert str(caught.value).startswith(
            f"JetStream stream other{prefix} holds subjects of the event log ({prefix}.log.z), "
            f"so kawa cannot make its stream {prefix}_z there: kawa changes nothing in "
            f"other{prefix}"
        )
        assert await log.append("a", [b"1"]) == [1]
        await asyncio.sleep(0.05)
        assert await log.trim(0) == 1  # its own record; the other stream's stays
        info = await js.stream_info(f"other{prefix}")
        assert info.state.messages == 1
    finally:
        await log.close()
        await client.close()


@pytest.mark.parametrize(
    ("make", "said"),
    [
        pytest.param(
            lambda p: StreamConfig(name=f"{p}_x", subjects=[f"elsewhere.{p}"]),
            "JetStream stream {p}_x has the name of an event log stream of kawa's",
            id="our name",
        ),
        pytest.param(
            lambda p: StreamConfig(name=f"wide{p}", subjects=[f"{p}.>"]),
            "JetStream stream wide{p} holds subjects of the event log ({p}.log.>)",
            id="our subjects",
        ),
        pytest.param(
            lambda p: StreamConfig(
                name=f"KV_{p}_eventlog", subjects=[f"$KV.{p}_eventlog.>"], max_age=3600.0
            ),
            "JetStream stream KV_{p}_eventlog (the event log's KV bucket {p}_eventlog) exists "
            "with other settings than kawa's: discard is old, kawa's is new; max_age is 3600s, "
            "kawa's is 0s; history (max_msgs_per_subject) is -1, kawa's is 1; deny_delete is "
            "false, kawa's is true; allow_rollup_hdrs is false, kawa's is true. kawa changes "
            "nothing in it",
            id="our bucket",
        ),
    ],
)
async def test_the_check_refuses_what_the_log_cannot_use(
    nats_url: str, make: Callable[[str], StreamConfig], said: str
) -> None:
    prefix = unique("c")
    client, js = await connect(NatsOptions((nats_url,)))
    try:
        await _js_streams.check(client, js, Names(prefix), 1)  # nothing there: fine
        stream = make(prefix)
        await js.add_stream(stream)
        before = await js.streams_info()
        with pytest.raises(StreamConflict) as caught:
            await _js_streams.check(client, js, Names(prefix), 1)
        assert said.format(p=prefix) in str(caught.value)
        after = await js.streams_info()
        assert [s.config for s in after] == [s.config for s in before]  # nothing made or changed
    finally:
        await client.close()


async def test_the_check_passes_the_logs_own_and_refuses_other_replicas(nats_url: str) -> None:
    prefix = unique("r")
    client, js = await connect(NatsOptions((nats_url,)))
    log = await JetStreamEventLog.open((client, js), prefix=prefix)
    try:
        await log.append("broker:a", [b"x"])
        await _js_streams.check(client, js, Names(prefix), 1)
        with pytest.raises(StreamConflict) as caught:
            await _js_streams.check(client, js, Names(prefix), 3)
        assert str(caught.value).startswith(
            f"JetStream stream KV_{prefix}_eventlog (the event log's KV bucket "
            f"{prefix}_eventlog) has 1 replica(s), and kawa was started with --nats-replicas 3"
        )
        await js.delete_stream(f"KV_{prefix}_eventlog")  # as if the bucket had three
        with pytest.raises(StreamConflict) as caught:
            await _js_streams.check(client, js, Names(prefix), 3)
        assert str(caught.value).startswith(
            f"JetStream stream {prefix}_broker_3Aa (an event log stream of kawa's) has 1 "
            "replica(s), and kawa was started with --nats-replicas 3"
        )
    finally:
        await log.close()
        await client.close()


async def test_a_half_made_stream_is_finished_above_its_mark(nats_url: str) -> None:
    # A process died between creating a stream (on its init subject) and opening it.
    prefix = unique("h")
    client, js = await connect(NatsOptions((nats_url,)))
    log = await JetStreamEventLog.open((client, js), prefix=prefix)
    try:
        await log.append("b", payloads("e", 7))
        await log.delete_stream("b")
        names = Names(prefix)
        await js.add_stream(_js_streams.config(names, names.of("b"), "b", 1, initial=True))
        assert await log.last_seq("b") == 7
        assert await log.append("b", [b"x"]) == [8]
    finally:
        await log.close()
        await client.close()


async def test_a_closed_log_refuses_work_and_leaves_a_given_connection_open(
    nats_url: str,
) -> None:
    client, js = await connect(NatsOptions((nats_url,)))
    log = await JetStreamEventLog.open((client, js), prefix=unique("c"))
    await log.close()
    with pytest.raises(PermanentError):
        await log.append("b", [b"x"])
    assert await log.wait("b", 0, 10) is False
    assert client.is_connected
    await client.close()


async def test_a_bad_prefix_is_reported(nats_url: str) -> None:
    with pytest.raises(ValidationError, match="prefix"):
        await JetStreamEventLog.open(NatsOptions((nats_url,)), prefix="a.b")


async def test_the_duplicate_window_stores_a_resent_record_once(nats_url: str) -> None:
    log = await JetStreamEventLog.open(NatsOptions((nats_url,)), prefix=unique("d"))
    try:
        assert await log.append("s", [b"a", b"b"], ids=["id-a", "id-b"]) == [1, 2]
        # A sender retrying "a" (no answer the first time) and sending "c": "a" is kept once.
        assert await log.append("s", [b"a again", b"c"], ids=["id-a", "id-c"]) == [1, 3]
        assert [r.payload for r in await log.read("s", 0, 10)] == [b"a", b"b", b"c"]
        assert await log.append("s", [b"no id"]) == [4]  # without ids: always stored
    finally:
        await log.close()


async def test_a_dead_feeds_records_come_again_after_the_ack_wait_the_newest_node_set(
    nats_url: str,
) -> None:
    """``--nats-ack-wait``: how soon a killed node's deliveries come back. A node started with
    another value updates the durable consumer the older node made."""
    prefix, consumer = unique("w"), "trigger:w@s"
    first = await JetStreamEventLog.open(NatsOptions((nats_url,)), prefix=prefix)  # 10 s
    feed = first.feed(consumer, "s")
    await feed.start(None)
    await first.append("s", [b"held"])
    async with asyncio.timeout(5):
        while not await feed.read(1):
            await feed.wait(0.5)
    # The node dies holding the record: no ack, no nak, no more progress notes.
    assert feed._progress is not None
    feed._progress.cancel()
    await asyncio.gather(feed._progress, return_exceptions=True)
    await first.close()

    second = await JetStreamEventLog.open(NatsOptions((nats_url,), ack_wait=1.0), prefix=prefix)
    try:
        again = second.feed(consumer, "s")
        started = time.monotonic()
        await again.start(None)
        info = await second.js.consumer_info(second.names.of("s").stream, durable_name(consumer))
        assert info.config.ack_wait == 1.0
        taken: list[Record] = []
        async with asyncio.timeout(8):  # the old AckWait (10 s) would not make it
            while not taken:
                if await again.wait(0.5):
                    taken = await again.read(1)
        assert [r.payload for r in taken] == [b"held"]
        assert time.monotonic() - started < 8
        await again.done(taken[0].seq)
        await again.stop()
    finally:
        await second.close()


async def _take_dying(log: JetStreamEventLog, consumer: str, n: int) -> None:
    """A feed of ``consumer`` takes ``n`` records and its process dies holding them."""
    feed = log.feed(consumer, "s")
    await feed.start(None)
    taken: list[Record] = []
    async with asyncio.timeout(5):
        while len(taken) < n:
            if await feed.wait(0.5):
                taken += await feed.read(n - len(taken))
    assert feed._progress is not None
    feed._progress.cancel()
    await asyncio.gather(feed._progress, return_exceptions=True)
    await log.close()


@pytest.mark.parametrize("in_order", [True, False])
async def test_an_in_order_start_hands_out_what_a_dead_puller_held_first(
    nats_url: str, in_order: bool
) -> None:
    """An ordered trigger's next puller: the records the dead one held come before the records
    appended after (without ``in_order`` the later ones come first, which is fine unordered)."""
    prefix, consumer = unique("o"), "trigger:o@s"
    options = NatsOptions((nats_url,), ack_wait=1.0)
    first = await JetStreamEventLog.open(options, prefix=prefix)
    await first.append("s", [b"0"])  # the stream exists before the feed starts at its end
    feed = first.feed(consumer, "s")
    await feed.start(None)
    await feed.stop()
    await first.append("s", [b"1", b"2", b"3"])
    await _take_dying(await JetStreamEventLog.open(options, prefix=prefix), consumer, 3)
    second = await JetStreamEventLog.open(options, prefix=prefix)
    try:
        await second.append("s", [b"4", b"5", b"6"])
        again = second.feed(consumer, "s")
        await again.start(None, in_order=in_order)
        got: list[bytes] = []
        async with asyncio.timeout(10):
            while len(got) < 6:
                if await again.wait(0.5):
                    for record in await again.read(6):
                        got.append(record.payload)
                        await again.done(record.seq)
        if in_order:
            assert got == [b"1", b"2", b"3", b"4", b"5", b"6"]
        else:
            assert got[:3] == [b"4", b"5", b"6"], got
        await again.stop()
    finally:
        await first.close()
        await second.close()


async def test_every_cursor_is_listed_and_a_deleted_one_is_not(nats_url: str) -> None:
    # the listing a trim and a stream's deletion rely on: from the bucket's stream, not
    # nats-py's key-value watch (which can say "all given" before it gave any, under load)
    log = await JetStreamEventLog.open(NatsOptions((nats_url,)), prefix=unique("w"))
    try:
        for n in range(60):
            await log.save_cursor(f"trigger:t{n}@broker:s", "broker:s", n + 1)
        await log.delete_cursor("trigger:t7@broker:s")
        listed = {key: (stream, seq) async for key, stream, seq in log._cursors()}
        assert len(listed) == 59
        assert Names.cursor_key("trigger:t7@broker:s") not in listed
        assert Names.cursor_key("trigger:t8@broker:s") in listed
        assert sorted(seq for _, seq in listed.values()) == [n + 1 for n in range(60) if n != 7]
        assert {stream for stream, _ in listed.values()} == {"broker:s"}
    finally:
        await log.close()
