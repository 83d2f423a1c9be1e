"""A reply that cannot be handed on: the original event is dead-lettered with what went
wrong, and the consumer's watermark moves on (an unexpected error must not hold it)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kawa.apis.duck import DeliverySpec
from kawa.cloudevents import http as ce_http
from kawa.cloudevents.event import CloudEvent
from kawa.delivery.policy import policy_from_delivery
from kawa.delivery.sender import Dispatcher
from kawa.dispatch import envelope
from kawa.dispatch.consumer import Consumer, Target
from kawa.eventlog.memory import MemoryEventLog

from ..broker.broker_support import event, respond, running_kawa, subscriber
from ..waiting import eventually
from .channel_support import channel_url, imc, put_channel, send, sub


async def test_a_failed_reply_dead_letters_with_the_replys_error(tmp_path: Path) -> None:
    reply_headers, reply_body = ce_http.to_binary(event("r1", type_="reply.type"))
    async with (
        running_kawa(tmp_path) as kawa,
        subscriber() as answering,
        subscriber() as broken_reply,
        subscriber() as dls,
    ):
        answering.default = respond(200, reply_body, reply_headers)
        broken_reply.default = respond(500, b"reply refused")
        delivery = {"deadLetterSink": {"uri": dls.url}}
        await put_channel(
            kawa, imc("c1", sub("u1", answering.url, broken_reply.url, delivery=delivery))
        )
        assert await send(kawa, channel_url(kawa, "c1"), event("e1")) == 202
        dead = (await dls.wait_for(1))[0]
        assert dead.id == "e1"  # the original event
        assert dead.attributes["knativeerrordest"] == broken_reply.url
        assert dead.attributes["knativeerrorcode"] == "500"


async def test_an_unexpected_reply_error_does_not_hold_the_watermark(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = MemoryEventLog()
    stream = "channel:x"
    reply_headers, reply_body = ce_http.to_binary(event("r", type_="reply.type"))
    async with subscriber() as answering, subscriber() as dls, Dispatcher() as dispatcher:
        answering.default = respond(200, reply_body, reply_headers)

        async def broken(
            reply: CloudEvent, original: CloudEvent, headers: dict[str, str], span: object
        ) -> None:
            raise RuntimeError("a bug in the reply path")

        target = Target(
            kind="subscription",
            namespace="default",
            name="c/u",
            uid="u",
            stream=stream,
            cursor="subscription:u@channel:x",
            subscriber_uri=answering.url,
            dead_letter_uri=dls.url,
            policy=policy_from_delivery(DeliverySpec()),
            format=None,
            reply_uri="http://127.0.0.1:9/",
        )
        await log.save_cursor(target.cursor, stream, 0)
        consumer = Consumer(target, log, dispatcher, broken)
        running = asyncio.create_task(consumer.run())
        try:
            await log.append(stream, [envelope.wrap(event(f"e{i}")) for i in range(3)])
            await dls.wait_for(3)

            async def moved_on() -> bool:
                return await log.load_cursor(target.cursor) == 3

            await eventually(moved_on)
            assert consumer.stats.dead_lettered == 3
            assert "handing on the reply to event 1 failed" in caplog.text
            caplog.clear()  # logged on purpose: the no-errors check of this package passes
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            await log.close()
