"""An EventTransform's evaluation never holds the event loop: a built-in call running far past
the expression's bounds (checked between evaluation steps only) runs in a worker thread, and
the transform answers once its time is up, while the loop keeps serving."""

from __future__ import annotations

import asyncio
import time
from typing import cast

import pytest

from kawa import transform
from kawa.cloudevents.event import CloudEvent
from kawa.delivery.sender import Dispatcher
from kawa.eventtransform import handler as handler_module
from kawa.eventtransform.handler import TransformHandler
from kawa.eventtransform.live import LiveTransforms
from kawa.store.sqlite import SqliteResourceStore

EVENT = CloudEvent({"specversion": "1.0", "id": "1", "source": "/s", "type": "t"})


async def test_a_runaway_builtin_fails_in_time_and_the_loop_keeps_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(handler_module, "EVALUATION_TIMEOUT", 0.5)
    store = SqliteResourceStore(":memory:")
    try:
        handler = TransformHandler(
            LiveTransforms(store), cast(Dispatcher, None), max_event_size=1024
        )
        runaway = transform.compile_expression('$merge([$, {"n": $sum([1..800000]) % 7}])')
        gaps: list[float] = []

        async def ticker() -> None:
            last = time.perf_counter()
            while True:
                await asyncio.sleep(0.01)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        ticking = asyncio.create_task(ticker())
        started = time.perf_counter()
        try:
            with pytest.raises(transform.TransformError) as caught:
                await handler._apply(runaway, EVENT)
        finally:
            ticking.cancel()
        assert caught.value.reason == "EvaluationTimeout"
        assert time.perf_counter() - started < 5.0
        assert max(gaps) < 1.0  # the loop was never held for the evaluation's length
    finally:
        await store.close()
