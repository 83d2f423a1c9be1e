"""A consumer whose subscriber is a Knative Service (its target carries the Service's capacity):
never more deliveries at once than that, and the Service's 503s (its router full, or waking)
are waited out and sent again, not dead-lettered, even with no retries at all; the same answers
from any other subscriber are failures as before. A real event log, dispatcher and HTTP server."""

from __future__ import annotations

import asyncio

from aiohttp import web

from kawa.apis.duck import DeliverySpec
from kawa.apis.limits import NO_LIMITS, Limits
from kawa.cloudevents.event import CloudEvent
from kawa.delivery.policy import policy_from_delivery
from kawa.delivery.sender import Dispatcher
from kawa.dispatch import envelope
from kawa.dispatch.consumer import Consumer, Target
from kawa.eventlog.memory import MemoryEventLog

from ..broker.broker_support import Subscriber, event, respond, subscriber
from ..waiting import eventually

STREAM = "channel:x"
SENT = 6
REFUSED = 4


async def _run(limits: Limits, service: Subscriber, dls: Subscriber) -> Consumer:
    """Deliver ``SENT`` events to ``service`` with no retries; the consumer once done."""
    target = Target(
        kind="subscription",
        namespace="default",
        name="c/u",
        uid="u",
        stream=STREAM,
        cursor=f"subscription:u@{STREAM}",
        subscriber_uri=service.url,
        dead_letter_uri=dls.url,
        policy=policy_from_delivery(DeliverySpec(retry=0)),
        format=None,
        limits=limits,
    )

    async def no_reply(
        reply: CloudEvent, original: CloudEvent, headers: dict[str, str], span: object
    ) -> None:
        return None

    log = MemoryEventLog()
    async with Dispatcher() as dispatcher:
        await log.save_cursor(target.cursor, STREAM, 0)
        consumer = Consumer(target, log, dispatcher, no_reply)
        running = asyncio.create_task(consumer.run())
        try:
            await log.append(STREAM, [envelope.wrap(event(f"e{i}")) for i in range(SENT)])

            async def finished() -> bool:
                return await log.load_cursor(target.cursor) == SENT

            await eventually(finished, 10.0, "the consumer never finished its events")
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            await log.close()
    return consumer


async def test_a_knative_services_503s_are_waited_out_within_its_capacity() -> None:
    async with subscriber() as service, subscriber() as dls:
        in_flight = peak = 0
        busy = respond(503, b"revision has 1 requests waiting already", {"Retry-After": "0"})

        async def answer(request: web.Request) -> web.StreamResponse:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.02)  # the Service's work
            in_flight -= 1
            return await respond(202)(request)

        service.script = [busy] * REFUSED
        service.default = answer
        consumer = await _run(Limits(subscriber_max_in_flight=2), service, dls)
        assert dls.events == []
        assert consumer.stats.delivered == SENT
        assert consumer.stats.retries == 0  # the 503s cost no attempt
        assert consumer.backpressure is not None
        assert consumer.backpressure.held == REFUSED
        assert len(service.events) == SENT + REFUSED
        assert peak <= 2


async def test_the_same_answers_from_another_subscriber_are_failures() -> None:
    async with subscriber() as other, subscriber() as dls:
        other.script = [respond(503, headers={"Retry-After": "0"})] * REFUSED
        consumer = await _run(NO_LIMITS, other, dls)
        assert consumer.backpressure is None
        assert len(dls.events) == REFUSED
        assert consumer.stats.delivered == SENT - REFUSED
