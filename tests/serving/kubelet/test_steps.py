"""kawa.serving.kubelet.steps.finish: a step outlives its caller's cancellation, but never
its caller, and its failure is seen."""

from __future__ import annotations

import asyncio
import logging

import pytest

from kawa.errors import NotFoundError
from kawa.serving.kubelet.steps import finish


async def _step(started: asyncio.Event, release: asyncio.Event, fail: BaseException | None) -> str:
    started.set()
    await release.wait()
    if fail is not None:
        raise fail
    return "done"


async def test_the_value_and_the_error_of_a_step_reach_its_caller() -> None:
    go = asyncio.Event()
    go.set()
    assert await finish(_step(asyncio.Event(), go, None)) == "done"
    with pytest.raises(NotFoundError):
        await finish(_step(asyncio.Event(), go, NotFoundError("gone")))


@pytest.mark.parametrize("fail", [None, NotFoundError("pods x not found"), OSError("disk")])
async def test_a_cancelled_caller_waits_for_its_step_to_end(
    fail: BaseException | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kawa.serving.kubelet.steps")
    started, release = asyncio.Event(), asyncio.Event()
    caller = asyncio.create_task(finish(_step(started, release, fail)))
    await started.wait()
    caller.cancel()
    await asyncio.sleep(0)  # one turn of the loop: the cancellation has reached the caller
    assert not caller.done()  # still waiting for its step
    caller.cancel()  # cancelled again: still waits
    await asyncio.sleep(0)  # one turn of the loop: the second cancellation has reached it
    assert not caller.done()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await caller
    # the step's failure was seen (the leak check of tests/conftest.py fails a test
    # whose task failed with nobody retrieving it)
    messages = [r.getMessage() for r in caplog.records]
    if fail is None:
        assert messages == []
    else:
        assert messages == [f"kubelet: a step finished after its caller stopped: {fail!r}"]
        level = logging.DEBUG if isinstance(fail, NotFoundError) else logging.WARNING
        assert caplog.records[0].levelno == level
