"""Dead letters: the original event plus the knativeerror* extensions, sent to the sink."""

from __future__ import annotations

import base64

import orjson

from kawa.cloudevents.event import CloudEvent
from kawa.delivery.policy import RetryPolicy
from kawa.delivery.sender import DeliveryResult, Dispatcher

from .delivery_support import Receiver, reply

DATA = b'{"order": 42,   "note": "\\u00e9"}\n\x00'

EVENT = CloudEvent(
    {
        "specversion": "1.0",
        "id": "evt-9",
        "source": "/orders",
        "type": "order.created",
        "datacontenttype": "application/json",
        "myext": "keep me",
    },
    DATA,
)

NO_RETRY = RetryPolicy(retry=0)
RETRY_2 = RetryPolicy(retry=2, backoff_policy="linear", backoff_delay=0.01)

INCOMING = {"X-Request-Id": "req-1", "Knative-Foo": "bar", "Authorization": "Bearer x"}


async def _fail_then_dead_letter(
    dispatcher: Dispatcher,
    subscriber_url: str,
    dls: Receiver,
    *,
    event: CloudEvent = EVENT,
    policy: RetryPolicy = NO_RETRY,
    format: str = "binary",
) -> tuple[DeliveryResult, DeliveryResult]:
    failed = await dispatcher.send(
        event, subscriber_url, policy=policy, headers=INCOMING, namespace="shop"
    )
    assert not failed.ok
    dead = await dispatcher.dead_letter(
        event,
        dls.url,
        failed,
        subscriber_url,
        policy=policy,
        format="json" if format == "json" else "binary",
        headers=INCOMING,
        namespace="shop",
    )
    return failed, dead


async def test_dead_letter_after_http_error(
    dispatcher: Dispatcher, subscriber: Receiver, dls: Receiver
) -> None:
    subscriber.default = reply(500, b"database on fire")
    failed, dead = await _fail_then_dead_letter(dispatcher, subscriber.url, dls, policy=RETRY_2)
    assert failed.attempts == 3
    assert dead.ok
    assert dead.attempts == 1
    (got,) = dls.requests
    h = got.headers
    assert h["ce-knativeerrordest"] == subscriber.url
    assert h["ce-knativeerrorcode"] == "500"
    assert h["ce-knativeerrordata"] == base64.b64encode(b"database on fire").decode()
    # the original event, untouched
    assert h["ce-id"] == "evt-9"
    assert h["ce-source"] == "/orders"
    assert h["ce-type"] == "order.created"
    assert h["ce-myext"] == "keep%20me"
    assert h["content-type"] == "application/json"
    assert got.body == DATA
    # forwarded headers and the namespace, but no request for a reply
    assert h["x-request-id"] == "req-1"
    assert h["knative-foo"] == "bar"
    assert h["kn-namespace"] == "shop"
    assert "prefer" not in h
    assert "authorization" not in h


async def test_dead_letter_after_non_retried_4xx(
    dispatcher: Dispatcher, subscriber: Receiver, dls: Receiver
) -> None:
    subscriber.default = reply(400, b"bad")
    failed, dead = await _fail_then_dead_letter(dispatcher, subscriber.url, dls, policy=RETRY_2)
    assert failed.attempts == 1
    assert dead.ok
    assert dls.requests[0].headers["ce-knativeerrorcode"] == "400"


async def test_dead_letter_after_connection_refused(
    dispatcher: Dispatcher, closed_url: str, dls: Receiver
) -> None:
    failed, dead = await _fail_then_dead_letter(dispatcher, closed_url, dls)
    assert dead.ok
    h = dls.requests[0].headers
    assert h["ce-knativeerrordest"] == closed_url
    assert h["ce-knativeerrorcode"] == "500"
    data = base64.b64decode(h["ce-knativeerrordata"])
    assert data == f"dispatch error: {failed.error}".encode()
    assert dls.requests[0].body == DATA


async def test_dead_letter_after_junk_reply_is_502(
    dispatcher: Dispatcher, subscriber: Receiver, dls: Receiver
) -> None:
    subscriber.default = reply(200, b"plain text, not an event")
    _, dead = await _fail_then_dead_letter(dispatcher, subscriber.url, dls)
    assert dead.ok
    h = dls.requests[0].headers
    assert h["ce-knativeerrorcode"] == "502"
    assert base64.b64decode(h["ce-knativeerrordata"]) == b"plain text, not an event"


