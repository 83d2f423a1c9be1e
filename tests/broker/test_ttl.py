"""The loop guard: a sender's ``knativebrokerttl`` is capped at the broker's maximum.

A trigger whose subscriber answers every event with a reply it matches itself is a loop
through the broker; the TTL must end it after at most ``--max-broker-ttl`` deliveries, whatever
TTL the first event came with (a sender setting 100,000 made an event loop 14,000 times).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from kawa.broker import ttl
from kawa.cloudevents import http as ce_http

from ..waiting import eventually
from .broker_support import broker, event, respond, running_kawa, subscriber, trigger


def test_a_senders_ttl_is_capped_at_the_maximum() -> None:
    huge = event("1", knativebrokerttl=100_000)
    assert ttl.on_ingress(huge).attributes[ttl.TTL_ATTRIBUTE] == ttl.DEFAULT_MAX_TTL
    assert ttl.on_ingress(huge, max_ttl=10).attributes[ttl.TTL_ATTRIBUTE] == 10
    assert ttl.on_ingress(event("1"), max_ttl=10).attributes[ttl.TTL_ATTRIBUTE] == 10
    assert (
        ttl.on_ingress(event("1", knativebrokerttl=5), max_ttl=10).attributes[ttl.TTL_ATTRIBUTE]
        == 4
    )  # below the cap: decremented as before


async def loop_deliveries(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, first_ttl: int, **config: Any
) -> int:
    """How many deliveries an event sent with ``first_ttl`` makes through a reply loop."""
    caplog.set_level(logging.INFO, logger="kawa.dispatch.consumer")
    headers, body = ce_http.to_binary(event("again", type_="loop"))
    async with running_kawa(tmp_path, **config) as kawa, subscriber() as sub:
        sub.default = respond(200, body, headers)  # a reply its own trigger matches
        await kawa.apply(broker())
        await kawa.apply(trigger("loop", sub.url))
        await kawa.wait_ready("Trigger", "loop")
        assert await kawa.send(event("start", type_="loop", knativebrokerttl=first_ttl)) == 202
        most = config.get("max_broker_ttl", ttl.DEFAULT_MAX_TTL)

        async def ended() -> bool:
            if len(sub.events) > most:
                raise AssertionError(f"the loop went on past {most} deliveries")
            dropped = "trigger default/loop: reply dropped"
            return any(dropped in r.getMessage() for r in caplog.records)

        await eventually(ended, 30, "the loop never ended")
        return len(sub.events)


async def test_a_loop_started_with_a_huge_ttl_stops_at_the_default_maximum(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert await loop_deliveries(tmp_path, caplog, 100_000) == ttl.DEFAULT_MAX_TTL


async def test_the_maximum_is_configurable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert await loop_deliveries(tmp_path, caplog, 100_000, max_broker_ttl=10) == 10
