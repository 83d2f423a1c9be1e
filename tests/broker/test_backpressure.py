"""Ingress backpressure (``--max-delivery-lag``): a broker whose events wait too long for a slow
subscriber answers 429 with Retry-After, and accepts again once delivery has caught up."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import web

from kawa.broker.backpressure import DeliveryLag, interval
from kawa.cloudevents import http as ce_http
from kawa.eventlog.memory import MemoryEventLog

from ..waiting import eventually
from .broker_support import Kawa, broker, event, running_kawa, subscriber, trigger


async def post(kawa: Kawa, n: int) -> tuple[int, str | None]:
    headers, body = ce_http.to_binary(event(f"e{n}", data=b"{}"))
    async with kawa.session.post(kawa.broker_url(), data=body, headers=headers) as resp:
        await resp.read()
        return resp.status, resp.headers.get("Retry-After")


async def test_a_slow_subscriber_makes_the_ingress_push_back_until_it_caught_up(
    tmp_path: Path,
) -> None:
    opened = asyncio.Event()

    async def slow(_: web.Request) -> web.StreamResponse:
        await opened.wait()
        return web.Response(status=202)

    async with running_kawa(tmp_path, max_delivery_lag=0.3) as kawa, subscriber() as sub:
        sub.default = slow
        await kawa.apply(broker())
        await kawa.apply(trigger("slow", sub.url))
        await kawa.wait_ready("Trigger", "slow")
        # the first 100 go into delivery and wait there; the next ones wait in the log until
        # the ingress pushes back
        accepted = sent = 0

        async def refused() -> tuple[int, str | None] | None:
            nonlocal sent, accepted
            status, retry_after = await post(kawa, sent)
            sent += 1
            accepted += status == 202
            return (status, retry_after) if status != 202 else None

        assert await eventually(refused, 10, "the ingress never pushed back", every=0) == (
            429,
            "1",
        )
        opened.set()

        async def accepting() -> bool:
            nonlocal sent, accepted
            status, _ = await post(kawa, sent)
            sent += 1
            accepted += status == 202
            return status == 202

        await eventually(accepting, 20, "the ingress never accepted events again", every=0.1)
        await sub.wait_for(accepted, timeout=20)  # every event it accepted is delivered
        assert len({e.id for e in sub.events}) == accepted


class Reader:
    def __init__(self, stream: str, fetched: int) -> None:
        self.stream = stream
        self.fetched = fetched


async def test_only_events_waiting_longer_than_the_bound_count() -> None:
    now = 1000.0
    log = MemoryEventLog(clock=lambda: now)
    await log.append("a", [b"1", b"2"])  # appended at 1000
    now = 1002.0
    await log.append("a", [b"3"])
    await log.append("b", [b"1"])
    readers = [Reader("a", 1), Reader("a", 2), Reader("b", 1)]
    lag = DeliveryLag(log, 2.5, lambda: readers, clock=lambda: now, monotonic=lambda: now)
    await lag.measure()
    assert lag.retry_after("a") is None  # its oldest waiting event (seq 2) waited 2 s
    now = 1003.0
    await lag.measure()
    assert lag.retry_after("a") == 1  # 3 s now
    assert lag.waited("a") == 3.0
    assert lag.retry_after("b") is None  # nothing waits there
    readers[0].fetched = 2  # every trigger of "a" took seq 2: the oldest waiting is seq 3
    await lag.measure()
    assert lag.retry_after("a") is None
    assert interval(0.2) == 0.05
    assert interval(10) == 0.1


async def test_a_backlog_that_needs_longer_than_the_bound_counts_before_it_is_old() -> None:
    now = 1000.0
    log = MemoryEventLog(clock=lambda: now)
    reader = Reader("a", 0)
    lag = DeliveryLag(log, 2.0, lambda: [reader], clock=lambda: now, monotonic=lambda: now)
    await log.append("a", [b"x"] * 10)
    await lag.measure()  # no pace known yet: only the age counts (0 s)
    now += 1.0
    reader.fetched = 10  # 10 records/s
    await log.append("a", [b"x"] * 15)  # 15 wait: 1.5 s of work
    await lag.measure()
    assert lag.retry_after("a") is None
    now += 0.1
    reader.fetched = 11  # 10/s again on average ((10 + 10) / 2)
    await log.append("a", [b"x"] * 16)  # 30 wait: 3 s of work, though the oldest is young
    await lag.measure()
    assert lag.retry_after("a") == 1
    assert lag.waited("a") == pytest.approx(3.0)
