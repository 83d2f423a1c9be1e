"""One trigger's trouble is its own: a hanging subscriber and a failing one (retrying with
backoff) on the same broker must not slow the delivery of a healthy trigger. Real ``kawa up``
child; the three subscribers are servers in the test process.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from .e2e_support import broker, kawa_up, recorder, trigger

pytestmark = pytest.mark.slow

EVENTS = 500


async def test_slow_and_failing_triggers_do_not_slow_a_healthy_one(tmp_path: Path) -> None:
    async with recorder() as healthy, recorder() as hanging, recorder() as failing:
        hanging.close(lambda _: True)  # never answers (until the end of the test)
        failing.answer = 500
        with kawa_up(tmp_path, "--log-level", "error") as kawa:
            await asyncio.to_thread(kawa.create, broker())
            await asyncio.to_thread(kawa.create, trigger("hanging", hanging.url))
            retry = {"retry": 10, "backoffPolicy": "linear", "backoffDelay": "PT0.5S"}
            await asyncio.to_thread(kawa.create, trigger("failing", failing.url, delivery=retry))
            await asyncio.to_thread(kawa.create, trigger("healthy", healthy.url))
            for name in ("hanging", "failing", "healthy"):
                await asyncio.to_thread(kawa.wait_ready, "triggers", name)

            ids = {f"iso-{n}" for n in range(EVENTS)}
            started = time.monotonic()
            async with aiohttp.ClientSession() as session:

                async def send(event_id: str) -> int:
                    headers = {
                        "ce-specversion": "1.0",
                        "ce-id": event_id,
                        "ce-source": "/e2e/isolation",
                        "ce-type": "e2e.isolation",
                    }
                    async with session.post(kawa.broker_url(), headers=headers, data=b"x") as resp:
                        return resp.status

                statuses = await asyncio.gather(*(send(i) for i in sorted(ids)))
            assert set(statuses) == {202}
            missing = await healthy.wait_for(ids, 10)
            elapsed = time.monotonic() - started
            assert not missing, f"{len(missing)} events never reached the healthy trigger"
            # the troubled triggers really were in trouble meanwhile
            assert hanging.deliveries == 0
            assert failing.deliveries > 0
            assert len(failing.ids) < EVENTS or failing.deliveries > EVENTS
            hanging.reopen()  # let the stuck requests finish before everything stops
            assert elapsed < 3.0, f"the healthy trigger took {elapsed:.2f}s for {EVENTS} events"
            print(f"\n{EVENTS} events to the healthy trigger in {elapsed:.2f}s")
