"""The restart rule: across a kawa restart a PingSource neither misses nor doubles a tick.

Each test runs the scheduler, stops it (kawa down), and starts a new one on the same store
(where the state is kept), with a real Dispatcher and a real HTTP sink; the last tests run
two schedulers at once, as an old leader that does not know it lost its lease and the new
one.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kawa.apis.conditions import system_clock
from kawa.delivery.sender import Dispatcher
from kawa.sources.ping import PingScheduler, ping_sources
from kawa.sources.ping.state import STATES, Pending, TickState, TickStore
from kawa.sources.sink import SinkSender
from kawa.store.base import Obj, ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ...waiting import eventually
from .support import Sink, create, ping_source, running, tick_times


async def until_mid_second() -> None:
    """Sleep until 0.4 s past a whole second (every-second ticks are 0.6 s away)."""
    now = datetime.now(UTC)
    await asyncio.sleep((0.4 - now.microsecond / 1e6) % 1.0)


def consecutive(times: list[datetime]) -> bool:
    return all(b - a == timedelta(seconds=1) for a, b in itertools.pairwise(times))


async def test_ticks_missed_while_down_fire_once_on_restart(
    store: SqliteResourceStore, sink: Sink, dispatcher: Dispatcher, tmp_path: Path
) -> None:
    await create(store, ping_source("p", sink.url))
    async with running(*ping_sources(store, dispatcher, data_dir=tmp_path)):
        await sink.wait_for(2)
        await until_mid_second()
    before = len(sink.events)
    await asyncio.sleep(2.0)  # the behaviour under test: kawa is down for two ticks
    assert len(sink.events) == before
    async with running(*ping_sources(store, dispatcher, data_dir=tmp_path)):
        await sink.wait_for(before + 4)
        await until_mid_second()
    times = tick_times(sink.events)
    assert consecutive(times), times  # nothing missed, nothing doubled
    ids = [e.id for e in sink.events]
    assert len(set(ids)) == len(ids)
    # The missed ticks arrived late, at once, with their own scheduled time.
    late = [
        (arrived - tick).total_seconds() for tick, arrived in zip(times, sink.arrivals, strict=True)
    ][before : before + 2]
    assert all(delay > 0.25 for delay in late), late


async def test_an_event_in_flight_when_kawa_stops_is_sent_again_with_the_same_id(
    store: SqliteResourceStore, sink: Sink, dispatcher: Dispatcher, tmp_path: Path
) -> None:
    await create(store, ping_source("p", sink.url))
    sink.stall_next = True  # the first event is taken but never answered
    async with running(*ping_sources(store, dispatcher, data_dir=tmp_path)):
        await asyncio.wait_for(sink.stalling.wait(), 10)
    (stalled,) = sink.stalled
    async with running(*ping_sources(store, dispatcher, data_dir=tmp_path)):
        await sink.wait_for(3)
    first = sink.events[0]
    assert first.id == stalled.id
    assert first.attributes["time"] == stalled.attributes["time"]
    times = tick_times([stalled, *sink.events[1:]])
    assert consecutive(times), times
    assert len({e.id for e in sink.events}) == len(sink.events)


async def test_ticks_older_than_the_window_are_skipped(
    store: SqliteResourceStore, sink: Sink, dispatcher: Dispatcher, tmp_path: Path
) -> None:
    created = await create(store, ping_source("p", sink.url))
    uid = created["metadata"]["uid"]
    tick_store = TickStore(store, tmp_path)
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    await (await tick_store.load("default", uid)).record(
        TickState("default/p", "* * * * * *", "", long_ago)
    )
    scheduler = PingScheduler(
        store, SinkSender(dispatcher), tick_store, clock=system_clock, window=3.0
    )
    started = datetime.now(UTC)
    async with running(scheduler):
        await sink.wait_for(5)
    times = tick_times(sink.events)
    assert consecutive(times), times
    assert times[0] >= started - timedelta(seconds=3.5)  # not two hours of ticks
    saved = await tick_store.get("default", uid)
    assert saved is not None
    # The last tick fired is recorded (or still claimed, when kawa stopped mid-send).
    last = saved["pending"]["tick"] if saved["pending"] else saved["last"]
    assert datetime.fromisoformat(last) >= times[-1]


async def test_kawa_stops_after_the_state_write_under_way(
    store: SqliteResourceStore,
    sink: Sink,
    dispatcher: Dispatcher,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A state write outlives its timer, cancelled in the middle of it, but not the scheduler:
    once kawa is down, the write has landed (whoever runs the source next reads it)."""
    created = await create(store, ping_source("p", sink.url, schedule="0 0 1 1 *"))
    writing = asyncio.Event()
    update = store.update

    async def slow_update(key: ResourceKey, obj: Obj, **options: Any) -> Obj:
        if key.resource == STATES:
            writing.set()
            await asyncio.sleep(0.3)  # a slow store: the write is under way when kawa stops
        return await update(key, obj, **options)

    monkeypatch.setattr(store, "update", slow_update)
    async with running(*ping_sources(store, dispatcher, data_dir=tmp_path)):
        # the new source's first state, written after its claim
        await asyncio.wait_for(writing.wait(), 10)
    saved = await TickStore(store, tmp_path).get("default", created["metadata"]["uid"])
    assert saved is not None
    assert saved["schedule"] == "0 0 1 1 *"


