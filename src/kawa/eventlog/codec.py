"""The payload format of events in the event log: compact, fast, and exact.

The broker ingress calls :func:`encode_event` before :meth:`EventLog.append`; the trigger
consumers call :func:`decode_event` on each record they deliver. The format (version 1)::

    byte 0      0x10 | flags   (flag 0x01: the event has data; data may be empty bytes)
    bytes 1-4   n, unsigned 32-bit little endian
    n bytes     the attributes as one JSON object (orjson). str, int and bool values are
                plain JSON; a bytes value (CloudEvents Binary) becomes {"b": "<base64>"}
    the rest    the data bytes, exactly as received

Attribute types survive the round trip (``True`` stays a bool, ``1`` an int, ``b"1"`` bytes)
and so do the data bytes, including the difference between no data and empty data. Nothing
here validates CloudEvents rules; :mod:`kawa.cloudevents` did that at ingress.
"""

from __future__ import annotations

import base64
import struct
from typing import Any, Final

import orjson

from kawa.cloudevents.event import CloudEvent
from kawa.errors import FieldError, PermanentError, ValidationError

VERSION: Final = 0x10
HAS_DATA: Final = 0x01
_HEAD: Final = struct.Struct("<BI")
_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**64 - 1


def _tag(value: object) -> object:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"b": base64.b64encode(value).decode("ascii")}
    raise TypeError(type(value).__name__)


def encode_event(event: CloudEvent) -> bytes:
    """The log payload of ``event`` (see the module docs for the format).

    Raises :class:`~kawa.errors.ValidationError` naming each attribute whose value is not a
    str, int (64-bit), bool or bytes.
    """
    try:
        attributes = orjson.dumps(event.attributes, default=_tag)
    except TypeError:
        raise _invalid(event) from None
    data = event.data
    if data is None:
        return _HEAD.pack(VERSION, len(attributes)) + attributes
    return b"".join((_HEAD.pack(VERSION | HAS_DATA, len(attributes)), attributes, data))


def decode_event(payload: bytes) -> CloudEvent:
    """The event :func:`encode_event` turned into ``payload``.

    Raises :class:`~kawa.errors.PermanentError` if ``payload`` is not in this format.
    """
    try:
        flags, n = _HEAD.unpack_from(payload)
        end = _HEAD.size + n
        if flags & 0xF0 != VERSION or end > len(payload):
            raise ValueError("unknown version or truncated")
        blob = memoryview(payload)[_HEAD.size : end]
        attributes: dict[str, Any] = orjson.loads(blob)
        if type(attributes) is not dict:
            raise ValueError("attributes are not an object")
        if payload.find(b"{", _HEAD.size + 1, end) >= 0:
            # possibly a tagged bytes value (or a "{" inside a string): look at each value
            for name, value in attributes.items():
                if type(value) is dict:
                    attributes[name] = base64.b64decode(value["b"], validate=True)
    except (ValueError, TypeError, KeyError, struct.error) as exc:
        raise PermanentError(f"corrupt event log payload: {exc}") from None
    if flags & HAS_DATA:
        return CloudEvent(attributes, payload[end:])
    if end != len(payload):
        raise PermanentError("corrupt event log payload: bytes after an event without data")
    return CloudEvent(attributes, None)


def _invalid(event: CloudEvent) -> ValidationError:
    errors: list[FieldError] = []
    for name, value in event.attributes.items():
        if type(value) is int and not _INT_MIN <= value <= _INT_MAX:
            errors.append(FieldError(name, "expected an integer that fits in 64 bits"))
        elif not isinstance(value, str | int | bytes):
            errors.append(FieldError(name, f"expected str, int, bool or bytes, got {value!r}"))
    if not errors:
        errors.append(FieldError("", "attributes cannot be encoded"))
    return ValidationError(errors, subject="event")
