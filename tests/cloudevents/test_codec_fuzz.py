"""Fuzzing the CloudEvents codec: whatever arrives, decoding answers an event or a
:class:`CloudEventError` (never another exception: a 500 at the ingress, a dropped delivery
for a reply), and every valid event survives binary, structured and batched mode.

Deterministic in CI (the ``ci`` Hypothesis profile of tests/conftest.py); the example counts
keep the module at a few seconds.
"""

from __future__ import annotations

import contextlib
import string
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kawa import nesting
from kawa.cloudevents import http, jsonformat
from kawa.cloudevents.event import AttributeValue, CloudEvent
from kawa.cloudevents.validation import CloudEventError

CONTENT_TYPES = [
    None,
    "application/json",
    "application/cloudevents+json",
    "application/cloudevents+json; charset=utf-8",
    "application/cloudevents-batch+json",
    "application/cloudevents+xml",
    "text/plain",
    "application/vnd.x+json",
    "application/octet-stream",
]
ATTRIBUTE_NAMES = [
    "specversion",
    "id",
    "source",
    "type",
    "datacontenttype",
    "dataschema",
    "schemaurl",
    "datacontentencoding",
    "subject",
    "time",
    "data",
    "data_base64",
    "myext",
    "Bad",
    "",
]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
header_names = st.one_of(
    st.sampled_from([f"ce-{name}" for name in ATTRIBUTE_NAMES] + ["Content-Type", "CE-ID"]),
    st.text(min_size=1, max_size=12).map(lambda name: f"ce-{name}"),
)
header_values = st.one_of(
    st.sampled_from(["1.0", "0.3", "/s", "t", "2020-01-01T00:00:00Z", "base64", "%", '"q"']),
    st.text(max_size=20),
)


def decodes_or_refuses(headers: dict[str, str], body: bytes) -> None:
    """What every decoder must do with any message: an event, or a CloudEventError."""
    for decode in (http.from_http, http.from_http_batch):
        with contextlib.suppress(CloudEventError):
            decode(headers, body)


@given(
    headers=st.dictionaries(header_names, header_values, max_size=8),
    content_type=st.sampled_from(CONTENT_TYPES),
    body=st.binary(max_size=64),
)
@settings(max_examples=300)
def test_any_binary_mode_message_decodes_or_is_refused(
    headers: dict[str, str], content_type: str | None, body: bytes
) -> None:
    if content_type is not None:
        headers["content-type"] = content_type
    decodes_or_refuses(headers, body)


def event_members() -> st.SearchStrategy[dict[str, Any]]:
    """Event-shaped JSON objects: plausible attributes next to any JSON value."""
    plausible = st.fixed_dictionaries(
        {"specversion": st.sampled_from(["1.0", "0.3"]), "id": st.just("1")},
        optional={
            "source": st.sampled_from(["/s", "http://x", "%zz", "a b"]),
            "type": st.just("t"),
            "datacontenttype": st.sampled_from([c for c in CONTENT_TYPES if c] + ["x"]),
            "datacontentencoding": st.sampled_from(["base64", "gzip"]),
            "data_base64": st.sampled_from(["aGk=", "not base64", ""]),
            "time": st.sampled_from(["2020-01-01T00:00:00Z", "2020-13-01T00:00:00Z"]),
        },
    )
    anything = st.dictionaries(st.sampled_from(ATTRIBUTE_NAMES), json_values, max_size=6)
    return st.builds(lambda a, b: {**a, **b}, plausible, anything)


@given(document=st.one_of(event_members(), json_values, st.lists(event_members(), max_size=3)))
@settings(max_examples=250)
def test_any_json_document_decodes_or_is_refused(document: Any) -> None:
    body = orjson.dumps(document)
    for content_type in (http.STRUCTURED_JSON, http.BATCH_JSON):
        decodes_or_refuses({"content-type": content_type}, body)
    with contextlib.suppress(CloudEventError):
        jsonformat.from_json_obj(document)


@given(
    body=st.one_of(
        st.binary(max_size=64),
        st.text(alphabet='{}[]":,0123456789.eE+-tfnul \\', max_size=64).map(str.encode),
    )
)
@settings(max_examples=300)
def test_any_bytes_as_structured_or_batch_decode_or_are_refused(body: bytes) -> None:
    for content_type in (http.STRUCTURED_JSON, http.BATCH_JSON):
        decodes_or_refuses({"content-type": content_type}, body)


