"""A consumer's pace (kawa.dev/max-rate): starts spaced 1/rate apart, no burst banked by a
pause; and its backpressure: a scaling subscriber's 429/503 pauses the consumer for the time
asked, without counting, until it has delivered nothing for HOLD_MAX seconds."""

from __future__ import annotations

import asyncio
import time

import pytest

from kawa.dispatch import pacing
from kawa.dispatch.pacing import Backpressure, Pacer


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


async def test_starts_are_spaced_and_a_pause_banks_no_burst() -> None:
    fake = FakeTime()
    pacer = Pacer(4.0, clock=fake.clock, sleep=fake.sleep)
    for _ in range(3):
        await pacer.take()
    assert fake.slept == [0.25, 0.25]  # the first at once, then every 1/4 s
    fake.now += 10.0  # a long pause
    fake.slept.clear()
    for _ in range(3):
        await pacer.take()
    assert fake.slept == [0.25, 0.25]  # not three at once after the pause


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Pacer(0)


async def test_backpressure_pauses_for_the_time_asked_and_starts_wait_it_out() -> None:
    fake = FakeTime()
    held = Backpressure(clock=fake.clock, sleep=fake.sleep, wall=lambda: 1_000.0)
    await held.wait()
    assert fake.slept == []  # not paused: a start goes at once
    assert await held.overloaded(503, "2")  # waits 2 s, then: send again, not counted
    assert fake.slept == [2.0]
    await held.wait()
    assert fake.slept == [2.0]  # the pause is over
    # no Retry-After: 1 s; one that cannot be read: 1 s; one too long: 10 s; 0: 0.1 s
    for header, pause in ((None, pacing.PAUSE), ("soon", pacing.PAUSE), ("3600", 10.0)):
        fake.slept.clear()
        assert await held.overloaded(429, header)
        assert fake.slept == [pause]
    fake.slept.clear()
    assert await held.overloaded(503, "0")
    assert fake.slept == [pacing.PAUSE_MIN]
    assert held.held == 5


async def test_a_paused_consumer_starts_nothing_until_the_pause_is_over() -> None:
    held = Backpressure()  # the real clock: a refused delivery pauses it for PAUSE_MIN
    refused = asyncio.create_task(held.overloaded(503, "0"))
    await asyncio.sleep(0)  # let it be refused
    began = time.monotonic()
    await held.wait()  # a start waits for the pause
    assert time.monotonic() - began >= pacing.PAUSE_MIN * 0.9
    assert await refused


async def test_backpressure_gives_up_after_hold_max_without_a_delivery() -> None:
    fake = FakeTime()
    held = Backpressure(clock=fake.clock, sleep=fake.sleep, hold_max=5.0)
    assert await held.overloaded(503, "2")
    assert await held.overloaded(503, "2")
    assert await held.overloaded(503, "2")  # 4 s since the first: still held
    assert not await held.overloaded(503, "2")  # 6 s: counted as a failed attempt now
    assert fake.slept == [2.0, 2.0, 2.0]
    held.delivered()  # the Service answers again: its next 503 is held anew
    assert await held.overloaded(503, "1")
