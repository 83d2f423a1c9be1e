"""StreamSignals alone: what the backends' contract tests do not look at (waiters that time
out or are cancelled are forgotten; one notify wakes every waiter of its stream only)."""

from __future__ import annotations

import asyncio

from kawa.eventlog._signals import StreamSignals


async def test_waits_that_time_out_or_are_cancelled_leave_nothing_behind() -> None:
    signals = StreamSignals()
    last = {"quiet": 0}
    for _ in range(50):  # a consumer on a quiet stream: a short wait again and again
        assert not await signals.wait("quiet", 0, 0.001, last.__getitem__)
    waiting = asyncio.create_task(signals.wait("quiet", 0, 10.0, last.__getitem__))
    await asyncio.sleep(0.01)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert signals._waiters == {}


async def test_a_notify_wakes_every_waiter_of_its_stream_and_no_other() -> None:
    signals = StreamSignals()
    last = {"a": 0, "b": 0}
    on_a = [asyncio.create_task(signals.wait("a", 0, 10.0, last.__getitem__)) for _ in range(3)]
    on_b = asyncio.create_task(signals.wait("b", 0, 10.0, last.__getitem__))
    await asyncio.sleep(0.01)
    last["a"] = 1
    signals.notify("a")
    assert await asyncio.wait_for(asyncio.gather(*on_a), 5.0) == [True, True, True]
    await asyncio.sleep(0.01)
    assert not on_b.done()  # b had nothing new and its deadline is far
    signals.close()
    assert await asyncio.wait_for(on_b, 5.0) is False
    assert signals._waiters == {}


async def test_a_notify_without_news_keeps_the_waiter_waiting_until_its_deadline() -> None:
    signals = StreamSignals()
    last = {"a": 0}
    loop = asyncio.get_running_loop()
    start = loop.time()
    waiting = asyncio.create_task(signals.wait("a", 0, 0.2, last.__getitem__))
    await asyncio.sleep(0.01)
    signals.notify("a")  # woken, but last_seq did not move: it waits again
    assert await waiting is False
    assert loop.time() - start >= 0.19
    signals.close()
    assert await signals.wait("a", 0, 10.0, last.__getitem__) is False  # closed: at once
