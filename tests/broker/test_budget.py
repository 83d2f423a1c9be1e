"""The delivery memory budget: on its own (bytes taken and given back, waiters in order, an
event larger than the whole budget, cancelled waiters), then in a running kawa (triggers share
it; an event larger than all of it is still delivered)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from kawa.broker import envelope
from kawa.cloudevents.event import CloudEvent
from kawa.dispatch.budget import DeliveryBudget
from kawa.errors import ValidationError

from ..waiting import eventually
from .broker_support import broker, event, running_kawa, subscriber, trigger


async def settle() -> None:
    """Let every task that can run, run (a few loop turns)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_reserve_takes_what_is_free_and_release_gives_it_back() -> None:
    budget = DeliveryBudget(100)
    assert await budget.reserve(30) == 30
    assert await budget.reserve(500) == 70  # only what is free
    assert budget.in_use == 100
    budget.release(40)
    assert budget.in_use == 60
    await budget.acquire(40)
    assert budget.in_use == 100


async def test_a_spent_budget_makes_readers_wait_until_bytes_come_back() -> None:
    budget = DeliveryBudget(100)
    await budget.acquire(100)
    reserved = asyncio.create_task(budget.reserve(50))
    exact = asyncio.create_task(budget.acquire(60))
    await settle()
    assert not reserved.done()
    assert not exact.done()
    budget.release(10)
    await settle()
    assert reserved.result() == 10  # a reservation takes what is free, in arrival order
    assert not exact.done()
    budget.release(70)
    await settle()
    assert exact.done()
    assert budget.in_use == 90


async def test_waiters_are_served_in_arrival_order() -> None:
    budget = DeliveryBudget(100)
    await budget.acquire(90)
    big = asyncio.create_task(budget.acquire(50))
    await settle()
    small = asyncio.create_task(budget.acquire(5))  # would fit now, but big came first
    await settle()
    assert not big.done()
    assert not small.done()
    budget.release(90)
    await settle()
    assert big.done()
    assert small.done()
    assert budget.in_use == 55


async def test_an_event_larger_than_the_budget_goes_alone_and_never_deadlocks() -> None:
    budget = DeliveryBudget(100)
    await budget.acquire(30)
    huge = asyncio.create_task(budget.acquire(250))
    await settle()
    assert not huge.done()  # waits for everything else to come back
    budget.release(30)
    await settle()
    assert huge.done()
    assert budget.in_use == 250
    after = asyncio.create_task(budget.reserve(10))
    await settle()
    assert not after.done()
    budget.release(250)
    await settle()
    assert after.result() == 10


async def test_a_cancelled_waiter_takes_nothing_and_holds_nobody_up() -> None:
    budget = DeliveryBudget(100)
    await budget.acquire(100)
    first = asyncio.create_task(budget.acquire(80))
    second = asyncio.create_task(budget.acquire(20))
    await settle()
    first.cancel()
    await settle()
    budget.release(20)
    await settle()
    assert first.cancelled()
    assert second.done()
    assert budget.in_use == 100


async def test_bytes_granted_to_a_cancelled_taker_come_back() -> None:
    budget = DeliveryBudget(100)
    await budget.acquire(100)
    waiter = asyncio.create_task(budget.acquire(50))
    await settle()
    budget.release(100)  # grants the waiter's 50 ...
    waiter.cancel()  # ... but it is cancelled before it runs again
    await settle()
    assert waiter.cancelled()
    assert budget.in_use == 0


def test_a_budget_needs_at_least_one_byte() -> None:
    with pytest.raises(ValidationError, match="maxInFlightBytes"):
        DeliveryBudget(0)


# -- the budget in a running kawa: triggers share it, and a huge event still goes ----------------


@dataclass
class Gate:
    """Subscribers' answer that holds every delivery until ``opened``; counts how many are
    held at once, across every subscriber that answers with it."""

    opened: asyncio.Event = field(default_factory=asyncio.Event)
    held: int = 0
    most: int = 0

    async def answer(self, _: web.Request) -> web.StreamResponse:
        self.held += 1
        self.most = max(self.most, self.held)
        try:
            await self.opened.wait()
        finally:
            self.held -= 1
        return web.Response(status=202)


def stored_size(ev: CloudEvent) -> int:
    """The bytes ``ev`` takes in the log (what the budget counts)."""
    return len(envelope.on_ingress(ev))


async def test_triggers_share_one_budget(tmp_path: Path) -> None:
    # 8 events fit in the budget; each trigger may hold a quarter of it (2): five triggers
    # would hold 10 if the budget were not shared
    events = [event(str(n), data=b"x" * 50_000) for n in range(20)]
    size = stored_size(events[0])
    names = [f"t{i}" for i in range(5)]
    async with contextlib.AsyncExitStack() as stack:
        kawa = await stack.enter_async_context(
            running_kawa(tmp_path, max_in_flight_bytes=8 * size + size // 2)
        )
        subs = [await stack.enter_async_context(subscriber()) for _ in names]
        gate = Gate()
        await kawa.apply(broker())
        for name, sub in zip(names, subs, strict=True):
            sub.default = gate.answer
            await kawa.apply(trigger(name, sub.url))
        for name in names:
            await kawa.wait_ready("Trigger", name)
        for ev in events:
            assert await kawa.send(ev) == 202

        async def budget_spent() -> bool:
            return gate.held >= 8

        await eventually(budget_spent, message="the triggers never held 8 events together")
        gate.opened.set()
        for sub in subs:
            await sub.wait_for(20)
        assert gate.most == 8  # all triggers together, never more than the budget holds


async def test_an_event_larger_than_the_whole_budget_is_still_delivered(tmp_path: Path) -> None:
    big = event("big", data=b"b" * 300_000)
    async with running_kawa(tmp_path, max_in_flight_bytes=100_000) as kawa, subscriber() as sub:
        await kawa.apply(broker())
        await kawa.apply(trigger("t", sub.url))
        await kawa.wait_ready("Trigger", "t")
        assert await kawa.send(event("before", data=b"s" * 60_000)) == 202
        assert await kawa.send(big) == 202
        assert await kawa.send(event("after", data=b"s" * 60_000)) == 202
        await sub.wait_for(3)
        assert [e.id for e in sub.events] == ["before", "big", "after"]
        assert sub.events[1].data == big.data


async def test_a_stuck_trigger_holds_at_most_a_quarter_and_the_others_go_on(
    tmp_path: Path,
) -> None:
    events = [event(str(n), data=b"x" * 50_000) for n in range(20)]
    size = stored_size(events[0])
    async with (
        running_kawa(tmp_path, max_in_flight_bytes=8 * size + size // 2) as kawa,
        subscriber() as stuck,
        subscriber() as healthy,
    ):
        gate = Gate()
        stuck.default = gate.answer
        await kawa.apply(broker())
        await kawa.apply(trigger("stuck", stuck.url))
        await kawa.apply(trigger("healthy", healthy.url))
        await kawa.wait_ready("Trigger", "stuck")
        await kawa.wait_ready("Trigger", "healthy")
        for ev in events:
            assert await kawa.send(ev) == 202
        await healthy.wait_for(20)  # not held up by the stuck one's share
        assert gate.most <= 2  # a quarter of the budget: 2 of these events
        gate.opened.set()
        await stuck.wait_for(20)
