"""The activator's throttler (kawa.serving.activator): limits, FIFO waiting, concurrency."""

from __future__ import annotations

import asyncio

import pytest

from kawa.serving.activator import Overloaded, RevisionDeleted, Throttler, Unavailable


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def throttler(cc: int = 1, capacity: int = 10, clock: Clock | None = None) -> Throttler:
    return Throttler("ns/r", container_concurrency=cc, capacity=capacity, clock=clock or Clock())


async def test_hard_limit_and_fifo_handoff() -> None:
    t = throttler(cc=1)
    demands: list[int] = []
    t._on_demand = lambda: demands.append(1)
    first = asyncio.create_task(t.acquire())
    second = asyncio.create_task(t.acquire())
    await asyncio.sleep(0)  # one turn of the loop: both tasks wait in acquire()
    assert t.waiting == 2
    assert demands  # no instance at all: the autoscaler is told
    t.set_endpoints({"p1": ("127.0.0.1", 1001)})
    e1 = await first
    await asyncio.sleep(0)  # one turn: the second would have been handed the instance
    assert not second.done()  # containerConcurrency 1: the second waits
    assert (e1.pod, e1.in_flight, t.concurrency) == ("p1", 1, 2)
    t.release(e1)
    e2 = await second
    assert e2 is e1
    assert e2.in_flight == 1
    t.release(e2)
    assert t.concurrency == 0
    assert e1.idle.is_set()


async def test_least_busy_instance_without_limit() -> None:
    t = throttler(cc=0)
    t.set_endpoints({"a": ("127.0.0.1", 1), "b": ("127.0.0.1", 2)})
    got = [await t.acquire() for _ in range(4)]
    assert sorted(e.pod for e in got) == ["a", "a", "b", "b"]
    assert t.max_in_flight() == 2


async def test_capacity_and_unavailable() -> None:
    t = throttler(capacity=1)
    waiter = asyncio.create_task(t.acquire())
    await asyncio.sleep(0)  # one turn of the loop: the waiter waits in acquire()
    with pytest.raises(Overloaded, match="1 requests waiting"):
        await t.acquire()
    t.set_unavailable("image not runnable")
    with pytest.raises(Unavailable, match="image not runnable"):
        await waiter
    with pytest.raises(Unavailable):
        await t.acquire()
    assert t.concurrency == 0


async def test_requests_that_gave_up_do_not_block_others() -> None:
    t = throttler()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await t.acquire()
    assert (t.waiting, t.concurrency) == (0, 0)
    t.set_endpoints({"p": ("127.0.0.1", 1)})
    endpoint = await asyncio.wait_for(t.acquire(), 1)
    assert endpoint.pod == "p"


async def test_drained_instance_gets_no_new_requests() -> None:
    t = throttler(cc=0)
    t.set_endpoints({"a": ("127.0.0.1", 1), "b": ("127.0.0.1", 2)})
    drained = t.drain("a")
    assert drained is not None
    assert not drained.active
    assert {(await t.acquire()).pod for _ in range(3)} == {"b"}


def test_concurrency_samples_are_time_weighted() -> None:
    clock = Clock()
    t = throttler(clock=clock)
    t._adjust(2)
    clock.now = 1.0
    t._adjust(-2)
    clock.now = 2.0
    assert t.take_sample(2.0) == pytest.approx(1.0)  # 2 for 1s, 0 for 1s
    clock.now = 3.0
    assert t.take_sample(3.0) == 0.0


async def test_refused_request_still_wakes_a_revision_at_zero() -> None:
    clock = Clock()
    t = throttler(capacity=0, clock=clock)
    demands: list[int] = []
    t._on_demand = lambda: demands.append(1)
    with pytest.raises(Overloaded):
        await t.acquire()
    assert demands == [1]
    t.take_sample(1.0)
    assert t.sample_peak == 1  # counted as demand for the autoscaler's next tick
    t.take_sample(2.0)
    assert t.sample_peak == 0


async def test_peak_of_a_sample_period() -> None:
    t = throttler(cc=0)
    t.set_endpoints({"a": ("127.0.0.1", 1)})
    got = [await t.acquire() for _ in range(3)]
    for endpoint in got:
        t.release(endpoint)
    t.take_sample(1.0)
    assert (t.sample_peak, t.concurrency) == (3, 0)


async def test_deleted_revision_fails_waiting_and_new_requests() -> None:
    t = throttler()
    waiter = asyncio.create_task(t.acquire())
    await asyncio.sleep(0)  # one turn of the loop: the waiter waits in acquire()
    t.set_deleted()
    with pytest.raises(RevisionDeleted, match=r"^Revision ns/r was deleted$"):
        await waiter
    with pytest.raises(RevisionDeleted):
        await t.acquire()
    t.set_unavailable(None)  # an image check later does not bring it back
    with pytest.raises(RevisionDeleted):
        await t.acquire()
