"""The HTTP protocol binding: modes, header encoding, errors, round trips (pure functions)."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

from kawa.cloudevents import http
from kawa.cloudevents.event import CloudEvent
from kawa.cloudevents.validation import CloudEventError

BINARY_HEADERS = {
    "ce-specversion": "1.0",
    "ce-id": "1234",
    "ce-source": "https://example.com/source",
    "ce-type": "com.example.test",
}
ATTRS: dict[str, str | int | bool | bytes] = {
    "specversion": "1.0",
    "id": "1234",
    "source": "https://example.com/source",
    "type": "com.example.test",
}


def error_paths(headers: dict[str, str], body: bytes = b"") -> dict[str, str]:
    with pytest.raises(CloudEventError) as info:
        http.from_http(headers, body)
    return {e.path: e.message for e in info.value.errors}


def test_binary_mode() -> None:
    headers = {
        **BINARY_HEADERS,
        "Content-Type": "application/json",
        "ce-subject": "sub",
        "ce-myext": "42",
        "x-other": "ignored",
    }
    event = http.from_http(headers, b'{"a": 1}')
    assert event.attributes == {
        **ATTRS,
        "subject": "sub",
        "myext": "42",  # no type information on the wire: a string
        "datacontenttype": "application/json",
    }
    assert event.data == b'{"a": 1}'  # the body exactly as received


def test_header_names_in_any_case_and_any_mapping() -> None:
    mixed = {"CE-SpecVersion": "1.0", "Ce-Id": "1", "ce-SOURCE": "/s", "cE-type": "t"}
    event = http.from_http(mixed, b"")
    assert event.attributes == {"specversion": "1.0", "id": "1", "source": "/s", "type": "t"}
    proxy = CIMultiDictProxy(CIMultiDict({**mixed, "Content-Type": "text/plain"}))
    event = http.from_http(proxy, b"hi")
    assert event.datacontenttype == "text/plain"
    assert event.data == b"hi"


def test_empty_body_is_no_data() -> None:
    assert http.from_http(BINARY_HEADERS, b"").data is None


def test_missing_specversion_is_reported_as_the_header() -> None:
    headers = dict(BINARY_HEADERS)
    del headers["ce-specversion"]
    assert error_paths(headers) == {"ce-specversion": "required"}


def test_binary_errors_use_header_names() -> None:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "",
        "ce-source": "a b",
        "ce-time": "2020-01-01 12:00:00",
        "ce-bad_name": "x",
        "content-type": "xyz",
    }
    paths = error_paths(headers)
    assert set(paths) == {"ce-id", "ce-source", "ce-time", "ce-bad_name", "ce-type", "content-type"}


def test_ce_datacontenttype_is_rejected_in_binary_mode() -> None:
    headers = {**BINARY_HEADERS, "ce-datacontenttype": "text/plain"}
    assert "Content-Type" in error_paths(headers)["ce-datacontenttype"]


def test_v03_binary() -> None:
    headers = {**BINARY_HEADERS, "ce-specversion": "0.3", "ce-schemaurl": "https://e.com/s"}
    headers["ce-datacontentencoding"] = "base64"
    event = http.from_http(headers, b"raw")
    assert event.specversion == "0.3"
    assert event.get("schemaurl") == "https://e.com/s"
    assert "datacontentencoding" not in event.attributes
    assert event.data == b"raw"


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("plain-ASCII_value~!#$&'()*+,/:;=?@[]", "plain-ASCII_value~!#$&'()*+,/:;=?@[]"),
        ("with space", "with%20space"),
        ('a "quote"', "a%20%22quote%22"),
        ("100%", "100%25"),
        ("café", "caf%C3%A9"),
        ("Euro € 😀", "Euro%20%E2%82%AC%20%F0%9F%98%80"),
        ("tab\tnew\nline\x7f", "tab%09new%0Aline%7F"),
        ("", ""),
    ],
)
def test_header_value_encoding(value: str, encoded: str) -> None:
    assert http.encode_header_value(value) == encoded
    assert http.decode_header_value(encoded) == value


def test_typed_values_in_headers() -> None:
    assert http.encode_header_value(True) == "true"
    assert http.encode_header_value(False) == "false"
    assert http.encode_header_value(-42) == "-42"
    assert http.encode_header_value(b"Ma") == "TWE="


def test_header_decoding_unquotes_then_percent_decodes_once() -> None:
    assert http.decode_header_value('"quoted value"') == "quoted value"
    assert http.decode_header_value('"with \\"escaped\\" quote"') == 'with "escaped" quote'
    assert http.decode_header_value('"caf%C3%A9"') == "café"
    assert http.decode_header_value("%2541") == "%41"  # one round only
    assert http.decode_header_value("100%") == "100%"  # a bare % is left alone
    assert http.decode_header_value("café") == "café"  # raw UTF-8 that arrived decoded


@pytest.mark.parametrize("value", ["%C0%A0", "%FF", "%E2%82", "ok%ED%A0%80"])
def test_invalid_utf8_is_rejected(value: str) -> None:
    with pytest.raises(ValueError, match="UTF-8"):
        http.decode_header_value(value)
    assert "UTF-8" in error_paths({**BINARY_HEADERS, "ce-subject": value})["ce-subject"]


def test_raw_invalid_utf8_header_bytes_are_rejected() -> None:
    # aiohttp hands undecodable header bytes over as lone surrogates (surrogateescape).
    raw = b"\xc0\xa0".decode("utf-8", errors="surrogateescape")
    assert "UTF-8" in error_paths({**BINARY_HEADERS, "ce-subject": raw})["ce-subject"]


def test_binary_round_trip_with_non_ascii_and_typed_extensions() -> None:
    event = CloudEvent(
        {
            **ATTRS,
            "subject": 'Grüße "aus" 100% Köln',
            "time": "2020-01-01T12:00:00Z",
            "datacontenttype": "text/plain; charset=utf-8",
            "myext": "a b",
            "count": 7,
            "flag": True,
        },
        "é".encode(),
    )
    headers, body = http.to_binary(event)
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert "ce-datacontenttype" not in headers
    assert headers["ce-subject"] == "Gr%C3%BC%C3%9Fe%20%22aus%22%20100%25%20K%C3%B6ln"
    assert all(value.isascii() for value in headers.values())
    back = http.from_http(headers, body)
    assert back.data == event.data
    # Typed extensions come back as their string form (binary mode carries no types).
    assert back.attributes == {**event.attributes, "count": "7", "flag": "true"}


def test_to_binary_without_data() -> None:
    headers, body = http.to_binary(CloudEvent(dict(ATTRS)))
    assert body == b""
    assert "content-type" not in headers
    assert http.from_http(headers, body) == CloudEvent(dict(ATTRS))


def test_structured_mode() -> None:
    obj = {**ATTRS, "datacontenttype": "text/plain", "data": "hello", "count": 3}
    headers = {"Content-Type": "application/cloudevents+json; charset=utf-8"}
    event = http.from_http(headers, orjson.dumps(obj))
    assert event.attributes["count"] == 3  # JSON keeps the type
    assert event.data == b"hello"
    # ce- headers in structured mode are not the event.
    event2 = http.from_http({**headers, "ce-id": "other"}, orjson.dumps(obj))
    assert event2.id == "1234"


def test_structured_round_trip() -> None:
    event = CloudEvent({**ATTRS, "datacontenttype": "application/json", "n": 1}, b'{"a":[1]}')
    headers, body = http.to_structured(event)
    assert headers == {"content-type": "application/cloudevents+json"}
    assert http.from_http(headers, body) == event


def test_structured_errors_use_attribute_names() -> None:
    headers = {"content-type": "application/cloudevents+json"}
    paths = error_paths(headers, orjson.dumps({**ATTRS, "id": "", "time": "2020-13-01T00:00:00Z"}))
    assert set(paths) == {"id", "time"}


def test_unsupported_structured_format_is_a_clear_error() -> None:
    headers = {"content-type": "application/cloudevents+avro"}
    message = error_paths(headers, b"\x00")["content-type"]
    assert "unsupported event format 'application/cloudevents+avro'" in message
    with pytest.raises(CloudEventError, match="only application/cloudevents-batch"):
        http.from_http_batch({"content-type": "application/cloudevents-batch+xml"}, b"")


def test_batch_is_not_accepted_by_from_http() -> None:
    headers = {"content-type": "application/cloudevents-batch+json"}
    assert "batch" in error_paths(headers, b"[]")["content-type"]


def test_batch_mode() -> None:
    events = [CloudEvent({**ATTRS, "id": str(i)}, None) for i in range(3)]
    headers, body = http.to_batch(events)
    assert headers == {"content-type": "application/cloudevents-batch+json"}
    assert http.from_http_batch(headers, body) == events
    assert http.from_http_batch(headers, b"[]") == []


def test_from_http_batch_accepts_single_events() -> None:
    event = CloudEvent(dict(ATTRS), b"x")
    assert http.from_http_batch(*http.to_binary(event)) == [event]
    assert http.from_http_batch(*http.to_structured(event)) == [event]


def test_is_cloudevent() -> None:
    assert http.is_cloudevent({"Ce-SpecVersion": "1.0"})
    assert http.is_cloudevent({"Content-Type": "application/cloudevents+json"})
    assert http.is_cloudevent({"content-type": "Application/CloudEvents-Batch+json"})
    assert not http.is_cloudevent({"content-type": "application/json"})
    assert not http.is_cloudevent({"ce-id": "1"})
    assert not http.is_cloudevent({})


_TEXT = st.text(st.characters(exclude_categories=["Cs"]))  # any Unicode but lone surrogates


@given(_TEXT)
def test_header_value_round_trip_property(value: str) -> None:
    encoded = http.encode_header_value(value)
    assert all(0x21 <= ord(c) <= 0x7E and c not in '"' for c in encoded)
    assert http.decode_header_value(encoded) == value


@given(
    subject=_TEXT.filter(bool),
    ext=st.one_of(_TEXT, st.booleans(), st.integers(-(2**31), 2**31 - 1)),
    data=st.one_of(st.none(), st.binary(min_size=1)),
    content_type=st.sampled_from(
        [None, "application/json", "text/plain", "application/octet-stream"]
    ),
)
def test_event_round_trips_property(
    subject: str, ext: str | bool | int, data: bytes | None, content_type: str | None
) -> None:
    attrs: dict[str, str | int | bool | bytes] = {**ATTRS, "subject": subject, "ext": ext}
    if content_type:
        attrs["datacontenttype"] = content_type
    event = CloudEvent(attrs, data)
    structured = http.from_http(*http.to_structured(event))
    assert structured.attributes == event.attributes
    if structured.data != event.data:  # JSON data comes back as its compact serialization
        assert data is not None
        assert structured.data is not None
        assert orjson.loads(structured.data) == orjson.loads(data)
    back = http.from_http(*http.to_binary(event))
    assert back.data == event.data
    assert back.get("subject") == subject
    # A typed extension comes back as its canonical string form (binary mode has no types).
    assert back.get("ext") == (ext if isinstance(ext, str) else http.encode_header_value(ext))
