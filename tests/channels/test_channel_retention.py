"""An InMemoryChannel's ``kawa.dev/retention``: the channel data plane trims that channel's
events and lineage by its own retention while another channel's go by the log's."""

from __future__ import annotations

import asyncio

from kawa.apis.messaging import INMEMORYCHANNEL
from kawa.apis.retention import ANNOTATION
from kawa.channels.dataplane import ChannelDataPlane, channel_stream
from kawa.delivery.sender import Dispatcher
from kawa.dispatch.budget import DeliveryBudget
from kawa.dispatch.lineage import lineage_stream
from kawa.dispatch.running import Trimmer
from kawa.eventlog.memory import MemoryEventLog
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ..broker.broker_support import publish_once_known, trimmed_away
from ..eventlog.contract import FakeClock
from ..waiting import eventually
from .channel_support import imc


async def test_one_channel_keeps_its_events_and_lineage_while_another_is_trimmed() -> None:
    clock = FakeClock()
    store = SqliteResourceStore(":memory:")
    log = MemoryEventLog(clock=clock)
    trimmer = Trimmer(log, retention=60.0, interval=3600.0)  # the log's own: one minute
    try:
        async with Dispatcher() as dispatcher, asyncio.TaskGroup() as tg:
            plane = ChannelDataPlane(
                store, log, dispatcher, budget=DeliveryBudget(), trimmer=trimmer
            )
            running = tg.create_task(plane.run())
            archive = imc("archive")
            archive["metadata"]["annotations"] = {ANNOTATION: "PT1H"}
            key = ResourceKey(INMEMORYCHANNEL.resource, "default", "archive")
            kept = await store.create(key, archive)
            plain = await store.create(
                ResourceKey(INMEMORYCHANNEL.resource, "default", "plain"), imc("plain")
            )

            await publish_once_known(plane, ("archive", "plain"))
            kept_stream = channel_stream(kept["metadata"]["uid"])
            plain_stream = channel_stream(plain["metadata"]["uid"])

            async def noted() -> bool:  # the lineage's "accepted" notes are in the log
                for stream in (kept_stream, plain_stream):
                    if not await log.read(lineage_stream(stream), 0, 10):
                        return False
                return True

            await eventually(noted)
            clock.advance(600)  # ten minutes: past the log's retention, within the channel's
            assert await trimmer.trim() >= 2
            assert len(await log.read(kept_stream, 0, 10)) == 1
            assert await log.read(lineage_stream(kept_stream), 0, 10) != []
            assert await log.read(plain_stream, 0, 10) == []
            assert await log.read(lineage_stream(plain_stream), 0, 10) == []

            # a shorter retention applies from the next trim
            archive = await store.get(key)
            archive["metadata"]["annotations"][ANNOTATION] = "300"
            await store.update(key, archive)

            await trimmed_away(trimmer.trim, log, kept_stream)
            running.cancel()
    finally:
        await log.close()
        await store.close()
