"""The EventLog contract against NATS JetStream (a private nats-server), plus what only a shared
server can show: two log objects (two processes' worth) on one stream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.js.api import StreamConfig

from kawa.errors import PermanentError, ValidationError
from kawa.eventlog import EventLog, _js_streams
from kawa.eventlog._js_names import Names
from kawa.eventlog.jetstream import JetStreamEventLog
from kawa.jetstream import NatsOptions, connect

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
        await js.add_stream(StreamConfig(name=f"{prefix}_b", subjects=["someone.else"]))
        with pytest.raises(PermanentError, match=f"{prefix}_b exists with subjects"):
            await log.append("b", [b"x"])
        info = await js.stream_info(f"{prefix}_b")
        assert (info.config.subjects, info.state.messages) == (["someone.else"], 0)
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
