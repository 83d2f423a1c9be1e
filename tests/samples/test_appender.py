"""kawa's appender (Knative's ``cmd/appender``) as a child process on ``$PORT``: appends
``$MESSAGE`` to the data's ``message`` and replies with the event, ``$TYPE`` overriding the
reply's type; data it cannot read gets 400."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from cloudevents.v1.conversion import to_binary, to_structured
from cloudevents.v1.http import CloudEvent as SdkEvent
from cloudevents.v1.http import from_http

from kawa.cloudevents import http as ce_http
from kawa.cloudevents.event import CloudEvent
from kawa.samples.appender import Appender, DataError, decode_payload

from .support import Program, program

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def appender(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Program]:
    env = {"MESSAGE": " - Handled by 0", "TYPE": "samples.appended"}
    with program("appender", tmp_path_factory.mktemp("appender"), env) as running:
        yield running


@pytest.fixture(scope="module")
def plain_appender(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Program]:
    """No MESSAGE and no TYPE: upstream's default message, the type kept."""
    env = {"MESSAGE": "", "TYPE": ""}
    with program("appender", tmp_path_factory.mktemp("plain"), env) as running:
        yield running


def _event(data: object, **attrs: str) -> SdkEvent:
    attributes = {
        "type": "samples.http.mod3",
        "source": "/apis/v1/ping",
        "id": "e-1",
        "datacontenttype": "application/json",
        **attrs,
    }
    return SdkEvent(attributes, data)


async def _post(url: str, headers: dict[str, str], body: bytes) -> tuple[int, object, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as resp,
    ):
        raw = await resp.read()
        return resp.status, resp.headers, raw


async def test_appends_the_message_and_replies_with_the_event(appender: Program) -> None:
    sent = _event({"id": 3, "message": "Hello world!", "extra": True}, subject="s1")
    sent["knativearrivaltime"] = "2024-01-01T00:00:00Z"
    headers, body = to_binary(sent)
    status, reply_headers, raw = await _post(appender.url + "/", dict(headers), body)
    assert status == 200, raw
    reply = from_http(dict(reply_headers), raw)  # type: ignore[call-overload]
    assert reply["id"] == "e-1"
    assert reply["source"] == "/apis/v1/ping"
    assert reply["type"] == "samples.appended"
    assert reply["subject"] == "s1"
    assert reply["knativearrivaltime"] == "2024-01-01T00:00:00Z"
    assert reply["datacontenttype"] == "application/json"
    # Go's struct: only id and message survive, compact
    assert raw == b'{"id":3,"message":"Hello world! - Handled by 0"}'
    assert "Received a new event" in appender.log()


async def test_structured_events_and_any_path(appender: Program) -> None:
    headers, body = to_structured(_event({"Message": "x", "ID": 7}))
    status, _, raw = await _post(appender.url + "/any/path", dict(headers), body)
    assert status == 200
    assert json.loads(raw) == {"id": 7, "message": "x - Handled by 0"}


async def test_no_data_is_an_empty_payload(plain_appender: Program) -> None:
    headers, body = ce_http.to_binary(
        CloudEvent({"specversion": "1.0", "id": "n", "source": "/s", "type": "t"})
    )
    status, reply_headers, raw = await _post(plain_appender.url, headers, body)
    assert status == 200
    assert json.loads(raw) == {"id": 0, "message": ""}
    assert reply_headers["ce-type"] == "t"  # type: ignore[index]


async def test_default_message_when_message_is_unset(tmp_path: Path) -> None:
    with program("appender", tmp_path) as running:
        headers, body = to_binary(_event({"message": "m"}))
        status, _, raw = await _post(running.url, dict(headers), body)
    assert status == 200
    assert json.loads(raw) == {
        "id": 0,
        "message": "mboring default msg, change me with env[MESSAGE]",
    }
    assert 'appending "boring default msg' in running.log()


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("text/plain", b"hello"),
        ("application/json", b"{not json"),
        ("application/json", b'{"id": "seven"}'),
        ("application/json", b'{"id": 1.5}'),
        ("application/json", b'{"message": 42}'),
        ("application/json", b"[1, 2]"),
    ],
)
async def test_data_it_cannot_read_gets_400(
    appender: Program, content_type: str, data: bytes
) -> None:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "bad",
        "ce-source": "/s",
        "ce-type": "t",
        "content-type": content_type,
    }
    status, _, raw = await _post(appender.url, headers, data)
    assert status == 400
    assert b"got error while unmarshalling data" in raw


async def test_not_a_cloudevent_gets_400_and_get_is_405(appender: Program) -> None:
    status, _, raw = await _post(appender.url, {"content-type": "application/json"}, b"{}")
    assert status == 400
    assert b"not a CloudEvent" in raw
    async with aiohttp.ClientSession() as session, session.get(appender.url) as resp:
        assert resp.status == 405


def test_payload_rules_follow_go() -> None:
    def payload(data: bytes, media: str | None = "application/json") -> tuple[int, str]:
        attrs: dict[str, str | int | bool | bytes] = {
            "specversion": "1.0",
            "id": "1",
            "source": "/s",
            "type": "t",
        }
        if media is not None:
            attrs["datacontenttype"] = media
        decoded = decode_payload(CloudEvent(attrs, data))
        return decoded.id, decoded.message

    assert payload(b'{"id": 1, "message": "a"}', None) == (1, "a")
    assert payload(b"null") == (0, "")
    assert payload(b'{"message": null, "id": null}') == (0, "")
    assert payload(b'{"message": "exact", "MESSAGE": "other"}') == (0, "exact")
    assert payload(b"{}", "application/cloudevents+json; charset=utf-8") == (0, "")
    with pytest.raises(DataError):
        payload(b'{"id": 99999999999999999999}')
    with pytest.raises(DataError):
        payload(b'{"id": true}')
    reply = Appender("<&>", "").transform(
        CloudEvent({"specversion": "1.0", "id": "1", "source": "/s", "type": "t"}, b"{}")
    )
    assert reply.data == b'{"id":0,"message":"\\u003c\\u0026\\u003e"}'
