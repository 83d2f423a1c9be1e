"""Delivering one event to one subscriber over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import email.utils

import orjson
import pytest

from kawa.cloudevents.event import CloudEvent
from kawa.delivery import sender
from kawa.delivery.policy import RetryPolicy
from kawa.delivery.sender import Dispatcher

from .delivery_support import NOW, Receiver, Sleeps, reply

DATA = b'\x00\xff{"a": 1 ,  "b":[1,2]}\r\n\t \xe2\x98\x83 trailing  '

EVENT = CloudEvent(
    {
        "specversion": "1.0",
        "id": "evt-1",
        "source": "/apis/v1/namespaces/default/pingsources/p",
        "type": "dev.knative.example",
        "datacontenttype": "application/octet-stream",
        "subject": "héllo wörld",
        "myext": "a b%c",
    },
    DATA,
)

JSON_EVENT = CloudEvent(
    {
        "specversion": "1.0",
        "id": "evt-2",
        "source": "/s",
        "type": "t",
        "datacontenttype": "application/json",
    },
    b'{"msg": "hi", "n": 1}',
)

NO_RETRY = RetryPolicy(retry=0)

REPLY_HEADERS = {
    "ce-specversion": "1.0",
    "ce-id": "reply-1",
    "ce-source": "/subscriber",
    "ce-type": "dev.knative.reply",
    "content-type": "text/plain",
}


def retrying(retry: int = 2, **kw: object) -> RetryPolicy:
    return RetryPolicy(retry=retry, backoff_policy="linear", backoff_delay=0.01, **kw)  # type: ignore[arg-type]


# --- what goes on the wire -------------------------------------------------------------------


async def test_headers_sent_to_subscriber(dispatcher: Dispatcher, subscriber: Receiver) -> None:
    incoming = {
        "X-Request-Id": "req-7",
        "Knative-Trace": "k",
        "X-B3-TraceId": "463ac35c9f6413ad",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "Authorization": "Bearer secret",
        "Cookie": "session=1",
        "X-Custom": "nope",
        "ce-id": "spoofed",
        "Content-Type": "text/spoofed",
    }
    result = await dispatcher.send(
        EVENT, subscriber.url, policy=NO_RETRY, headers=incoming, namespace="team-a"
    )
    assert result.ok
    (got,) = subscriber.requests
    h = got.headers
    assert h["prefer"] == "reply"
    assert h["kn-namespace"] == "team-a"
    assert h["x-request-id"] == "req-7"
    assert h["knative-trace"] == "k"
    assert h["x-b3-traceid"] == "463ac35c9f6413ad"
    assert h["traceparent"].startswith("00-0af7")
    for dropped in ("authorization", "cookie", "x-custom"):
        assert dropped not in h
    assert h["ce-id"] == "evt-1"
    assert h["content-type"] == "application/octet-stream"


async def test_no_namespace_header_without_namespace(
    dispatcher: Dispatcher, subscriber: Receiver
) -> None:
    await dispatcher.send(EVENT, subscriber.url, policy=NO_RETRY)
    assert "kn-namespace" not in subscriber.requests[0].headers
    assert subscriber.requests[0].headers["prefer"] == "reply"


async def test_binary_mode_on_the_wire_keeps_data_byte_for_byte(
    dispatcher: Dispatcher, subscriber: Receiver
) -> None:
    await dispatcher.send(EVENT, subscriber.url, policy=NO_RETRY)
    (got,) = subscriber.requests
    assert got.body == DATA
    assert got.headers["ce-specversion"] == "1.0"
    assert got.headers["ce-source"] == "/apis/v1/namespaces/default/pingsources/p"
    assert got.headers["ce-type"] == "dev.knative.example"
    assert got.headers["ce-subject"] == "h%C3%A9llo%20w%C3%B6rld"
    assert got.headers["ce-myext"] == "a%20b%25c"
    assert "ce-datacontenttype" not in got.headers


async def test_binary_mode_without_datacontenttype_sends_no_content_type(
    dispatcher: Dispatcher, subscriber: Receiver
) -> None:
    event = CloudEvent({"specversion": "1.0", "id": "x", "source": "/s", "type": "t"}, b"raw")
    await dispatcher.send(event, subscriber.url, policy=NO_RETRY)
    (got,) = subscriber.requests
    assert "content-type" not in got.headers
    assert got.body == b"raw"


async def test_json_format_on_the_wire(dispatcher: Dispatcher, subscriber: Receiver) -> None:
    await dispatcher.send(JSON_EVENT, subscriber.url, policy=NO_RETRY, format="json")
    (got,) = subscriber.requests
    assert got.headers["content-type"] == "application/cloudevents+json"
    assert not any(name.startswith("ce-") for name in got.headers)
    doc = orjson.loads(got.body)
    assert doc["id"] == "evt-2"
    assert doc["datacontenttype"] == "application/json"
    assert doc["data"] == {"msg": "hi", "n": 1}


async def test_json_format_keeps_binary_data(dispatcher: Dispatcher, subscriber: Receiver) -> None:
    await dispatcher.send(EVENT, subscriber.url, policy=NO_RETRY, format="json")
    doc = orjson.loads(subscriber.requests[0].body)
    import base64

    assert base64.b64decode(doc["data_base64"]) == DATA


# --- retries -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retried"),
    [
        (301, False),
        (302, False),
        (400, False),
        (401, False),
        (403, False),
        (404, True),
        (405, False),
        (408, True),
        (409, True),
        (410, False),
        (413, False),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
    ],
)
async def test_retry_classification_on_the_wire(
    dispatcher: Dispatcher, subscriber: Receiver, sleeps: Sleeps, status: int, retried: bool
) -> None:
    headers = {"Location": "/elsewhere"} if 300 <= status < 400 else None
    subscriber.default = reply(status, b"nope", headers)
    result = await dispatcher.send(EVENT, subscriber.url, policy=retrying(2))
    assert not result.ok
    assert result.status == status
    assert result.response_body == b"nope"
    expected = 3 if retried else 1
    assert result.attempts == expected
    assert len(subscriber.requests) == expected  # a redirect is not followed either
    assert len(sleeps) == expected - 1


async def test_retries_until_success(
    dispatcher: Dispatcher, subscriber: Receiver, sleeps: Sleeps
) -> None:
    subscriber.script(reply(503), reply(500), reply(200))
    result = await dispatcher.send(EVENT, subscriber.url, policy=retrying(5))
    assert result.ok
    assert result.status == 200
    assert result.attempts == 3
    assert result.reply is None
    assert len(sleeps) == 2
    assert all(r.body == DATA for r in subscriber.requests)


async def test_retry_zero_means_one_attempt(dispatcher: Dispatcher, subscriber: Receiver) -> None:
    subscriber.default = reply(500)
    result = await dispatcher.send(EVENT, subscriber.url, policy=NO_RETRY)
    assert (result.ok, result.attempts, result.error) == (False, 1, "HTTP 500")


async def test_linear_backoff_delays(
    dispatcher: Dispatcher, subscriber: Receiver, sleeps: Sleeps
) -> None:
    subscriber.default = reply(500)
    policy = RetryPolicy(retry=3, backoff_policy="linear", backoff_delay=0.5)
    result = await dispatcher.send(EVENT, subscriber.url, policy=policy)
    assert result.attempts == 4
    assert sleeps == [0.5, 1.0, 1.5]


async def test_exponential_backoff_delays(
    dispatcher: Dispatcher, subscriber: Receiver, sleeps: Sleeps
) -> None:
    subscriber.default = reply(503)
    policy = RetryPolicy(retry=4, backoff_policy="exponential", backoff_delay=0.2)
    await dispatcher.send(EVENT, subscriber.url, policy=policy)
    assert sleeps == pytest.approx([0.4, 0.8, 1.6, 3.2])


async def test_retry_after_honoured_and_capped(
    dispatcher: Dispatcher, subscriber: Receiver, sleeps: Sleeps
) -> None:
    subscriber.script(
        reply(429, headers={"Retry-After": "7"}),
        reply(503, headers={"Retry-After": "100"}),
        reply(500, headers={"Retry-After": "9"}),  # not 429/503: ignored
        reply(202),
    )
    result = await dispatcher.send(EVENT, subscriber.url, policy=retrying(5, retry_after_max=30.0))
    assert result.ok
    assert result.attempts == 4
    assert sleeps == pytest.approx([7.0, 30.0, 0.03])


async def test_an_overload_hook_takes_429_and_503_without_counting_them(
    dispatcher: Dispatcher, subscriber: Receiver, sleeps: Sleeps
) -> None:
    """A scaling subscriber's "full for now" goes to the consumer's backpressure: waited out
    and sent again, not an attempt of the retry policy (none here)."""
    subscriber.script(reply(503, headers={"Retry-After": "1"}), reply(429), reply(503), reply(200))
    told: list[tuple[int, str | None]] = []

    async def hold(status: int, retry_after: str | None) -> bool:
        told.append((status, retry_after))
        return True

    result = await dispatcher.send(EVENT, subscriber.url, policy=NO_RETRY, overload=hold)
    assert result.ok
    assert result.attempts == 1
    assert told == [(503, "1"), (429, None), (503, None)]
    assert len(subscriber.requests) == 4
    assert sleeps == []  # the hook waited: no backoff of the policy's

    # a hook that gives up: the answer counts as the policy says; other failures never reach it
    subscriber.script(reply(503), reply(500))

    async def gives_up(status: int, retry_after: str | None) -> bool:
        told.append((status, retry_after))
        return False

    told.clear()
    result = await dispatcher.send(EVENT, subscriber.url, policy=retrying(1), overload=gives_up)
    assert not result.ok
    assert (result.status, result.attempts) == (500, 2)
    assert told == [(503, None)]


async def test_one_delivery_waits_out_overload_answers_for_a_bounded_time(
    dispatcher: Dispatcher, subscriber: Receiver, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One event a Service always refuses (while it serves others, so the backpressure never
    gives up) is held for OVERLOAD_HOLD_MAX at most, then its answers count as attempts."""
    monkeypatch.setattr(sender, "OVERLOAD_HOLD_MAX", 0.0)  # only the first answer is held
    subscriber.script(reply(503), reply(503), reply(503))
    told: list[int] = []

    async def hold(status: int, retry_after: str | None) -> bool:
        told.append(status)
        return True

    result = await dispatcher.send(EVENT, subscriber.url, policy=retrying(1), overload=hold)
    assert not result.ok
    assert (result.status, result.attempts) == (503, 2)
    assert told == [503]
    assert len(subscriber.requests) == 3


