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
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    first_ttl: int,
    report: str = "",
    **config: Any,
) -> int:
    """How many deliveries an event sent with ``first_ttl`` makes through a reply loop (and,
    with ``report``, that the end of the loop is reported with that text)."""
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

        async def reported() -> bool:
            logged = [r.getMessage() for r in caplog.records if r.name == "kawa.broker.loops"]
            return any(report in message for message in logged)

        if report:
            await eventually(reported, 10, f"no report of the loop: {report}")
        return len(sub.events)


async def test_a_loop_started_with_a_huge_ttl_stops_at_the_default_maximum(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert await loop_deliveries(tmp_path, caplog, 100_000) == ttl.DEFAULT_MAX_TTL


async def test_the_maximum_is_configurable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kawa.broker.loops")
    # the end is reported with the loop, the reply's type standing in for an undeclared one
    route = "Broker default -> Trigger loop (reply: loop) -> Broker default"
    assert await loop_deliveries(tmp_path, caplog, 100_000, route, max_broker_ttl=10) == 10


async def test_a_trigger_passing_events_to_its_own_broker_is_ended_by_the_ttl_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A Trigger whose subscriber is its own Broker: the events it passes keep their TTL
    (kawa's rule), so the loop ends after ``--max-broker-ttl`` rounds, and the end is reported
    with the loop it went round: a log line and a Warning Event on the Trigger."""
    caplog.set_level(logging.WARNING, logger="kawa.broker.loops")
    own_broker = {
        "ref": {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "default"}
    }
    async with running_kawa(tmp_path, max_broker_ttl=5) as kawa, subscriber() as watcher:
        await kawa.apply(broker())
        looping = trigger("loop", "", filter={"attributes": {"type": "loop"}})
        looping["spec"]["subscriber"] = own_broker
        await kawa.apply(looping)
        await kawa.apply(trigger("watch", watcher.url))
        await kawa.wait_ready("Trigger", "loop")
        await kawa.wait_ready("Trigger", "watch")
        assert await kawa.send(event("round", type_="loop")) == 202

        async def reported() -> dict[str, Any] | None:
            url = f"{kawa.url}/api/v1/namespaces/default/events"
            async with kawa.session.get(url) as resp:
                items = (await resp.json())["items"]
            return next((e for e in items if e.get("reason") == "EventLoopEnded"), None)

        found = await eventually(reported, 20, "the end of the loop was never reported")
        assert found["type"] == "Warning"
        assert found["involvedObject"]["kind"] == "Trigger"
        assert found["involvedObject"]["name"] == "loop"
        route = "Broker default -> Trigger loop (subscriber) -> Broker default"
        assert route in found["message"]
        assert "an event of type 'loop' went round an event loop" in found["message"]
        logged = [r.getMessage() for r in caplog.records if r.name == "kawa.broker.loops"]
        assert any("event round" in m and route in m for m in logged), logged
        # stored with TTL 5, 4, 3, 2, 1: the watcher saw each round once, and no more
        await watcher.wait_for(5)
        assert [e.id for e in watcher.events] == ["round"] * 5
