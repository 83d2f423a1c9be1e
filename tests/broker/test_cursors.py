"""A trigger's cursor in the event log: named once (``trigger_cursor``), removed with the
trigger even when its consumer is not running."""

from __future__ import annotations

import asyncio
from typing import Any

from kawa.broker.dataplane import BROKERS, TRIGGERS, BrokerDataPlane, trigger_cursor
from kawa.delivery.sender import Dispatcher
from kawa.eventlog.memory import MemoryEventLog
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ..waiting import eventually
from .broker_support import broker, trigger


def ready(ready: bool) -> dict[str, Any]:
    return {
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        "subscriberUri": "http://127.0.0.1:9/",
    }


def test_the_cursor_names_the_trigger_and_the_stream() -> None:
    assert trigger_cursor("u1", "broker:b1") == "trigger:u1@broker:b1"


async def test_a_trigger_deleted_while_stopped_loses_its_cursor() -> None:
    store = SqliteResourceStore(":memory:")
    log = MemoryEventLog()
    try:
        async with Dispatcher() as dispatcher, asyncio.TaskGroup() as tg:
            plane = BrokerDataPlane(store, log, dispatcher, trim_interval=0)
            running = tg.create_task(plane.run())
            b = await store.create(ResourceKey(BROKERS, "default", "default"), broker())
            t = await store.create(
                ResourceKey(TRIGGERS, "default", "t1"), trigger("t1", "http://127.0.0.1:9/")
            )
            key = ResourceKey(TRIGGERS, "default", "t1")
            t = await store.update(key, dict(t, status=ready(True)), status_only=True)
            cursor = trigger_cursor(t["metadata"]["uid"], f"broker:{b['metadata']['uid']}")

            async def saved() -> bool:
                return await log.load_cursor(cursor) is not None

            await eventually(saved)
            assert await log.load_cursor(cursor) == 0  # a new trigger starts at the end
            await store.update(key, dict(t, status=ready(False)), status_only=True)

            async def stopped() -> bool:
                return plane.consumer("default", "t1") is None

            await eventually(stopped)
            assert await log.load_cursor(cursor) == 0  # a stopped trigger keeps its place
            await store.delete(key)

            async def forgotten() -> bool:
                return await log.load_cursor(cursor) is None

            await eventually(forgotten)
            running.cancel()
    finally:
        await log.close()
        await store.close()