async def test_dead_letter_data_is_truncated_to_1024_base64_chars(
    dispatcher: Dispatcher, subscriber: Receiver, dls: Receiver
) -> None:
    body = bytes(range(256)) * 20
    subscriber.default = reply(503, body)
    await _fail_then_dead_letter(dispatcher, subscriber.url, dls)
    data = dls.requests[0].headers["ce-knativeerrordata"]
    assert len(data) == 1024
    assert data == base64.b64encode(body).decode()[:1024]


async def test_dead_letter_without_response_body_has_no_error_data(
    dispatcher: Dispatcher, subscriber: Receiver, dls: Receiver
) -> None:
    stale = EVENT.with_attributes(knativeerrordata="c3RhbGU=", knativeerrorcode="418")
    subscriber.default = reply(404)
    await _fail_then_dead_letter(dispatcher, subscriber.url, dls, event=stale)
    h = dls.requests[0].headers
    assert h["ce-knativeerrorcode"] == "404"
    assert "ce-knativeerrordata" not in h


async def test_dead_letter_in_json_format(
    dispatcher: Dispatcher, subscriber: Receiver, dls: Receiver
) -> None:
    subscriber.default = reply(500, b"oops")
    await _fail_then_dead_letter(dispatcher, subscriber.url, dls, format="json")
    got = dls.requests[0]
    assert got.headers["content-type"] == "application/cloudevents+json"
    doc = orjson.loads(got.body)
    assert doc["knativeerrordest"] == subscriber.url
    assert doc["knativeerrorcode"] == "500"
    assert doc["knativeerrordata"] == base64.b64encode(b"oops").decode()
    assert doc["id"] == "evt-9"
    assert doc["myext"] == "keep me"
    assert base64.b64decode(doc["data_base64"]) == DATA  # not valid JSON: carried as binary


async def test_dead_letter_sink_is_retried_with_the_same_policy(
    dispatcher: Dispatcher, subscriber: Receiver, dls: Receiver
) -> None:
    subscriber.default = reply(500)
    dls.script(reply(503), reply(503))
    _, dead = await _fail_then_dead_letter(dispatcher, subscriber.url, dls, policy=RETRY_2)
    assert dead.ok
    assert dead.attempts == 3
    assert len(dls.requests) == 3


async def test_dead_letter_sink_failing_is_reported(
    dispatcher: Dispatcher, subscriber: Receiver, dls: Receiver
) -> None:
    subscriber.default = reply(500)
    dls.default = reply(500, b"dls down")
    _, dead = await _fail_then_dead_letter(dispatcher, subscriber.url, dls, policy=RETRY_2)
    assert not dead.ok
    assert dead.status == 500
    assert dead.attempts == 3
    assert dead.response_body == b"dls down"


async def test_dead_letter_sink_reply_is_not_a_reply(
    dispatcher: Dispatcher, subscriber: Receiver, dls: Receiver
) -> None:
    subscriber.default = reply(500)
    dls.default = reply(
        200,
        b"whatever",
        {"ce-specversion": "1.0", "ce-id": "r", "ce-source": "/s", "ce-type": "t"},
    )
    _, dead = await _fail_then_dead_letter(dispatcher, subscriber.url, dls)
    assert dead.ok
    assert dead.reply is None


async def test_dead_letter_sink_may_answer_200_with_any_body(
    dispatcher: Dispatcher, subscriber: Receiver, dls: Receiver
) -> None:
    subscriber.default = reply(500)
    dls.default = reply(200, b"<html>thanks</html>")
    _, dead = await _fail_then_dead_letter(dispatcher, subscriber.url, dls, policy=RETRY_2)
    assert (dead.ok, dead.attempts) == (True, 1)


def test_error_code_and_data_of_results() -> None:
    assert DeliveryResult(False, None, 1, error="boom").error_code == 500
    assert DeliveryResult(False, None, 1, error="boom").error_data == b"dispatch error: boom"
    assert DeliveryResult(False, 200, 1, response_body=b"x").error_code == 502
    assert DeliveryResult(False, 429, 1, response_body=b"x").error_code == 429
    assert DeliveryResult(False, 429, 1, response_body=b"x").error_data == b"x"
