"""PingSource events over real HTTP: attributes, data, time zones, updates and deletion.

kawa's ping scheduler and PingSource controller run against a real SQLite store and a real
Dispatcher; the sink is a real aiohttp server on 127.0.0.1. Schedules use the seconds field
(``* * * * * *``: every second), so each test takes a few seconds of real time.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kawa.delivery.sender import Dispatcher
from kawa.sources.ping import PingScheduler, ping_sources
from kawa.sources.ping.state import TickStore
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ...waiting import eventually
from .support import Sink, create, key_of, ping_source, running, tick_times, wait_until


def from_source(sink: Sink, name: str) -> int:
    """How many events the sink got from PingSource ``name``."""
    return sum(1 for e in sink.events if e.source.rsplit("/", 1)[1] == name)


async def test_events_carry_knatives_attributes_the_data_and_the_overrides(
    store: SqliteResourceStore, sink: Sink, dispatcher: Dispatcher, tmp_path: Path
) -> None:
    await create(
        store,
        ping_source(
            "text",
            sink.url,
            data='{"message": "Hello world!"}',
            contentType="application/json",
            ceOverrides={"extensions": {"team": "kawa"}},
        ),
    )
    raw = bytes([0, 1, 2, 253, 254, 255])
    await create(
        store,
        ping_source(
            "binary",
            sink.url,
            namespace="other",
            dataBase64=base64.b64encode(raw).decode(),
            contentType="application/octet-stream",
        ),
    )
    started = datetime.now(UTC)
    async with running(*ping_sources(store, dispatcher, data_dir=tmp_path)):
        await sink.wait_for(6)
    text = [e for e in sink.events if e.source == "/apis/v1/namespaces/default/pingsources/text"]
    binary = [e for e in sink.events if e.source == "/apis/v1/namespaces/other/pingsources/binary"]
    assert len(text) >= 2
    assert len(binary) >= 2
    for event in text:
        assert event.type == "dev.knative.sources.ping"
        assert event.specversion == "1.0"
        assert event.datacontenttype == "application/json"
        assert event.data == b'{"message": "Hello world!"}'
        assert event.get("team") == "kawa"
    for event in binary:
        assert event.datacontenttype == "application/octet-stream"
        assert event.data == raw
        assert event.get("team") is None
    # A fresh uuid4 per tick; time = the tick, a whole second, after the source was created.
    ids = [e.id for e in sink.events]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 4 for i in ids)
    times = tick_times(text)
    assert all(t.microsecond == 0 and t.tzinfo is not None for t in times)
    assert times == sorted(times)
    assert len(set(times)) == len(times)
    assert times[0] > started - timedelta(seconds=1)
    for event, arrived in zip(sink.events, sink.arrivals, strict=True):
        (tick,) = tick_times([event])
        assert tick <= arrived + timedelta(seconds=0.01)


async def test_the_timezone_is_honoured(
    store: SqliteResourceStore, sink: Sink, dispatcher: Dispatcher, tmp_path: Path
) -> None:
    # Every second of this minute and the next on Kathmandu's wall clock (UTC+05:45). Read
    # as UTC, the same schedule names minutes 45 minutes away: the UTC twin never fires.
    now = datetime.now(ZoneInfo("Asia/Kathmandu"))
    soon = now + timedelta(minutes=1)
    schedule = f"* {now.minute},{soon.minute} {now.hour},{soon.hour} * * *"
    await create(
        store, ping_source("kathmandu", sink.url, schedule=schedule, timezone="Asia/Kathmandu")
    )
    await create(store, ping_source("utc", sink.url, schedule=schedule))
    async with running(*ping_sources(store, dispatcher, data_dir=tmp_path)):
        await sink.wait_for(3)
    assert {e.source.rsplit("/", 1)[1] for e in sink.events} == {"kathmandu"}
    assert all(str(e.attributes["time"]).endswith("Z") for e in sink.events)


async def test_an_updated_schedule_applies_at_once_and_deletion_stops_events(
    store: SqliteResourceStore, sink: Sink, dispatcher: Dispatcher, tmp_path: Path
) -> None:
    created = await create(store, ping_source("p", sink.url, schedule="0 0 1 1 *"))
    states = TickStore(store, tmp_path)
    uid = created["metadata"]["uid"]
    parts = ping_sources(store, dispatcher, data_dir=tmp_path)
    scheduler = next(p for p in parts if isinstance(p, PingScheduler))
    async with running(*parts):
        ready = await wait_until(store, key_of("p"), lambda o: "sinkUri" in o.get("status", {}))
        await asyncio.sleep(1.2)  # the behaviour under test: a second passes, no yearly tick
        assert sink.events == []  # once a year
        spec = dict(ready["spec"], schedule="* * * * * *")
        await store.update(key_of("p"), dict(ready, spec=spec))
        changed_at = datetime.now(UTC)
        await sink.wait_for(1, timeout=5)
        assert tick_times(sink.events)[0] - changed_at < timedelta(seconds=1.5)
        assert await states.get("default", uid) is not None

        await store.delete(key_of("p"))

        async def stopped() -> bool:  # the scheduler sees the deletion through its watch
            gone = await states.get("default", uid) is None
            return ("default", "p") not in scheduler.scheduled() and gone

        await eventually(stopped, 5.0, "the deleted source kept its timer or its state")
        # a source created now ticks every second, as "p" did: after its first event (any
        # event of "p" on the wire has arrived), two more seconds without one from "p"
        await create(store, ping_source("witness", sink.url))

        async def witnessed(count: int) -> bool:
            return from_source(sink, "witness") >= count

        await eventually(lambda: witnessed(1), 5.0, "the witness never ticked")
        seen = from_source(sink, "p")
        await eventually(lambda: witnessed(3), 5.0, "the witness stopped ticking")
        assert from_source(sink, "p") == seen


async def test_an_invalid_source_in_the_store_is_not_scheduled(
    store: SqliteResourceStore,
    sink: Sink,
    dispatcher: Dispatcher,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Admission rejects this; an object written straight to the store must not crash kawa.
    bad = ping_source("bad", sink.url, schedule="every second please")
    await store.create(ResourceKey("pingsources.sources.knative.dev", "default", "bad"), bad)
    parts = ping_sources(store, dispatcher, data_dir=tmp_path)
    scheduler = next(p for p in parts if isinstance(p, PingScheduler))
    async with running(*parts):
        obj = await wait_until(store, key_of("bad"), lambda o: "conditions" in o.get("status", {}))

        async def refused() -> bool:
            return any("default/bad is not scheduled" in r.getMessage() for r in caplog.records)

        await eventually(refused, 5.0, "the scheduler never looked at the source")
        assert ("default", "bad") not in scheduler.scheduled()
    deployed = next(c for c in obj["status"]["conditions"] if c["type"] == "Deployed")
    assert deployed["status"] == "False"
    assert deployed["reason"] == "Invalid"
    assert "spec.schedule: invalid cron schedule" in deployed["message"]
    assert sink.events == []