async def test_a_source_deleted_while_kawa_was_down_loses_its_state(
    store: SqliteResourceStore, sink: Sink, dispatcher: Dispatcher, tmp_path: Path
) -> None:
    tick_store = TickStore(store, tmp_path)
    gone = await tick_store.load("default", "gone-uid")
    await gone.record(TickState("default/gone", "* * * * *", "", datetime.now(UTC)))
    tick_store.legacy.mkdir(parents=True)  # an older kawa's files
    (tick_store.legacy / "gone-file.json").write_text("{}")
    (tick_store.legacy / "broken-uid.json").write_text("{not json")
    await create(store, ping_source("p", sink.url, schedule="0 0 1 1 *"))
    scheduler = PingScheduler(store, SinkSender(dispatcher), tick_store, clock=system_clock)
    async with running(scheduler):
        await asyncio.wait_for(scheduler.ready.wait(), 10)
        assert scheduler.scheduled() == {("default", "p")}
    assert await tick_store.get("default", "gone-uid") is None
    assert list(tick_store.legacy.iterdir()) == []


async def test_an_older_kawas_file_moves_into_the_store(
    store: SqliteResourceStore, sink: Sink, dispatcher: Dispatcher, tmp_path: Path
) -> None:
    """A kawa that kept the state in its data dir stopped mid-send; the kawa that starts next
    sends that event again, with its id, from the file (then removed), and goes on."""
    created = await create(store, ping_source("p", sink.url))
    uid = created["metadata"]["uid"]
    tick = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    old = TickState("default/p", "* * * * * *", "", tick - timedelta(seconds=1))
    old = old.claimed(Pending("the-id-it-was-given", tick))
    legacy = tmp_path / "sources" / "ping"
    legacy.mkdir(parents=True)
    (legacy / f"{uid}.json").write_text(json.dumps(old.to_json()))
    async with running(*ping_sources(store, dispatcher, data_dir=tmp_path)):
        await sink.wait_for(3)
    assert sink.events[0].id == "the-id-it-was-given"
    assert tick_times(sink.events)[0] == tick
    assert consecutive(tick_times(sink.events))
    assert not (legacy / f"{uid}.json").exists()
    saved = await TickStore(store, tmp_path).get("default", uid)
    assert saved is not None
    assert datetime.fromisoformat(saved["last"]) >= tick


async def test_a_scheduler_whose_state_was_taken_stops(
    store: SqliteResourceStore,
    sink: Sink,
    dispatcher: Dispatcher,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two schedulers on one store, as an old leader that lost its lease without knowing it
    and the new one: the new one claims the state, the old one stops at its next save. No
    tick is sent with two ids (the one in flight may come twice, with its id)."""
    await create(store, ping_source("p", sink.url))
    async with running(*ping_sources(store, dispatcher, data_dir=tmp_path / "old")):
        await sink.wait_for(2)
        async with running(*ping_sources(store, dispatcher, data_dir=tmp_path / "new")):

            async def taken() -> bool:
                said = "another kawa process schedules"
                return any(said in r.getMessage() for r in caplog.records)

            await eventually(taken, 5.0, "the old scheduler went on")
            await sink.wait_for(len(sink.events) + 2)
    ids: dict[str, set[str]] = {}
    for event in sink.events:
        ids.setdefault(str(event.attributes["time"]), set()).add(event.id)
    assert all(len(one) == 1 for one in ids.values()), ids
    assert consecutive(sorted({t for t in tick_times(sink.events)})), tick_times(sink.events)
