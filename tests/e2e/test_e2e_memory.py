"""Delivery memory is bounded, and given back after a burst (a real ``kawa up`` child).

A slow subscriber (it reads each event, then holds its answer until every event was sent)
and a burst of 4 MiB events: without a bound, every event read from the log stays in memory
until its delivery ends (100 per trigger), and after the burst the process kept the burst's
peak (1.7 GB for 200 such events). With ``--max-in-flight-bytes`` the trigger reads only what
its share of the budget has room for, so kawa's resident memory stays under a ceiling derived
from the budget, and once everything is delivered it falls back close to where it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from kawa.dispatch.consumer import CONSUMER_SHARE

from ..waiting import eventually
from .e2e_support import broker, kawa_up, trigger

MiB = 1024 * 1024
EVENT_SIZE = 4 * MiB - 64 * 1024  # under --max-event-size (4 MiB) with the headers
EVENTS = 60  # 240 MiB in all
BUDGET = 64 * MiB
TAIL = 32 * MiB  # kawa.eventlog._tail.DEFAULT_MAX_BYTES
COPIES = 3
"""Copies of a payload a delivery may hold (the record, the decoded event, the request)."""
INGRESS = 128 * MiB
"""Room for the ingress: concurrent requests' bodies and their encoded records."""


def rss(pid: int) -> int:
    """Resident set size of process ``pid`` (bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


@dataclass
class SlowSubscriber:
    """Reads every event, then answers only once ``gate`` opens."""

    url: str = ""
    ids: set[str] = field(default_factory=set)
    reading: int = 0
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.reading += 1
        await self.gate.wait()
        self.ids.add(request.headers["ce-id"])
        return web.Response(status=202)


@contextlib.asynccontextmanager
async def slow_subscriber() -> AsyncIterator[SlowSubscriber]:
    sub = SlowSubscriber()
    app = web.Application(client_max_size=8 * MiB)
    app.router.add_post("/{tail:.*}", sub.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    sub.url = f"http://{host}:{port}/"
    try:
        yield sub
    finally:
        sub.gate.set()
        await runner.cleanup()


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
async def test_a_burst_of_large_events_to_a_slow_subscriber_stays_under_the_budget(
    tmp_path: Path,
) -> None:
    extra = ("--max-in-flight-bytes", str(BUDGET), "--log-level", "warning")
    async with slow_subscriber() as sub:
        with kawa_up(tmp_path, *extra) as kawa:
            assert kawa.proc is not None
            pid = kawa.proc.pid
            await asyncio.to_thread(kawa.create, broker())
            await asyncio.to_thread(kawa.create, trigger("slow", sub.url))
            await asyncio.to_thread(kawa.wait_ready, "triggers", "slow")
            start = rss(pid)
            ceiling = start + TAIL + COPIES * BUDGET + INGRESS
            peak = start

            async def sample() -> None:
                nonlocal peak
                while True:
                    peak = max(peak, rss(pid))
                    await asyncio.sleep(0.05)

            sampler = asyncio.create_task(sample())
            try:
                body = b"x" * EVENT_SIZE
                async with aiohttp.ClientSession() as session:
                    senders = asyncio.Semaphore(4)

                    async def send(n: int) -> int:
                        headers = {
                            "ce-specversion": "1.0",
                            "ce-id": str(n),
                            "ce-source": "/e2e/memory",
                            "ce-type": "e2e.big",
                            "content-type": "application/octet-stream",
                        }
                        async with (
                            senders,
                            session.post(
                                kawa.broker_url(), data=io.BytesIO(body), headers=headers
                            ) as resp,
                        ):
                            await resp.read()
                            return resp.status

                    statuses = await asyncio.gather(*(send(n) for n in range(EVENTS)))
                assert statuses == [202] * EVENTS
                # the budget holds the trigger back to its share: far fewer than its 100 places
                assert 0 < sub.reading <= BUDGET // CONSUMER_SHARE // EVENT_SIZE
                assert peak < ceiling, (
                    f"kawa's RSS reached {peak / MiB:.0f} MiB with {sub.reading} deliveries "
                    f"held; ceiling {ceiling / MiB:.0f} MiB (started at {start / MiB:.0f})"
                )
                sub.gate.set()

                async def all_delivered() -> bool:
                    return len(sub.ids) == EVENTS

                await eventually(all_delivered, 60, "not every event was delivered", every=0.2)
                assert peak < ceiling, f"RSS peak {peak / MiB:.0f} MiB"
            finally:
                sampler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sampler

            async def given_back() -> int | None:
                now = rss(pid)
                return now if now < start + TAIL + 64 * MiB else None

            await eventually(
                given_back,
                20,
                f"kawa kept its memory after the burst: {rss(pid) / MiB:.0f} MiB "
                f"(started at {start / MiB:.0f})",
                every=0.2,
            )
