"""kawa's delivery limits through a running kawa: ``kawa.dev/max-rate`` spaces the deliveries of
a backlog, on a Trigger and on a Subscription alike (never more than the rate in any second,
beyond a measured tolerance of one), ``kawa.dev/max-in-flight`` bounds the deliveries at once;
a Subscription with a bad value is refused (422, the annotation named)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from kawa.apis.limits import MAX_IN_FLIGHT, MAX_RATE

from ..channels.channel_support import MESSAGING, channel_url, send
from ..waiting import eventually
from .broker_support import (
    Kawa,
    Subscriber,
    broker,
    event,
    running_kawa,
    saved_cursors,
    subscriber,
    trigger,
)

SENT = 30


def _timed(sub: Subscriber) -> list[float]:
    """When each event reached ``sub`` (monotonic seconds)."""
    arrivals: list[float] = []
    record = sub.default

    async def timed(request: web.Request) -> web.StreamResponse:
        arrivals.append(time.monotonic())
        return await record(request)

    sub.default = timed
    return arrivals


def _assert_paced(arrivals: list[float], rate: float) -> None:
    """``SENT`` starts at ``rate`` take at least (SENT - 1) / rate s; in any one second, at
    most rate + 1 start."""
    spread = arrivals[-1] - arrivals[0]
    assert spread >= (SENT - 1) / rate * 0.9, spread
    most = max(sum(1 for t in arrivals if a <= t < a + 1.0) for a in arrivals)
    assert most <= rate + 1 + 1, most  # +1: a delivery's own jitter on a loaded machine


def _subscription(name: str, url: str, annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "messaging.knative.dev/v1",
        "kind": "Subscription",
        "metadata": {"name": name, "namespace": "default", "annotations": annotations},
        "spec": {
            "channel": {
                "apiVersion": "messaging.knative.dev/v1",
                "kind": "InMemoryChannel",
                "name": "paced",
            },
            "subscriber": {"uri": url},
        },
    }


async def _post(kawa: Kawa, plural: str, obj: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    url = f"{kawa.url}{MESSAGING}/default/{plural}"
    async with kawa.session.post(url, json=obj) as resp:
        return resp.status, dict(await resp.json())


async def _paced_subscription(kawa: Kawa, url: str) -> None:
    """Channel ``paced`` with a Subscription at 20 events/s to ``url``, its consumer running."""
    channel = {
        "apiVersion": "messaging.knative.dev/v1",
        "kind": "InMemoryChannel",
        "metadata": {"name": "paced", "namespace": "default"},
    }
    status, stored = await _post(kawa, "inmemorychannels", channel)
    assert status == 201, stored
    stream = f"channel:{stored['metadata']['uid']}"
    status, refused = await _post(kawa, "subscriptions", _subscription("bad", url, {MAX_RATE: "0"}))
    assert status == 422, refused
    assert f"metadata.annotations[{MAX_RATE}]: expected a positive number" in refused["message"]
    status, stored = await _post(kawa, "subscriptions", _subscription("s", url, {MAX_RATE: "20"}))
    assert status == 201, stored
    cursor = f"subscription:{stored['metadata']['uid']}@{stream}"

    async def started() -> bool:
        return cursor in saved_cursors(kawa.data_dir)

    await eventually(started, 10.0, "the paced Subscription's consumer never started")


async def test_max_rate_and_max_in_flight(tmp_path: Path) -> None:
    async with (
        running_kawa(tmp_path) as kawa,
        subscriber() as paced,
        subscriber() as slow,
        subscriber() as channel_paced,
    ):
        arrivals = _timed(paced)
        channel_arrivals = _timed(channel_paced)
        in_flight = peak = 0

        async def held(request: web.Request) -> web.StreamResponse:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.05)  # the subscriber's work
            in_flight -= 1
            return web.Response(status=202)

        slow.default = held
        await kawa.apply(broker())
        await kawa.apply(trigger("paced", paced.url, annotations={MAX_RATE: "20"}))
        await kawa.apply(trigger("one-at-a-time", slow.url, annotations={MAX_IN_FLIGHT: "1"}))
        await _paced_subscription(kawa, channel_paced.url)
        await kawa.wait_ready("Trigger", "paced")
        await kawa.wait_ready("Trigger", "one-at-a-time")
        to_channel = channel_url(kawa, "paced")
        await asyncio.gather(
            *(kawa.send(event(f"e{i}")) for i in range(SENT)),
            *(send(kawa, to_channel, event(f"c{i}")) for i in range(SENT)),
        )
        await paced.wait_for(SENT, timeout=20)
        await slow.wait_for(SENT, timeout=20)
        await channel_paced.wait_for(SENT, timeout=20)

        _assert_paced(arrivals, 20)
        _assert_paced(channel_arrivals, 20)
        assert peak == 1
