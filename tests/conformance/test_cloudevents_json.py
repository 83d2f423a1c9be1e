"""CloudEvents JSON format conformance vectors (cloudevents/conformance, format-tests).

Reads ``../shared/conformance/cloudevents-json/`` next to the repository; skips with a reason
when that folder is absent. Valid events and batches must parse and round-trip (through the
JSON format, structured HTTP and binary HTTP; timestamps compared as instants); invalid ones
must be rejected with :class:`CloudEventError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from kawa.cloudevents import http, jsonformat
from kawa.cloudevents.event import CloudEvent
from kawa.cloudevents.timestamp import parse_timestamp
from kawa.cloudevents.validation import CloudEventError

VECTORS = Path(__file__).resolve().parents[2] / "../shared/conformance/cloudevents-json"


def _cases(file: str, key: str) -> list[Any]:
    path = VECTORS / file
    if not path.is_file():
        return [
            pytest.param(
                None,
                marks=pytest.mark.skip(reason=f"conformance vectors not found at {path}"),
                id="vectors-absent",
            )
        ]
    tests = orjson.loads(path.read_bytes())["tests"]
    return [pytest.param(t[key], id=t["id"]) for t in tests]


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    """A JSON event with nulls dropped and timestamps turned into instants."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if value is None:
            continue
        out[key] = parse_timestamp(value) if key in ("time", "exttimestamp") else value
    return out


def _check_round_trips(obj: dict[str, Any], event: CloudEvent) -> None:
    # JSON format: the event written back is the same JSON (minus nulls).
    assert _comparable(jsonformat.to_json_obj(event)) == _comparable(obj)
    # Structured HTTP mode round trip.
    assert http.from_http(*http.to_structured(event)) == event
    # Binary HTTP mode round trip: extension values come back in their string form.
    back = http.from_http(*http.to_binary(event))
    assert back.data == event.data
    expected = {k: http.encode_header_value(v) for k, v in event.attributes.items()}
    got = {k: http.encode_header_value(v) for k, v in back.attributes.items()}
    assert got == expected


@pytest.mark.parametrize("obj", _cases("valid-events.json", "event"))
def test_valid_event(obj: dict[str, Any]) -> None:
    event = jsonformat.from_json_obj(obj)
    assert event.id == obj["id"]
    assert jsonformat.decode_structured(orjson.dumps(obj)) == event
    _check_round_trips(obj, event)


@pytest.mark.parametrize("obj", _cases("invalid-events.json", "event"))
def test_invalid_event(obj: dict[str, Any]) -> None:
    with pytest.raises(CloudEventError) as info:
        jsonformat.from_json_obj(obj)
    assert info.value.errors
    with pytest.raises(CloudEventError):
        http.from_http({"content-type": http.STRUCTURED_JSON}, orjson.dumps(obj))


@pytest.mark.parametrize("batch", _cases("valid-batches.json", "batch"))
def test_valid_batch(batch: list[dict[str, Any]]) -> None:
    events = jsonformat.decode_batch(orjson.dumps(batch))
    assert len(events) == len(batch)
    for obj, event in zip(batch, events, strict=True):
        _check_round_trips(obj, event)
    assert http.from_http_batch(*http.to_batch(events)) == events


@pytest.mark.parametrize("batch", _cases("invalid-batches.json", "batch"))
def test_invalid_batch(batch: list[Any]) -> None:
    with pytest.raises(CloudEventError) as info:
        jsonformat.decode_batch(orjson.dumps(batch))
    assert all(e.path.startswith("[") for e in info.value.errors)


def test_sample_data_is_kept() -> None:
    if not VECTORS.is_dir():
        pytest.skip(f"conformance vectors not found at {VECTORS}")
    tests = orjson.loads((VECTORS / "valid-events.json").read_bytes())["tests"]
    text = next(t["event"] for t in tests if t["id"] == "validSimpleTextData")
    assert jsonformat.from_json_obj(text).data == b"Simple text"
    types = next(t["event"] for t in tests if t["id"] == "validAllExtensionTypes")
    event = jsonformat.from_json_obj(types)
    assert event.attributes["extinteger"] == 10
    assert event.attributes["extboolean"] is True
