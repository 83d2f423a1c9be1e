"""Interop with the PyPI ``cloudevents`` SDK over real HTTP on 127.0.0.1, both directions.

The SDK 2.x keeps its classic API under ``cloudevents.v1``; ``to_binary``/``to_structured``
come from ``cloudevents.v1.conversion`` (the ``cloudevents.v1.http`` aliases are deprecated).
Known SDK behaviour that shapes these tests: it neither percent-encodes nor percent-decodes
header values, sends Python ints as header values unchanged and adds a ``time`` when absent.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
from aiohttp import web
from cloudevents.v1.conversion import to_binary as sdk_to_binary
from cloudevents.v1.conversion import to_structured as sdk_to_structured
from cloudevents.v1.http import CloudEvent as SdkEvent
from cloudevents.v1.http import from_http as sdk_from_http

from kawa.cloudevents import http
from kawa.cloudevents.event import CloudEvent
from kawa.cloudevents.timestamp import parse_timestamp

from .conftest import Sink, serve


def make_sdk_event(attributes: dict[str, Any], data: Any) -> Any:
    """An SDK event (its attribute mapping is typed ``str -> str``; extensions may be typed)."""
    return SdkEvent(attributes, data)


async def post(url: str, headers: dict[str, Any], body: bytes) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, headers={k: str(v) for k, v in headers.items()}, data=body) as resp,
    ):
        return resp.status


async def test_sdk_binary_to_kawa(sink: Sink) -> None:
    sdk_event = make_sdk_event(
        {
            "id": "py-binary",
            "type": "dev.kawa.interop",
            "source": "/interop/python",
            "subject": "ascii subject",
            "myext": "value",
            "myint": 42,
        },
        {"message": "hi", "list": [1, 2]},
    )
    assert await post(sink.url, *sdk_to_binary(sdk_event)) == 202
    (event,) = sink.events
    assert event.id == "py-binary"
    assert event.source == "/interop/python"
    assert event.get("subject") == "ascii subject"
    assert event.get("myext") == "value"
    assert event.get("myint") == "42"  # binary mode: a string on the wire
    assert parse_timestamp(str(event.get("time"))) == parse_timestamp(sdk_event["time"])
    assert orjson.loads(event.data or b"") == {"message": "hi", "list": [1, 2]}


async def test_sdk_structured_to_kawa(sink: Sink) -> None:
    sdk_event = make_sdk_event(
        {
            "id": "py-structured",
            "type": "dev.kawa.interop",
            "source": "/interop/python",
            "subject": 'Grüße "aus" Köln',
            "datacontenttype": "application/json",
            "myint": 42,
            "mybool": True,
        },
        {"k": "v"},
    )
    assert await post(sink.url, *sdk_to_structured(sdk_event)) == 202
    (event,) = sink.events
    assert event.get("subject") == 'Grüße "aus" Köln'
    assert event.get("myint") == 42
    assert event.get("mybool") is True
    assert orjson.loads(event.data or b"") == {"k": "v"}


async def test_sdk_binary_data_to_kawa(sink: Sink) -> None:
    attrs = {
        "id": "py-bytes",
        "type": "t",
        "source": "/s",
        "datacontenttype": "application/octet-stream",
    }
    sdk_event = make_sdk_event(attrs, b"\x00\x01\xff")
    assert await post(sink.url, *sdk_to_binary(sdk_event)) == 202
    assert await post(sink.url, *sdk_to_structured(sdk_event)) == 202
    assert [e.data for e in sink.events] == [b"\x00\x01\xff", b"\x00\x01\xff"]
    assert not sink.errors


async def test_kawa_rejects_invalid_sdk_event(sink: Sink) -> None:
    headers, body = sdk_to_binary(make_sdk_event({"type": "t", "source": "/s"}, None))
    del headers["ce-specversion"]
    assert await post(sink.url, headers, body) == 400
    assert "ce-specversion: required" in sink.errors[0]


async def _sdk_receiver(received: list[Any]) -> Any:
    async def handler(request: web.Request) -> web.Response:
        body = await request.read()
        received.append(sdk_from_http(dict(request.headers), body))
        return web.Response(status=202)

    return handler


async def test_kawa_binary_and_structured_to_sdk() -> None:
    received: list[Any] = []
    event = CloudEvent(
        {
            "specversion": "1.0",
            "id": "kawa-1",
            "source": "https://kawa.example/source",
            "type": "dev.kawa.interop",
            "subject": "plain-subject",
            "time": "2024-05-06T07:08:09.123Z",
            "datacontenttype": "application/json",
            "myext": "value",
        },
        b'{"message": "hi", "n": 1}',
    )
    async with serve(await _sdk_receiver(received)) as url:
        assert await post(url, *http.to_binary(event)) == 202
        assert await post(url, *http.to_structured(event)) == 202
    assert len(received) == 2
    for sdk_event in received:
        assert sdk_event["id"] == "kawa-1"
        assert sdk_event["source"] == "https://kawa.example/source"
        assert sdk_event["subject"] == "plain-subject"
        assert sdk_event["myext"] == "value"
        assert sdk_event["datacontenttype"] == "application/json"
        assert parse_timestamp(sdk_event["time"]) == parse_timestamp("2024-05-06T07:08:09.123Z")
        assert sdk_event.data == {"message": "hi", "n": 1}


async def test_kawa_typed_and_binary_data_to_sdk_structured() -> None:
    received: list[Any] = []
    events = [
        CloudEvent(
            {
                "specversion": "1.0",
                "id": "kawa-text",
                "source": "/s",
                "type": "t",
                "subject": "Grüße",
                "datacontenttype": "text/plain",
                "count": 7,
                "flag": True,
            },
            "Grüße".encode(),
        ),
        CloudEvent(
            {
                "specversion": "1.0",
                "id": "kawa-bytes",
                "source": "/s",
                "type": "t",
                "datacontenttype": "application/octet-stream",
            },
            b"\x00\xff",
        ),
    ]
    async with serve(await _sdk_receiver(received)) as url:
        for event in events:
            assert await post(url, *http.to_structured(event)) == 202
    text, binary = received
    assert text["subject"] == "Grüße"
    assert text["count"] == 7
    assert text["flag"] is True
    assert text.data == "Grüße"
    assert binary.data == b"\x00\xff"
