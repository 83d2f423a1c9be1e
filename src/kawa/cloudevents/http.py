"""The HTTP protocol binding for CloudEvents: ``(headers, body)`` <-> :class:`CloudEvent`.

Pure functions over a message's headers and body bytes; the HTTP servers and clients
(broker ingress, channels, delivery, sources, the activator) do the I/O and call these. This
is the data plane's hot path: a binary-mode decode or encode does one pass over the headers,
touches each value once and validates with precompiled regexes.

The content mode is chosen by ``Content-Type`` alone (HTTP binding 1.0 section 3):

* ``application/cloudevents-batch...``: batched mode (:func:`from_http_batch` only);
* ``application/cloudevents...``: structured mode (only the ``+json`` format is supported);
* anything else, or no ``Content-Type``: binary mode. Attributes are ``ce-<name>`` headers,
  the body is the data (an empty body is no data) and ``Content-Type`` is the
  ``datacontenttype``; a ``ce-datacontenttype`` header is rejected. Extension values arrive
  as strings: the wire carries no type. A 0.3 ``ce-datacontentencoding`` is accepted and
  dropped (the body is the data as-is).

Header values (section 3.1.3.2) are percent-encoded on the way out: space, ``"``, ``%`` and
everything outside printable ASCII, as UTF-8. On the way in an RFC 7230 quoted-string is
unquoted first, then one round of percent-decoding is applied (a ``%`` not followed by two hex
digits stays as it is) and the result must be valid UTF-8 (``%C0%A0`` is rejected).

Header names may come in any case and from any mapping (a plain ``dict``, aiohttp's
``CIMultiDictProxy``); encoders produce lowercase names.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable, Mapping
from typing import Final
from urllib.parse import unquote_to_bytes

from kawa.cloudevents import jsonformat, validation
from kawa.cloudevents.event import AttributeValue, CloudEvent
from kawa.cloudevents.validation import CloudEventError
from kawa.errors import FieldError

CE_PREFIX: Final = "ce-"
CONTENT_TYPE: Final = "content-type"
STRUCTURED_JSON: Final = "application/cloudevents+json"
"""Media type of the structured content mode with the JSON format (JSON format section 3)."""
BATCH_JSON: Final = "application/cloudevents-batch+json"
"""Media type of the batched content mode with the JSON format (JSON format section 4)."""

_STRUCTURED_PREFIX: Final = "application/cloudevents"
_BATCH_PREFIX: Final = "application/cloudevents-batch"

_NEEDS_ENCODING: Final = re.compile(r"[^\x21\x23\x24\x26-\x7e]")
_QUOTED_PAIR: Final = re.compile(r"\\(.)", re.DOTALL)


def _percent_encode(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode("utf-8"))


def encode_header_value(value: AttributeValue) -> str:
    """An attribute value as a ``ce-`` header value (canonical string form, percent-encoded)."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        return "true" if value else "false"
    elif isinstance(value, int):
        return str(value)
    else:
        return binascii.b2a_base64(value, newline=False).decode("ascii")
    if (  # the common case, without a regex: printable ASCII but space, '"' and '%'
        text.isascii()
        and text.isprintable()
        and " " not in text
        and '"' not in text
        and "%" not in text
    ):
        return text
    return _NEEDS_ENCODING.sub(_percent_encode, text)


def decode_header_value(value: str) -> str:
    """The attribute value a ``ce-`` header carries; :class:`ValueError` when it is invalid."""
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        value = _QUOTED_PAIR.sub(r"\1", value[1:-1])
    if "%" not in value:
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("is not valid UTF-8") from None
        return value
    try:
        return unquote_to_bytes(value.encode("utf-8")).decode("utf-8")
    except UnicodeError:
        raise ValueError(f"percent-decodes to bytes that are not valid UTF-8 ({value!r})") from None


def _header_path(attribute: str) -> str:
    return CONTENT_TYPE if attribute == "datacontenttype" else CE_PREFIX + attribute


def _unsupported_format(content_type: str, expected: str) -> CloudEventError:
    essence = content_type.split(";", 1)[0].strip()
    return CloudEventError.one(
        CONTENT_TYPE,
        f"unsupported event format {essence!r}: only {expected} is supported",
    )