async def test_retry_after_ignored_without_retry_after_max(
    dispatcher: Dispatcher, subscriber: Receiver, sleeps: Sleeps
) -> None:
    subscriber.script(reply(429, headers={"Retry-After": "7"}), reply(202))
    await dispatcher.send(EVENT, subscriber.url, policy=retrying(2))
    assert sleeps == pytest.approx([0.01])


async def test_retry_after_http_date(
    dispatcher: Dispatcher, subscriber: Receiver, sleeps: Sleeps
) -> None:
    date = email.utils.formatdate(NOW + 12, usegmt=True)
    subscriber.script(reply(503, headers={"Retry-After": date}), reply(202))
    await dispatcher.send(EVENT, subscriber.url, policy=retrying(1, retry_after_max=60.0))
    assert sleeps == pytest.approx([12.0])


async def test_per_attempt_timeout(
    dispatcher: Dispatcher, subscriber: Receiver, sleeps: Sleeps
) -> None:
    subscriber.default = subscriber.stall()
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await dispatcher.send(EVENT, subscriber.url, policy=retrying(1, timeout=0.1))
    elapsed = loop.time() - started
    assert not result.ok
    assert result.status is None
    assert result.attempts == 2
    assert result.error is not None
    assert "timeout" in result.error
    assert len(sleeps) == 1
    assert elapsed < 2.0


