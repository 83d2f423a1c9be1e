"""EventType auto-creation's recorder (kawa.dispatch.eventtypes) on a real SQLite store: an
EventType per type and source with Knative's name and the bounded schema of the data; an
annotation anyone wrote with another shape is replaced, never merged (nor the recorder's
end); the flag off records nothing; a full queue drops samples and counts them."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import orjson

from kawa.apis.eventing import EVENTTYPE
from kawa.cloudevents import data_schema
from kawa.cloudevents.event import CloudEvent
from kawa.dispatch import eventtypes
from kawa.dispatch.eventtypes import EventTypeRecorder, Receiver, event_type_name
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ..waiting import eventually

BROKER = Receiver("eventing.knative.dev/v1", "Broker", "default", "shop", "uid-1")
NAME = event_type_name("shop", "default", "order", "/s")
KEY = ResourceKey(EVENTTYPE.resource, "default", NAME)


def event(n: int, data: Any) -> CloudEvent:
    return CloudEvent(
        {"specversion": "1.0", "id": f"e{n}", "source": "/s", "type": "order"}, orjson.dumps(data)
    )


@contextlib.asynccontextmanager
async def recording(
    enabled: bool = True,
) -> AsyncIterator[tuple[SqliteResourceStore, EventTypeRecorder]]:
    store = SqliteResourceStore(":memory:")
    recorder = EventTypeRecorder(store, lambda: enabled)
    task = asyncio.create_task(recorder.run())
    try:
        yield store, recorder
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert task.cancelled()  # it ended by its cancellation, not by an error
        await store.close()


async def schema_of(store: SqliteResourceStore) -> dict[str, Any] | None:
    try:
        obj = await store.get(KEY)
    except Exception:
        return None
    text = (obj["metadata"].get("annotations") or {}).get(eventtypes.SCHEMA_ANNOTATION)
    return json.loads(text) if text else None


async def test_a_hostile_annotation_is_replaced_not_merged() -> None:
    async with recording() as (store, recorder):
        hostile = {"type": "object", "properties": {"a": 5}}  # a property that is no schema
        await store.create(
            KEY,
            {
                "apiVersion": "eventing.knative.dev/v1beta3",
                "kind": "EventType",
                "metadata": {
                    "name": NAME,
                    "namespace": "default",
                    "annotations": {eventtypes.SCHEMA_ANNOTATION: json.dumps(hostile)},
                },
                "spec": {"attributes": []},
            },
        )
        recorder.seen(BROKER, [event(1, {"id": 1})])

        async def replaced() -> dict[str, Any] | None:
            found = await schema_of(store)
            return found if found and found.get("properties", {}).get("id") else None

        found = await eventually(replaced, 5.0, "the recorder never wrote its own schema")
        assert found["properties"] == {"id": {"type": "integer"}}


async def test_a_wide_and_deep_event_gives_a_bounded_schema() -> None:
    wide: dict[str, Any] = {
        f"k{i}": {f"j{j}": {"x": [1, {"y": j}]} for j in range(30)} for i in range(30)
    }
    async with recording() as (store, recorder):
        recorder.seen(BROKER, [event(1, wide)])

        async def written() -> dict[str, Any] | None:
            return await schema_of(store)

        found = await eventually(written, 5.0, "no schema was written")
        found.pop("$schema")
        assert data_schema.valid(found)
        assert data_schema.nodes(found) <= data_schema.MAX_NODES


async def test_the_flag_off_records_nothing_and_a_full_queue_counts_what_it_drops() -> None:
    async with recording(enabled=False) as (store, recorder):
        recorder.seen(BROKER, [event(1, {"id": 1})])
        await asyncio.sleep(0.1)
        assert (await store.list(EVENTTYPE.resource, "default")).items == []
    store = SqliteResourceStore(":memory:")
    try:
        recorder = EventTypeRecorder(store, lambda: True)  # not running: nothing drains it
        many = [
            CloudEvent({"specversion": "1.0", "id": "x", "source": "/s", "type": f"t{i}"})
            for i in range(eventtypes.QUEUE_SIZE + 5)
        ]
        recorder.seen(BROKER, many)
        assert recorder.dropped == 5
    finally:
        await store.close()