def _essence(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _split_headers(
    headers: Mapping[str, str],
    keep_names: frozenset[str] = frozenset(),
    keep_prefixes: tuple[str, ...] = (),
) -> tuple[dict[str, str], str | None, dict[str, str]]:
    """``({attribute name: raw ce- header value}, content type, kept)`` in one pass; kept: the
    headers named in ``keep_names`` or starting with one of ``keep_prefixes`` (lowercase),
    by lowercase name, a repeated one's values joined with ``", "``."""
    ce: dict[str, str] = {}
    content_type: str | None = None
    kept: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered.startswith(CE_PREFIX):
            ce[lowered[3:]] = value
        elif lowered == CONTENT_TYPE:
            content_type = value
        if lowered in keep_names or (keep_prefixes and lowered.startswith(keep_prefixes)):
            previous = kept.get(lowered)
            kept[lowered] = value if previous is None else f"{previous}, {value}"
    return ce, content_type, kept


def _from_binary(ce: dict[str, str], content_type: str | None, body: bytes) -> CloudEvent:
    errors: list[FieldError] = []
    attributes: dict[str, AttributeValue] = {}
    for name, raw in ce.items():
        try:
            attributes[name] = decode_header_value(raw)
        except ValueError as exc:
            errors.append(FieldError(CE_PREFIX + name, str(exc)))
    if "datacontenttype" in attributes:
        errors.append(
            FieldError(
                "ce-datacontenttype",
                "must not be sent in binary mode: Content-Type carries the datacontenttype",
            )
        )
        del attributes["datacontenttype"]
    if attributes.get("specversion") == "0.3":
        attributes.pop("datacontentencoding", None)
    if content_type is not None:
        attributes["datacontenttype"] = content_type
    problems = validation.validate(attributes)
    if problems:
        errors.extend(FieldError(_header_path(e.path), e.message) for e in problems)
    if errors:
        raise CloudEventError(errors)
    return CloudEvent(attributes, bytes(body) if body else None)


def from_http(headers: Mapping[str, str], body: bytes) -> CloudEvent:
    """The CloudEvent of an HTTP message in binary or structured mode.

    Raises :class:`CloudEventError` (a :class:`kawa.errors.ValidationError`) listing every
    problem; a batch is rejected here (use :func:`from_http_batch`).
    """
    return from_http_keeping(headers, body)[0]


def from_http_keeping(
    headers: Mapping[str, str],
    body: bytes,
    keep_names: frozenset[str] = frozenset(),
    keep_prefixes: tuple[str, ...] = (),
) -> tuple[CloudEvent, dict[str, str]]:
    """:func:`from_http`, and from the same pass over ``headers`` the ones named in
    ``keep_names`` or starting with one of ``keep_prefixes`` (lowercase): by lowercase name,
    a repeated one's values joined with ``", "`` (what an ingress passes on)."""
    ce, content_type, kept = _split_headers(headers, keep_names, keep_prefixes)
    essence = "" if content_type is None else _essence(content_type)
    if essence.startswith(_STRUCTURED_PREFIX):
        if essence.startswith(_BATCH_PREFIX):
            raise CloudEventError.one(
                CONTENT_TYPE,
                f"a batch ({essence}) is not accepted here: send one event per request",
            )
        if essence != STRUCTURED_JSON:
            raise _unsupported_format(essence, STRUCTURED_JSON)
        return jsonformat.decode_structured(body), kept
    return _from_binary(ce, content_type, body), kept


def from_http_batch(headers: Mapping[str, str], body: bytes) -> list[CloudEvent]:
    """The events of an HTTP message in any mode (structured and binary give one event)."""
    ce, content_type, _ = _split_headers(headers)
    if content_type is not None:
        essence = _essence(content_type)
        if essence.startswith(_BATCH_PREFIX):
            if essence != BATCH_JSON:
                raise _unsupported_format(content_type, BATCH_JSON)
            return jsonformat.decode_batch(body)
        if essence.startswith(_STRUCTURED_PREFIX):
            if essence != STRUCTURED_JSON:
                raise _unsupported_format(content_type, STRUCTURED_JSON)
            return [jsonformat.decode_structured(body)]
    return [_from_binary(ce, content_type, body)]


def to_binary(event: CloudEvent) -> tuple[dict[str, str], bytes]:
    """``(headers, body)`` of ``event`` in binary mode (lowercase header names)."""
    headers: dict[str, str] = {}
    for name, value in event.attributes.items():
        if name == "datacontenttype":
            headers[CONTENT_TYPE] = str(value)
        else:
            headers[CE_PREFIX + name] = encode_header_value(value)
    data = event.data
    return headers, b"" if data is None else data


def to_structured(event: CloudEvent) -> tuple[dict[str, str], bytes]:
    """``(headers, body)`` of ``event`` in structured mode with the JSON format."""
    return {CONTENT_TYPE: STRUCTURED_JSON}, jsonformat.encode_structured(event)


def to_batch(events: Iterable[CloudEvent]) -> tuple[dict[str, str], bytes]:
    """``(headers, body)`` of ``events`` in batched mode with the JSON format."""
    return {CONTENT_TYPE: BATCH_JSON}, jsonformat.encode_batch(events)


def is_cloudevent(headers: Mapping[str, str]) -> bool:
    """Whether the headers announce a CloudEvent (structured/batch type or ``ce-specversion``).

    Delivery uses it to tell a CloudEvent reply from a plain response body.
    """
    for name, value in headers.items():
        lowered = name.lower()
        if lowered == "ce-specversion":
            return True
        if lowered == CONTENT_TYPE and value.lstrip().lower().startswith(_STRUCTURED_PREFIX):
            return True
    return False