async def test_timeout_then_success(dispatcher: Dispatcher, subscriber: Receiver) -> None:
    subscriber.script(subscriber.stall(), reply(202))
    result = await dispatcher.send(EVENT, subscriber.url, policy=retrying(1, timeout=0.1))
    assert result.ok
    assert result.attempts == 2


async def test_connection_refused_is_retried_then_fails(
    dispatcher: Dispatcher, closed_url: str, sleeps: Sleeps
) -> None:
    result = await dispatcher.send(EVENT, closed_url, policy=retrying(2))
    assert not result.ok
    assert result.status is None
    assert result.attempts == 3
    assert result.response_body == b""
    assert result.error is not None
    assert "Connect" in result.error
    assert sleeps == pytest.approx([0.01, 0.02])
    assert result.error_code == 500


# --- responses and replies ---------------------------------------------------------------------


async def test_200_with_binary_cloudevent_is_a_reply(
    dispatcher: Dispatcher, subscriber: Receiver
) -> None:
    subscriber.default = reply(200, b"reply data", REPLY_HEADERS)
    result = await dispatcher.send(EVENT, subscriber.url, policy=NO_RETRY)
    assert result.ok
    assert result.reply is not None
    assert result.reply.id == "reply-1"
    assert result.reply.type == "dev.knative.reply"
    assert result.reply.datacontenttype == "text/plain"
    assert result.reply.data == b"reply data"


