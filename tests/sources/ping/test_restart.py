"""The restart rule: across a kawa restart a PingSource neither misses nor doubles a tick.

Each test runs the scheduler, stops it (kawa down), and starts a new one on the same data
directory, with a real store, a real Dispatcher and a real HTTP sink.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kawa.apis.conditions import system_clock
from kawa.delivery.sender import Dispatcher
from kawa.sources.ping import PingScheduler, ping_sources
from kawa.sources.ping.state import TickState, TickStore
from kawa.sources.sink import SinkSender
from kawa.store.sqlite import SqliteResourceStore

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
    tick_store = TickStore(tmp_path / "sources" / "ping")
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    await tick_store.save(uid, TickState("default/p", "* * * * * *", "", long_ago))
    scheduler = PingScheduler(
        store, SinkSender(dispatcher), tick_store, clock=system_clock, window=3.0
    )
    started = datetime.now(UTC)
    async with running(scheduler):
        await sink.wait_for(5)
    times = tick_times(sink.events)
    assert consecutive(times), times
    assert times[0] >= started - timedelta(seconds=3.5)  # not two hours of ticks
    saved = json.loads((tick_store.directory / f"{uid}.json").read_text())
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
    """A state write outlives its timer, cancelled in the middle of it (a thread cannot be
    stopped), but not the scheduler: once kawa is down, no write of it lands any more."""
    writing, written = threading.Event(), threading.Event()
    save = TickStore._save

    def slow_save(self: TickStore, uid: str, state: TickState) -> None:
        writing.set()
        time.sleep(0.3)  # a slow disk: the write is under way when kawa stops
        save(self, uid, state)
        written.set()

    monkeypatch.setattr(TickStore, "_save", slow_save)
    await create(store, ping_source("p", sink.url, schedule="0 0 1 1 *"))
    async with running(*ping_sources(store, dispatcher, data_dir=tmp_path)):
        assert await asyncio.to_thread(writing.wait, 10)  # the new source's first state
    assert written.is_set()


async def test_a_source_deleted_while_kawa_was_down_loses_its_state(
    store: SqliteResourceStore, sink: Sink, dispatcher: Dispatcher, tmp_path: Path
) -> None:
    tick_store = TickStore(tmp_path / "sources" / "ping")
    await tick_store.save("gone-uid", TickState("default/gone", "* * * * *", "", datetime.now(UTC)))
    (tick_store.directory / "broken-uid.json").write_text("{not json")
    await create(store, ping_source("p", sink.url, schedule="0 0 1 1 *"))
    scheduler = PingScheduler(store, SinkSender(dispatcher), tick_store, clock=system_clock)
    async with running(scheduler):
        await asyncio.wait_for(scheduler.ready.wait(), 10)
        assert scheduler.scheduled() == {("default", "p")}
        assert await tick_store.load("broken-uid") is None
    assert "gone-uid" not in await tick_store.uids()
    assert "broken-uid" not in await tick_store.uids()
