"""kawa.tasks.cancel_and_wait: the stopper's own cancellation is never lost."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from kawa.tasks import cancel_and_wait


async def _slow_to_stop(stopping: asyncio.Event) -> None:
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        stopping.set()
        await asyncio.sleep(0.2)  # cleanup that takes a while, as a child's SIGTERM grace
        raise


async def _stopper(child: asyncio.Task[None], after: list[str]) -> None:
    await cancel_and_wait(child)
    after.append("ran on")  # what a lost cancellation lets happen (a restart, a loop turn)
    await asyncio.sleep(3600)


async def test_a_stopper_cancelled_while_it_waits_is_cancelled() -> None:
    stopping = asyncio.Event()
    child = asyncio.create_task(_slow_to_stop(stopping))
    await asyncio.sleep(0)
    after: list[str] = []
    stopper = asyncio.create_task(_stopper(child, after))
    await stopping.wait()  # the stopper now waits for the child's cleanup
    stopper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(stopper, 5)
    assert after == []
    await asyncio.wait([child], timeout=5)  # its cleanup goes on without the stopper
    assert child.cancelled()


async def test_the_suppress_idiom_loses_that_cancellation() -> None:
    """Why the helper exists: the idiom it replaces, in the same situation, runs on."""
    stopping = asyncio.Event()
    child = asyncio.create_task(_slow_to_stop(stopping))
    await asyncio.sleep(0)
    after: list[str] = []

    async def idiom() -> None:
        child.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await child
        after.append("ran on")

    stopper = asyncio.create_task(idiom())
    await stopping.wait()
    stopper.cancel()
    await asyncio.wait_for(stopper, 5)
    assert after == ["ran on"]


async def test_a_timeout_bounds_the_wait_and_says_so() -> None:
    async def stubborn() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)  # the first cancellation is ignored
        await asyncio.sleep(3600)  # the second one ends it

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    assert await cancel_and_wait(task, timeout=0.05) is False
    assert not task.done()
    assert await cancel_and_wait(task, timeout=5) is True
    assert task.cancelled()


async def test_an_ended_or_failing_task() -> None:
    async def fails() -> None:
        raise RuntimeError("boom")

    task = asyncio.create_task(fails())
    await asyncio.sleep(0)
    assert await cancel_and_wait(task) is True
    assert isinstance(task.exception(), RuntimeError)