async def test_200_with_structured_cloudevent_is_a_reply(
    dispatcher: Dispatcher, subscriber: Receiver
) -> None:
    body = orjson.dumps(
        {"specversion": "1.0", "id": "r2", "source": "/s", "type": "t", "data": {"x": 1}}
    )
    subscriber.default = reply(
        200, body, {"Content-Type": "application/cloudevents+json; charset=utf-8"}
    )
    result = await dispatcher.send(EVENT, subscriber.url, policy=NO_RETRY)
    assert result.ok
    assert result.reply is not None
    assert result.reply.id == "r2"


async def test_201_with_cloudevent_is_a_reply(dispatcher: Dispatcher, subscriber: Receiver) -> None:
    subscriber.default = reply(201, b"", REPLY_HEADERS)
    result = await dispatcher.send(EVENT, subscriber.url, policy=NO_RETRY)
    assert result.reply is not None


async def test_202_is_never_a_reply(dispatcher: Dispatcher, subscriber: Receiver) -> None:
    subscriber.default = reply(202, b"reply data", REPLY_HEADERS)
    result = await dispatcher.send(EVENT, subscriber.url, policy=retrying(3))
    assert result.ok
    assert result.status == 202
    assert result.reply is None
    assert result.attempts == 1


async def test_202_with_junk_body_is_fine(dispatcher: Dispatcher, subscriber: Receiver) -> None:
    subscriber.default = reply(202, b"<html>accepted</html>")
    result = await dispatcher.send(EVENT, subscriber.url, policy=retrying(3))
    assert (result.ok, result.attempts, result.reply) == (True, 1, None)


@pytest.mark.parametrize("status", [200, 204])
async def test_empty_2xx_completes(
    dispatcher: Dispatcher, subscriber: Receiver, status: int
) -> None:
    subscriber.default = reply(status)
    result = await dispatcher.send(EVENT, subscriber.url, policy=retrying(3))
    assert (result.ok, result.status, result.attempts, result.reply) == (True, status, 1, None)


