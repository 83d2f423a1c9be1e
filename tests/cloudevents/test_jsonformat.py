"""The JSON event format: data forms, exclusivity, nulls, 0.3 base64, batches, encoding."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from kawa import memo, nesting
from kawa.cloudevents import jsonformat
from kawa.cloudevents.event import CloudEvent
from kawa.cloudevents.validation import CloudEventError

BASE: dict[str, Any] = {
    "specversion": "1.0",
    "id": "1",
    "source": "/source",
    "type": "com.example.test",
}


def decode(**members: Any) -> CloudEvent:
    return jsonformat.from_json_obj({**BASE, **members})


def error_paths(obj: object) -> set[str]:
    with pytest.raises(CloudEventError) as info:
        jsonformat.from_json_obj(obj)
    return {e.path for e in info.value.errors}


@pytest.mark.parametrize(
    "content_type", [None, "application/json", "text/json", "application/vnd.x+json; v=1"]
)
def test_json_data_is_kept_as_its_serialization(content_type: str | None) -> None:
    members: dict[str, Any] = {"data": {"b": 1, "a": [True, None, "x"]}}
    if content_type:
        members["datacontenttype"] = content_type
    event = decode(**members)
    assert event.data == b'{"b":1,"a":[true,null,"x"]}'
    assert jsonformat.to_json_obj(event)["data"] == members["data"]


def test_json_string_data_is_a_json_string() -> None:
    event = decode(data="hello")
    assert event.data == b'"hello"'
    assert jsonformat.to_json_obj(event)["data"] == "hello"


def test_text_data_is_utf8_bytes() -> None:
    event = decode(datacontenttype="text/plain", data="Grüße")
    assert event.data == "Grüße".encode()
    assert event.datacontenttype == "text/plain"
    assert jsonformat.to_json_obj(event)["data"] == "Grüße"


def test_non_json_media_type_requires_string_data() -> None:
    assert error_paths({**BASE, "datacontenttype": "text/plain", "data": {"a": 1}}) == {"data"}
    assert error_paths({**BASE, "datacontenttype": "text/plain", "data": 5}) == {"data"}


def test_data_base64_is_binary() -> None:
    event = decode(datacontenttype="application/octet-stream", data_base64="AAEC/w==")
    assert event.data == b"\x00\x01\x02\xff"
    assert jsonformat.to_json_obj(event)["data_base64"] == "AAEC/w=="
    assert "data" not in jsonformat.to_json_obj(event)


@pytest.mark.parametrize("bad", ["not base64!", "AAE", 12, "AA==AA=="])
def test_invalid_data_base64(bad: object) -> None:
    assert error_paths({**BASE, "data_base64": bad}) == {"data_base64"}


def test_data_and_data_base64_are_exclusive() -> None:
    assert error_paths({**BASE, "data": "text", "data_base64": "eyAieHl6IjogMTIzIH0="}) == {
        "data_base64"
    }


def test_null_means_absent() -> None:
    event = decode(subject=None, time=None, data=None, data_base64=None, ext=None)
    assert event.attributes == BASE
    assert event.data is None
    # data null with data_base64 set is not a conflict.
    assert decode(data=None, data_base64="AA==").data == b"\x00"


def test_extension_types_are_kept() -> None:
    event = decode(extint=10, extbool=True, extstring="text", extbinary="TWE=")
    assert event.attributes["extint"] == 10
    assert event.attributes["extbool"] is True
    assert event.attributes["extbinary"] == "TWE="  # no type info in JSON: stays a string
    out = jsonformat.to_json_obj(event.with_attributes(raw=b"Ma"))
    assert out["raw"] == "TWE="
    assert out["extint"] == 10
    assert out["extbool"] is True


def test_invalid_attribute_values_are_rejected() -> None:
    assert error_paths({**BASE, "id": 25}) == {"id"}
    assert error_paths({**BASE, "id": {"xyz": "abc"}}) == {"id"}
    assert error_paths({**BASE, "ext": 1.5}) == {"ext"}
    assert error_paths({**BASE, "ext": [1]}) == {"ext"}
    assert error_paths({**BASE, "ext": 2**31}) == {"ext"}
    assert error_paths({**BASE, "MyExtension": "x"}) == {"MyExtension"}


def test_not_an_object() -> None:
    assert error_paths(["x"]) == {""}
    assert error_paths("x") == {""}


def test_v03_base64_data() -> None:
    obj = {
        **BASE,
        "specversion": "0.3",
        "datacontenttype": "application/octet-stream",
        "datacontentencoding": "base64",
        "data": "AP8=",
    }
    event = jsonformat.from_json_obj(obj)
    assert event.data == b"\x00\xff"
    assert "datacontentencoding" not in event.attributes  # a wire matter
    out = jsonformat.to_json_obj(event)
    assert out["datacontentencoding"] == "base64"
    assert out["data"] == "AP8="
    assert "data_base64" not in out
    assert jsonformat.from_json_obj(out) == event


def test_v03_rules() -> None:
    v03 = {**BASE, "specversion": "0.3"}
    assert error_paths({**v03, "datacontentencoding": "gzip", "data": "x"}) == {
        "datacontentencoding"
    }
    assert error_paths({**v03, "datacontentencoding": "base64", "data": "!!"}) == {"data"}
    assert error_paths({**v03, "data_base64": "AA=="}) == {"data_base64"}
    event = jsonformat.from_json_obj({**v03, "schemaurl": "https://e.com/s", "data": {"a": 1}})
    assert event.get("schemaurl") == "https://e.com/s"
    assert event.data == b'{"a":1}'


def test_v03_text_data_stays_text() -> None:
    v03 = {**BASE, "specversion": "0.3", "datacontenttype": "text/plain"}
    event = jsonformat.from_json_obj({**v03, "data": "hello"})
    assert jsonformat.to_json_obj(event) == {**v03, "data": "hello"}


def test_encoding_json_media_type_embeds_the_json() -> None:
    event = CloudEvent({**BASE, "datacontenttype": "application/json"}, b'{"z": 1, "a": 2}')
    body = jsonformat.encode_structured(event)
    assert b'"data":{"z": 1, "a": 2}' in body  # verbatim: key order and spacing kept
    assert orjson.loads(body)["data"] == {"z": 1, "a": 2}
    assert jsonformat.decode_structured(body).data == b'{"z":1,"a":2}'


def test_encoding_preserves_big_numbers_verbatim() -> None:
    event = CloudEvent(dict(BASE), b'{"n": 123456789012345678901234567890}')
    assert b"123456789012345678901234567890" in jsonformat.encode_structured(event)


def test_encoding_invalid_json_falls_back_to_base64() -> None:
    event = CloudEvent({**BASE, "datacontenttype": "application/json"}, b"{not json")
    out = orjson.loads(jsonformat.encode_structured(event))
    assert out["data_base64"] == base64.b64encode(b"{not json").decode()
    assert jsonformat.decode_structured(jsonformat.encode_structured(event)) == event


def test_encoding_non_utf8_text_falls_back_to_base64() -> None:
    event = CloudEvent({**BASE, "datacontenttype": "text/plain"}, b"\xc0\xa0")
    out = jsonformat.to_json_obj(event)
    assert out["data_base64"] == "wKA="
    assert jsonformat.from_json_obj(out) == event


def test_no_data_means_no_data_member() -> None:
    out = jsonformat.to_json_obj(CloudEvent(dict(BASE)))
    assert out == BASE


def test_decode_structured_rejects_bad_json() -> None:
    with pytest.raises(CloudEventError, match="not valid JSON"):
        jsonformat.decode_structured(b"{")


def test_batch_round_trip() -> None:
    events = [
        CloudEvent({**BASE, "id": "a"}),
        CloudEvent({**BASE, "id": "b", "datacontenttype": "text/plain"}, b"x"),
        CloudEvent({**BASE, "id": "c", "specversion": "0.3"}, b"\x00"),
    ]
    body = jsonformat.encode_batch(events)
    assert jsonformat.decode_batch(body) == events
    assert jsonformat.decode_batch(b"[]") == []


def test_batch_errors_name_the_element() -> None:
    body = orjson.dumps([BASE, {**BASE, "id": ""}, "not an object", {**BASE, "Bad": 1}])
    with pytest.raises(CloudEventError) as info:
        jsonformat.decode_batch(body)
    assert {e.path for e in info.value.errors} == {"[1].id", "[2]", "[3].Bad"}


def test_batch_must_be_an_array() -> None:
    with pytest.raises(CloudEventError, match="must be a JSON array"):
        jsonformat.decode_batch(orjson.dumps(BASE))


def test_is_json_media_type() -> None:
    assert jsonformat.is_json_media_type(None)
    assert jsonformat.is_json_media_type("Application/JSON; charset=utf-8")
    assert jsonformat.is_json_media_type("application/cloudevents+json")
    assert not jsonformat.is_json_media_type("text/plain")
    assert not jsonformat.is_json_media_type("application/jsonx")
    assert not jsonformat.is_json_media_type("json")


def _deep_event(levels: int, kind: str = "list") -> bytes:
    """A structured event whose ``data`` is ``levels`` nested lists (or objects)."""
    opening, closing = (b"[", b"]") if kind == "list" else (b'{"k":', b"}")
    head = orjson.dumps({**BASE, "data": None})[:-5]  # cut the "null}" off the end
    return head + opening * levels + (b"1" if kind != "list" else b"") + closing * levels + b"}"


@pytest.mark.parametrize("kind", ["list", "object"])
def test_data_may_nest_to_the_limit_and_no_deeper(kind: str) -> None:
    """The event object is the document's top: its data may nest MAX_NESTING - 1 levels more.
    orjson used to raise TypeError (a 500 at the ingress) for data of 255 to 1023 levels."""
    step = "[0]" if kind == "list" else ".k"
    deepest = jsonformat.decode_structured(_deep_event(nesting.MAX_NESTING, kind))
    assert deepest.data is not None
    assert deepest.data.count(b"[" if kind == "list" else b"{") == nesting.MAX_NESTING
    for levels in (nesting.MAX_NESTING + 1, 254, 255, 600, 1022):
        body = _deep_event(levels, kind)
        for decode in (
            jsonformat.decode_structured,
            lambda b: jsonformat.from_json_obj(orjson.loads(b)),
            lambda b: jsonformat.decode_batch(b"[" + b + b"]")[0],
        ):
            with pytest.raises(CloudEventError) as info:
                decode(body)
            (error,) = info.value.errors
            assert error.path.removeprefix("[0].") == "data" + step * nesting.MAX_NESTING
            assert error.message == "nested too deeply (more than 199 levels)"


def test_a_body_deeper_than_the_json_parser_reads_names_the_limit() -> None:
    for body in (_deep_event(1024), b"[" * 5000 + b"]" * 5000):
        with pytest.raises(CloudEventError) as info:
            jsonformat.decode_structured(body)
        assert str(info.value).endswith("the body is nested too deeply (more than 199 levels)")


@pytest.mark.parametrize("specversion", ["1.0", "0.3"])
@pytest.mark.parametrize("content_type", [None, "application/json"])
def test_json_null_data_survives_structured_mode(
    specversion: str, content_type: str | None
) -> None:
    """``"data": null`` means no data, so JSON null data goes as base64 (found by the codec
    fuzz: the event came back without data)."""
    attributes: dict[str, Any] = {**BASE, "specversion": specversion}
    if content_type:
        attributes["datacontenttype"] = content_type
    event = CloudEvent(attributes, b"null")
    encoded = orjson.loads(jsonformat.encode_structured(event))
    assert "data_base64" in encoded or encoded["datacontentencoding"] == "base64"
    assert jsonformat.decode_structured(jsonformat.encode_structured(event)) == event
    assert jsonformat.decode_batch(jsonformat.encode_batch([event])) == [event]


def test_a_huge_media_type_is_judged_but_not_remembered() -> None:
    before = memo.remembered(jsonformat._is_json_media_type)
    for n in range(10):
        assert jsonformat.is_json_media_type(f"application/json; x={n}{'y' * 10_000}")
        assert not jsonformat.is_json_media_type(f"text/plain; x={n}{'y' * 10_000}")
    assert memo.remembered(jsonformat._is_json_media_type) == before
