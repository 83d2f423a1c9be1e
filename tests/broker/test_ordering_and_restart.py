"""Ordered delivery per partition key, and durable progress across a restart."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
from aiohttp import web

from ..waiting import eventually
from .broker_support import broker, event, respond, running_kawa, subscriber, trigger

pytestmark = pytest.mark.usefixtures("each_backend")


async def test_ordered_trigger_keeps_order_per_partition(tmp_path: Path) -> None:
    rng = random.Random(7)

    async def jitter(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(rng.random() * 0.01)  # answers out of order unless kawa waits
        return await respond()(request)

    async with running_kawa(tmp_path) as kawa, subscriber() as sub:
        sub.default = jitter
        await kawa.apply(broker())
        await kawa.apply(
            trigger(
                "ordered",
                sub.url,
                annotations={"kafka.eventing.knative.dev/delivery.order": "ordered"},
            )
        )
        await kawa.wait_ready("Trigger", "ordered")
        sent: dict[str, list[str]] = {"a": [], "b": [], "c": []}
        for i in range(60):
            key = "abc"[i % 3]
            sent[key].append(str(i))
            assert await kawa.send(event(str(i), partitionkey=key)) == 202
        await sub.wait_for(60)
        for key, ids in sent.items():
            got = [e.id for e in sub.events if e.attributes.get("partitionkey") == key]
            assert got == ids


async def test_restart_resumes_where_the_trigger_left_off(tmp_path: Path) -> None:
    async with subscriber() as sub:
        sub.default = respond(503)
        async with running_kawa(tmp_path) as kawa:
            await kawa.apply(broker())
            await kawa.apply(
                trigger("t", sub.url, delivery={"retry": 1000, "backoffDelay": "PT0.05S"})
            )
            await kawa.wait_ready("Trigger", "t")
            for i in range(20):
                assert await kawa.send(event(str(i))) == 202
            await sub.wait_for(20)
        # kawa stopped with all 20 events undelivered; the subscriber recovers
        sub.default = respond(202)
        sub.events.clear()
        async with running_kawa(tmp_path):
            got = await sub.wait_for(20)
            assert {e.id for e in got} == {str(i) for i in range(20)}


async def test_clean_stop_saves_progress_and_keeps_unfinished_events(tmp_path: Path) -> None:
    release = asyncio.Event()

    async def stall_on_5(request: web.Request) -> web.StreamResponse:
        if request.headers.get("ce-id") == "5":
            await release.wait()
        return await respond()(request)

    async with subscriber() as sub:
        sub.default = stall_on_5
        async with running_kawa(tmp_path) as kawa:
            await kawa.apply(broker())
            await kawa.apply(trigger("t", sub.url))
            t = await kawa.wait_ready("Trigger", "t")
            for i in range(10):
                assert await kawa.send(event(str(i))) == 202
            await sub.wait_for(10)
            await kawa.cursor_reaches(t, 5)  # 0-4 (seqs 1-5) are finished, 5 is held
        # stopped with event 5 still in flight: after a restart, 5 comes again (and the
        # events after it may, at least once), 0-4 do not
        release.set()
        sub.default = respond()
        sub.events.clear()
        async with running_kawa(tmp_path) as kawa:
            await sub.wait_for(1)
            # an event after the restart: what the consumer re-read from its cursor came first
            assert await kawa.send(event("after")) == 202
            await sub.wait_for_id("after")
        ids = {e.id for e in sub.events}
        assert "5" in ids
        assert not ids & {"0", "1", "2", "3", "4"}


async def test_clean_restart_does_not_redeliver_finished_events(tmp_path: Path) -> None:
    async with subscriber() as sub:
        async with running_kawa(tmp_path) as kawa:
            await kawa.apply(broker())
            await kawa.apply(trigger("t", sub.url))
            t = await kawa.wait_ready("Trigger", "t")
            for i in range(10):
                assert await kawa.send(event(str(i))) == 202
            await sub.wait_for(10)
            await kawa.cursor_reaches(t, 10)  # all ten finished
        async with running_kawa(tmp_path) as kawa:
            assert await kawa.send(event("after")) == 202
            await sub.wait_for(11)  # what the consumer re-read from its cursor came first
        assert [e.id for e in sub.events][10:] == ["after"]


async def test_recreated_broker_delivers_new_events_to_its_triggers(tmp_path: Path) -> None:
    release = asyncio.Event()

    async def hold_the_last(request: web.Request) -> web.StreamResponse:
        if request.headers.get("ce-id") == "old-49":
            await release.wait()
        return await respond()(request)

    async with running_kawa(tmp_path) as kawa, subscriber() as sub:
        sub.default = hold_the_last
        await kawa.apply(broker())
        await kawa.apply(trigger("t", sub.url))
        await kawa.wait_ready("Trigger", "t")
        for i in range(50):
            assert await kawa.send(event(f"old-{i}")) == 202

        async def all_arrived() -> bool:  # (the held one is recorded, not yet answered)
            return len(sub.events) == 50

        # 49 delivered, the last one held: progress not yet saved
        await eventually(all_arrived, message="the 50 events never arrived")
        await kawa.delete("Broker", "default")
        await kawa.wait_condition("Trigger", "t", "BrokerReady", "False")
        release.set()
        await kawa.apply(broker())
        await kawa.wait_ready("Trigger", "t")
        for i in range(20):
            assert await kawa.send(event(f"new-{i}")) == 202
        await sub.wait_for(70)
        assert {e.id for e in sub.events if e.id.startswith("new-")} == {
            f"new-{i}" for i in range(20)
        }