async def test_200_with_junk_is_a_retried_failure(
    dispatcher: Dispatcher, subscriber: Receiver, sleeps: Sleeps
) -> None:
    subscriber.default = reply(200, b"hello, not an event", {"Content-Type": "text/plain"})
    result = await dispatcher.send(EVENT, subscriber.url, policy=retrying(2))
    assert not result.ok
    assert result.status == 200
    assert result.attempts == 3
    assert result.reply is None
    assert result.response_body == b"hello, not an event"
    assert result.error == "non-empty response is not a CloudEvent"
    assert result.error_code == 502
    assert len(sleeps) == 2


async def test_unparseable_cloudevent_reply_is_a_retried_failure(
    dispatcher: Dispatcher, subscriber: Receiver
) -> None:
    broken = {k: v for k, v in REPLY_HEADERS.items() if k != "ce-id"}
    subscriber.script(
        reply(200, b"x", broken),
        reply(200, b"{not json", {"Content-Type": "application/cloudevents+json"}),
        reply(200, b"", REPLY_HEADERS),
    )
    result = await dispatcher.send(EVENT, subscriber.url, policy=retrying(2))
    assert result.ok
    assert result.attempts == 3
    assert result.reply is not None


async def test_unparseable_reply_reported(dispatcher: Dispatcher, subscriber: Receiver) -> None:
    broken = {k: v for k, v in REPLY_HEADERS.items() if k != "ce-id"}
    subscriber.default = reply(200, b"x", broken)
    result = await dispatcher.send(EVENT, subscriber.url, policy=NO_RETRY)
    assert not result.ok
    assert result.error is not None
    assert result.error.startswith("invalid reply")
    assert "ce-id" in result.error


async def test_reply_nested_too_deeply_is_retried_then_reported(
    dispatcher: Dispatcher, subscriber: Receiver
) -> None:
    """A structured reply whose data nests 300 levels once raised out of send() (orjson's
    recursion limit), so the delivery was dropped after one attempt whatever ``retry`` said."""
    deep = b'{"specversion":"1.0","id":"r","source":"/s","type":"t","data":'
    deep += b"[" * 300 + b"]" * 300 + b"}"
    subscriber.default = reply(200, deep, {"Content-Type": "application/cloudevents+json"})
    result = await dispatcher.send(EVENT, subscriber.url, policy=retrying(2))
    assert not result.ok
    assert result.attempts == 3
    assert result.error_code == 502
    assert result.error is not None
    assert result.error.startswith("invalid reply")
    assert result.error.endswith("nested too deeply (more than 199 levels)")


# --- the pool ----------------------------------------------------------------------------------


async def test_connections_are_reused(dispatcher: Dispatcher, subscriber: Receiver) -> None:
    for _ in range(20):
        assert (await dispatcher.send(EVENT, subscriber.url, policy=NO_RETRY)).ok
    peers = {r.peer for r in subscriber.requests}
    assert len(peers) == 1


async def test_connections_are_reused_after_failures(
    dispatcher: Dispatcher, subscriber: Receiver
) -> None:
    subscriber.default = reply(500, b"x" * 10_000)
    await dispatcher.send(EVENT, subscriber.url, policy=retrying(5))
    assert len({r.peer for r in subscriber.requests}) == 1


async def test_many_concurrent_deliveries(dispatcher: Dispatcher, subscriber: Receiver) -> None:
    results = await asyncio.gather(
        *(dispatcher.send(EVENT, subscriber.url, policy=NO_RETRY) for _ in range(200))
    )
    assert all(r.ok for r in results)
    assert len(subscriber.requests) == 200


async def test_send_needs_an_open_dispatcher(subscriber: Receiver) -> None:
    dispatcher = Dispatcher()
    with pytest.raises(RuntimeError, match="not open"):
        await dispatcher.send(EVENT, subscriber.url, policy=NO_RETRY)
    async with dispatcher:
        assert (await dispatcher.send(EVENT, subscriber.url, policy=NO_RETRY)).ok
    with pytest.raises(RuntimeError, match="not open"):
        await dispatcher.send(EVENT, subscriber.url, policy=NO_RETRY)