@given(levels=st.integers(min_value=0, max_value=3000), opening=st.sampled_from(["[", '{"k":']))
@settings(max_examples=60)
def test_data_of_any_depth_decodes_or_is_refused(levels: int, opening: str) -> None:
    closing = "]" if opening == "[" else "}"
    data = opening * levels + "1" + closing * levels
    body = f'{{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{data}}}'.encode()
    if levels > nesting.MAX_NESTING:  # the data nests levels - 1 below its own top
        with pytest.raises(CloudEventError, match=r"nested too deeply \(more than 199 levels\)$"):
            jsonformat.decode_structured(body)
    else:
        event = jsonformat.decode_structured(body)
        assert event.data is not None
        assert orjson.loads(event.data) == orjson.loads(data)


# --- valid events round-trip -----------------------------------------------------------------

names = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=12).filter(
    lambda name: (
        name not in {"data", "specversion", "id", "source", "type", "subject", "time"}
        and name not in {"datacontenttype", "dataschema", "schemaurl", "datacontentencoding"}
    )
)
extension_values: st.SearchStrategy[AttributeValue] = st.one_of(
    st.text(min_size=1), st.booleans(), st.integers(-(2**31), 2**31 - 1), st.binary(min_size=1)
)
times = st.sampled_from(
    ["2020-01-01T00:00:00Z", "1985-04-12T23:20:50.52+01:00", "2024-02-29T12:00:00.000000001Z"]
)


@st.composite
def valid_events(draw: st.DrawFn) -> CloudEvent:
    specversion = draw(st.sampled_from(["1.0", "0.3"]))
    attributes: dict[str, AttributeValue] = {
        "specversion": specversion,
        "id": draw(st.text(min_size=1)),
        "source": draw(st.sampled_from(["/s", "https://example.com/a?b=c#d", "urn:x", "a/b"])),
        "type": draw(st.text(min_size=1)),
    }
    for name, strategy in (
        ("subject", st.text(min_size=1)),
        ("time", times),
        ("dataschema" if specversion == "1.0" else "schemaurl", st.just("https://x/s.json")),
    ):
        if draw(st.booleans()):
            attributes[name] = draw(strategy)
    attributes.update(draw(st.dictionaries(names, extension_values, max_size=3)))
    content_type = draw(
        st.sampled_from([None, "application/json", "text/plain; charset=utf-8", "image/png"])
    )
    if content_type is not None:
        attributes["datacontenttype"] = content_type
    data = draw(
        st.one_of(
            st.none(),
            st.binary(),
            json_values.map(orjson.dumps),
            st.text().map(str.encode),
        )
    )
    return CloudEvent(attributes, data)


def same_data(event: CloudEvent, back: CloudEvent) -> bool:
    """The data came back: byte for byte, or as the same JSON value (structured mode writes
    JSON data as JSON, and reading it back keeps the value's compact serialization)."""
    if back.data == event.data:
        return True
    if event.data is None or back.data is None:
        return False
    try:
        return bool(orjson.loads(back.data) == orjson.loads(event.data))
    except orjson.JSONDecodeError:
        return False


def json_form(value: AttributeValue) -> AttributeValue:
    """What an extension value is in the JSON format, which has no Binary type (base64)."""
    return jsonformat.attribute_json(value)


def text_form(value: AttributeValue) -> AttributeValue:
    """What a typed extension value is in binary mode, where every value is a string."""
    return value if isinstance(value, str) else http.encode_header_value(value)


@given(event=valid_events())
@settings(max_examples=400)
def test_valid_events_round_trip_in_every_mode(event: CloudEvent) -> None:
    structured = http.from_http(*http.to_structured(event))
    assert same_data(event, structured)
    assert structured.attributes == {name: json_form(v) for name, v in event.attributes.items()}
    (batched,) = http.from_http_batch(*http.to_batch([event]))
    assert batched == structured

    binary = http.from_http(*http.to_binary(event))
    assert binary.data == (event.data or None)  # an empty body is no data
    assert binary.attributes == {name: text_form(v) for name, v in event.attributes.items()}
