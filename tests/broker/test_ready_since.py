"""A new trigger delivers the events sent since it became Ready, however late its consumer
starts: an event sent the moment ``kubectl wait`` returns is not lost to the race between the
data plane noticing Ready and the sender (issue 10, dependency tracking)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from kawa.broker import envelope
from kawa.broker.dataplane import BROKERS, TRIGGERS, BrokerDataPlane
from kawa.delivery.sender import Dispatcher
from kawa.eventlog.feed import start_after
from kawa.eventlog.memory import MemoryEventLog
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from .broker_support import broker, event, subscriber, trigger


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def appended_at(log: MemoryEventLog, clock: Clock, stream: str, times: list[float]) -> None:
    for i, at in enumerate(times):
        clock.now = at
        await log.append(stream, [envelope.on_ingress(event(f"e{i}"))])


async def test_start_after_finds_the_last_record_before_the_moment() -> None:
    clock = Clock(0)
    log = MemoryEventLog(clock=clock)
    times = [float(t) for t in range(100, 400)]  # one record a second, seqs 1..300
    await appended_at(log, clock, "s", times)
    assert await start_after(log, "s", None) == 300  # unknown: from the end, as before
    assert await start_after(log, "s", 250.0) == 150  # records at 250 and later are kept
    assert await start_after(log, "s", 250.5) == 151
    assert await start_after(log, "s", 50.0) == 0  # Ready before everything: all of it
    assert await start_after(log, "s", 1000.0) == 300  # Ready after everything: nothing
    assert await start_after(log, "empty", 250.0) == 0
    await log.close()


async def test_a_trigger_ready_before_its_consumer_starts_gets_what_was_sent_since() -> None:
    clock = Clock(0)
    log = MemoryEventLog(clock=clock)
    store = SqliteResourceStore(":memory:")
    ready_at = 1_700_000_100.0
    try:
        async with subscriber() as sub:
            b = await store.create(ResourceKey(BROKERS, "default", "default"), broker())
            t = await store.create(ResourceKey(TRIGGERS, "default", "t1"), trigger("t1", sub.url))
            moment = datetime.fromtimestamp(ready_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            status = {
                "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": moment}],
                "subscriberUri": sub.url,
            }
            await store.update(
                ResourceKey(TRIGGERS, "default", "t1"), dict(t, status=status), status_only=True
            )
            # before Ready (not delivered), then twice after Ready, all before the data plane
            # (and so the trigger's consumer) has started
            stream = f"broker:{b['metadata']['uid']}"
            await appended_at(log, clock, stream, [ready_at - 60, ready_at + 0.2, ready_at + 1])
            clock.now = ready_at + 2
            async with Dispatcher() as dispatcher, asyncio.TaskGroup() as tg:
                plane = BrokerDataPlane(store, log, dispatcher, trim_interval=0)
                running = tg.create_task(plane.run())
                got = await sub.wait_for(2)
                assert [e.attributes["id"] for e in got] == ["e1", "e2"]
                running.cancel()
    finally:
        await log.close()
        await store.close()
