"""Round trips of :mod:`kawa.eventlog.codec`: attribute types and data bytes kept exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kawa.cloudevents.event import AttributeValue, CloudEvent
from kawa.errors import PermanentError, ValidationError
from kawa.eventlog.codec import decode_event, encode_event

names = st.from_regex(r"[a-z0-9]{1,20}", fullmatch=True)
values: st.SearchStrategy[AttributeValue] = st.one_of(
    st.text(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.binary(),
)
events = st.builds(
    CloudEvent,
    st.dictionaries(names, values, max_size=12),
    st.one_of(st.none(), st.binary(max_size=4096)),
)


def same(a: CloudEvent, b: CloudEvent) -> bool:
    """Equal with the same value types (``1 == True`` must not pass for the same)."""
    return (
        a == b
        and [type(v) for v in a.attributes.values()] == [type(v) for v in b.attributes.values()]
        and type(a.data) is type(b.data)
    )


@given(events)
def test_round_trip_keeps_everything(event: CloudEvent) -> None:
    decoded = decode_event(encode_event(event))
    assert same(decoded, event)


def test_round_trip_of_a_typical_event() -> None:
    event = CloudEvent(
        {
            "specversion": "1.0",
            "id": "a{b}",  # a "{" inside a string is not a tagged value
            "source": "/s",
            "type": "t",
            "knativebrokerttl": 255,
            "flag": True,
            "zero": 0,
            "blob": b"\x00{\xff",
            "empty": b"",
        },
        b'{"msg": "hi"}',
    )
    decoded = decode_event(encode_event(event))
    assert same(decoded, event)
    assert decoded.attributes["flag"] is True
    assert decoded.attributes["blob"] == b"\x00{\xff"


def test_no_data_and_empty_data_differ() -> None:
    attrs: dict[str, AttributeValue] = {"id": "1"}
    assert decode_event(encode_event(CloudEvent(attrs, None))).data is None
    assert decode_event(encode_event(CloudEvent(attrs, b""))).data == b""


def test_unencodable_attributes_are_named() -> None:
    bad = CloudEvent({"id": "1", "big": 2**70, "odd": 1.5})  # type: ignore[dict-item]
    with pytest.raises(ValidationError) as info:
        encode_event(bad)
    assert [e.path for e in info.value.errors] == ["big", "odd"]


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\x11",
        b"\x11\xff\x00\x00\x00{}",
        b"\x21\x02\x00\x00\x00{}",
        b"\x10\x02\x00\x00\x00[]",
        b"\x10\x02\x00\x00\x00{}extra",
        b'\x10\x0b\x00\x00\x00{"a":{"x":1}}',
    ],
)
def test_corrupt_payloads_raise_permanent_errors(payload: bytes) -> None:
    with pytest.raises(PermanentError):
        decode_event(payload)
