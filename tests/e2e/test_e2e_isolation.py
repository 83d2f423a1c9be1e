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
            await asyncio.to_thread(kawa.create, trigger("healthy", healthy.url))
            await asyncio.to_thread(kawa.wait_ready, "triggers", "healthy")

            async def batch(name: str) -> float:
                """Seconds from the first send until the healthy trigger has them all."""
                ids = {f"{name}-{n}" for n in range(EVENTS)}
                started = time.monotonic()
                async with aiohttp.ClientSession() as session:

                    async def send(event_id: str) -> int:
                        headers = {
                            "ce-specversion": "1.0",
                            "ce-id": event_id,
                            "ce-source": "/e2e/isolation",
                            "ce-type": "e2e.isolation",
                        }
                        url = kawa.broker_url()
                        async with session.post(url, headers=headers, data=b"x") as resp:
                            return resp.status

                    statuses = await asyncio.gather(*(send(i) for i in sorted(ids)))
                assert set(statuses) == {202}
                missing = await healthy.wait_for(ids, 10)
                assert not missing, f"{len(missing)} events never reached the healthy trigger"
                return time.monotonic() - started

            # the same batch with the healthy trigger alone, on this machine at this moment:
            # the yardstick (a loaded 2-core machine can take seconds for either)
            alone = await batch("alone")
            await asyncio.to_thread(kawa.create, trigger("hanging", hanging.url))
            retry = {"retry": 10, "backoffPolicy": "linear", "backoffDelay": "PT0.5S"}
            await asyncio.to_thread(kawa.create, trigger("failing", failing.url, delivery=retry))
            for name in ("hanging", "failing"):
                await asyncio.to_thread(kawa.wait_ready, "triggers", name)
            elapsed = await batch("iso")
            # the troubled triggers really were in trouble meanwhile
            assert hanging.deliveries == 0
            assert failing.deliveries > 0
            assert len(failing.ids) < EVENTS or failing.deliveries > EVENTS
            hanging.reopen()  # let the stuck requests finish before everything stops
            # three triggers' work against one's: the healthy one may share the CPU, but not
            # wait for the others (a hanging subscriber holds its requests for the whole run)
            bound = max(3.0, 3 * alone)
            assert elapsed < bound, (
                f"the healthy trigger took {elapsed:.2f}s for {EVENTS} events beside the "
                f"troubled ones, {alone:.2f}s alone"
            )
            print(f"\n{EVENTS} events to the healthy trigger: {alone:.2f}s alone, {elapsed:.2f}s")
