"""A Broker's ``kawa.dev/retention``: the data plane trims that broker's stream by its own
retention while another broker's stream goes by the log's."""

from __future__ import annotations

import asyncio

from kawa.apis.retention import ANNOTATION
from kawa.broker.dataplane import BROKERS, BrokerDataPlane, broker_stream
from kawa.delivery.sender import Dispatcher
from kawa.eventlog.memory import MemoryEventLog
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ..eventlog.contract import FakeClock
from .broker_support import broker, publish_once_known, trimmed_away


async def test_one_broker_keeps_its_events_while_another_is_trimmed() -> None:
    clock = FakeClock()
    store = SqliteResourceStore(":memory:")
    log = MemoryEventLog(clock=clock)
    try:
        async with Dispatcher() as dispatcher, asyncio.TaskGroup() as tg:
            # the log's own retention: one minute
            plane = BrokerDataPlane(store, log, dispatcher, retention=60.0, trim_interval=0)
            running = tg.create_task(plane.run())
            archive = broker("archive")
            archive["metadata"]["annotations"] = {ANNOTATION: "PT1H"}
            kept = await store.create(ResourceKey(BROKERS, "default", "archive"), archive)
            plain = await store.create(ResourceKey(BROKERS, "default", "plain"), broker("plain"))

            await publish_once_known(plane, ("archive", "plain"))
            kept_stream = broker_stream(kept["metadata"]["uid"])
            plain_stream = broker_stream(plain["metadata"]["uid"])
            clock.advance(600)  # ten minutes: past the log's retention, within the broker's
            assert await plane.trimmer.trim() >= 1
            assert len(await log.read(kept_stream, 0, 10)) == 1
            assert await log.read(plain_stream, 0, 10) == []

            # a shorter retention applies from the next trim
            archive = await store.get(ResourceKey(BROKERS, "default", "archive"))
            archive["metadata"]["annotations"][ANNOTATION] = "300"
            await store.update(ResourceKey(BROKERS, "default", "archive"), archive)

            await trimmed_away(plane.trimmer.trim, log, kept_stream)
            running.cancel()
    finally:
        await log.close()
        await store.close()
