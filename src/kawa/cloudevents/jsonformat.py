"""The JSON event format for CloudEvents 1.0 (and 0.3): one event, or a batch of them.

Used by the HTTP binding (:mod:`kawa.cloudevents.http`, structured and batched modes), by the
event log backends that store events as JSON, and by anything printing events as JSON.

Decoding (JSON format 1.0 sections 2 and 3):

* ``null`` means absent, for attributes and for ``data`` / ``data_base64``.
* ``data`` holds JSON directly when ``datacontenttype`` is absent, ``*/json`` or
  ``*/*+json``; :attr:`CloudEvent.data` is then that value's JSON serialization (orjson,
  compact). Otherwise ``data`` must be a string, kept as its UTF-8 bytes.
* An event document may nest objects and lists :data:`kawa.nesting.MAX_NESTING` levels below
  the event object (as every JSON document kawa reads); deeper is a :class:`CloudEventError`
  naming the limit. The check rides on writing JSON ``data`` back
  (:func:`kawa.nesting.dumps_json`, under a microsecond more than ``orjson.dumps``).
* ``data_base64`` (1.0) carries binary data; ``data`` and ``data_base64`` are exclusive.
  In 0.3, ``datacontentencoding: base64`` says ``data`` is a base64 string; the attribute is a
  wire matter and is not kept on the decoded event.

Encoding: bytes of a JSON media type are embedded as JSON (verbatim, after a validity check;
``data_base64`` if they are not JSON, or are JSON ``null``, which would read back as no data);
other bytes go in ``data`` as a string when they are valid UTF-8 and in ``data_base64`` (0.3:
base64 ``data`` plus ``datacontentencoding``) otherwise. Binary extension values are written
as base64 strings.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterable
from typing import Any, Final

import orjson

from kawa import memo, nesting
from kawa.cloudevents import validation
from kawa.cloudevents.event import AttributeValue, CloudEvent
from kawa.cloudevents.validation import CloudEventError
from kawa.errors import FieldError

_ABSENT: Final = object()


def is_json_media_type(media_type: str | None) -> bool:
    """Whether ``media_type`` says JSON: absent, ``*/json`` or ``*/*+json`` (any parameters)."""
    if media_type is None:
        return True
    return _is_json_media_type(media_type)


@memo.short_keys(512, validation.CACHED_UP_TO)
def _is_json_media_type(media_type: str) -> bool:
    essence = media_type.split(";", 1)[0].strip().lower()
    _, slash, subtype = essence.partition("/")
    return bool(slash) and (subtype == "json" or subtype.endswith("+json"))


def _b64decode(value: object) -> bytes | str:
    """The decoded bytes, or a message saying why ``value`` is not base64."""
    if not isinstance(value, str):
        return f"must be a base64 string (got {type(value).__name__})"
    try:
        return binascii.a2b_base64(value.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        return f"must be valid base64 (RFC 4648): {exc}"


def _b64encode(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _decode(obj: object) -> CloudEvent:
    """One event from a parsed JSON value; raises with paths relative to the event."""
    if not isinstance(obj, dict):
        raise CloudEventError.one("", f"an event must be a JSON object (got {_json_type(obj)})")
    attributes: dict[str, Any] = {}
    data: object = _ABSENT
    data_base64: object = _ABSENT
    for key, value in obj.items():
        if value is None:
            continue
        if key == "data":
            data = value
        elif key == "data_base64":
            data_base64 = value
        else:
            attributes[key] = value

    errors: list[FieldError] = []
    base64_data = False
    if attributes.get("specversion") == "0.3":
        encoding = attributes.pop("datacontentencoding", None)
        if encoding is not None:
            if isinstance(encoding, str) and encoding.lower() == "base64":
                base64_data = True
            else:
                errors.append(
                    FieldError("datacontentencoding", f"must be 'base64' (got {encoding!r})")
                )
        if data_base64 is not _ABSENT:
            errors.append(
                FieldError(
                    "data_base64",
                    "is not part of CloudEvents 0.3 (use data with datacontentencoding: base64)",
                )
            )
    errors.extend(validation.validate(attributes))

    payload: bytes | None = None
    if data is not _ABSENT and data_base64 is not _ABSENT:
        errors.append(FieldError("data_base64", "data and data_base64 are mutually exclusive"))
    elif data_base64 is not _ABSENT:
        decoded = _b64decode(data_base64)
        if isinstance(decoded, str):
            errors.append(FieldError("data_base64", decoded))
        else:
            payload = decoded
    elif data is not _ABSENT:
        content_type = attributes.get("datacontenttype")
        if base64_data:
            decoded = _b64decode(data)
            if isinstance(decoded, str):
                errors.append(FieldError("data", decoded))
            else:
                payload = decoded
        elif is_json_media_type(content_type if isinstance(content_type, str) else None):
            written = _json_data(data)
            if isinstance(written, FieldError):
                errors.append(written)
            else:
                payload = written
        elif isinstance(data, str):
            try:
                payload = data.encode("utf-8")
            except UnicodeEncodeError:
                errors.append(FieldError("data", "is not valid Unicode text"))
        else:
            errors.append(
                FieldError(
                    "data",
                    f"must be a string for datacontenttype {content_type!r} "
                    f"(got {_json_type(data)}); use data_base64 for binary data",
                )
            )
    if errors:
        raise CloudEventError(errors)
    return CloudEvent(attributes, payload)


def _json_data(data: object) -> bytes | FieldError:
    """JSON ``data`` written back as bytes, or why it cannot be (nested too deeply)."""
    if isinstance(data, dict | list):
        written = nesting.dumps_json(data, level=1)
        if written is not None:
            return written
        where = nesting.too_deep(data, "data", 1)
        if where is not None:
            return FieldError(where, nesting.TOO_DEEP)
    try:
        return orjson.dumps(data)
    except orjson.JSONEncodeError as exc:
        return FieldError("data", f"is not JSON data: {exc}")


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), "number"
    )


def _encode(event: CloudEvent, *, fragments: bool) -> dict[str, Any]:
    """The JSON object of ``event``; with ``fragments``, JSON data is embedded verbatim."""
    obj: dict[str, Any] = {}
    v03 = event.attributes.get("specversion") == "0.3"
    for name, value in event.attributes.items():
        if v03 and name == "datacontentencoding":
            continue  # written below, only when data is base64
        obj[name] = _b64encode(value) if isinstance(value, bytes) else value
    data = event.data
    if data is None:
        return obj
    content_type = event.attributes.get("datacontenttype")
    if is_json_media_type(content_type if isinstance(content_type, str) else None):
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
        else:
            if parsed is not None:  # "data": null would read back as no data
                obj["data"] = orjson.Fragment(data) if fragments else parsed
                return obj
    else:
        try:
            obj["data"] = data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return obj
    if v03:
        obj["datacontentencoding"] = "base64"
        obj["data"] = _b64encode(data)
    else:
        obj["data_base64"] = _b64encode(data)
    return obj


def from_json_obj(obj: object) -> CloudEvent:
    """The event a parsed JSON value describes (validated); raises :class:`CloudEventError`."""
    return _decode(obj)


def to_json_obj(event: CloudEvent) -> dict[str, Any]:
    """The JSON format of ``event`` as plain data (JSON ``data`` parsed, binary as base64)."""
    return _encode(event, fragments=False)


def _loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if nesting.is_depth_error(exc):
            raise CloudEventError.one("", f"the body is {nesting.TOO_DEEP}") from None
        raise CloudEventError.one("", f"body is not valid JSON: {exc}") from None


def decode_structured(body: bytes) -> CloudEvent:
    """One event from a JSON document (``application/cloudevents+json``)."""
    return _decode(_loads(body))


def encode_structured(event: CloudEvent) -> bytes:
    """``event`` as a JSON document (``application/cloudevents+json``)."""
    return orjson.dumps(_encode(event, fragments=True))


def decode_batch(body: bytes) -> list[CloudEvent]:
    """The events of a JSON batch (``application/cloudevents-batch+json``; may be empty).

    Every invalid element is reported, with paths such as ``[2].id``.
    """
    items = _loads(body)
    if not isinstance(items, list):
        raise CloudEventError.one("", f"a batch must be a JSON array (got {_json_type(items)})")
    events: list[CloudEvent] = []
    errors: list[FieldError] = []
    for index, item in enumerate(items):
        try:
            events.append(_decode(item))
        except CloudEventError as exc:
            errors.extend(e.nested(f"[{index}]") for e in exc.errors)
    if errors:
        raise CloudEventError(errors)
    return events


def encode_batch(events: Iterable[CloudEvent]) -> bytes:
    """``events`` as a JSON batch (``application/cloudevents-batch+json``)."""
    return orjson.dumps([_encode(event, fragments=True) for event in events])


def attribute_json(value: AttributeValue) -> str | int | bool:
    """An attribute value as the JSON format writes it (Binary as base64)."""
    return _b64encode(value) if isinstance(value, bytes) else value
