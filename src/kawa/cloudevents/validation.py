"""Strict validation of CloudEvents context attributes (CloudEvents 1.0, and 0.3).

:func:`validate` checks an attribute mapping and returns every problem as a
:class:`~kawa.errors.FieldError` whose path is the attribute name. The codecs
(:mod:`kawa.cloudevents.jsonformat`, :mod:`kawa.cloudevents.http`) call it on every event they
decode and raise :class:`CloudEventError` with paths in their own terms (``ce-id`` header names
in binary mode, attribute names in structured mode, ``[3].id`` in a batch). Anything else that
builds events by hand (sources, tests) may call it too.

Rules (CloudEvents 1.0 sections 2 and 3.1, the 0.3 equivalents, and Knative's contract):

* ``specversion`` is ``"1.0"`` or ``"0.3"``; ``id``, ``source``, ``type`` are required
  non-empty strings; ``source`` is a URI-reference.
* ``datacontenttype`` is an RFC 2046 media type; ``subject`` is non-empty; ``time`` is strict
  RFC 3339; ``dataschema`` (1.0) / ``schemaurl`` (0.3) is an absolute URI;
  ``datacontentencoding`` (0.3) is ``base64``.
* Extension names are ``a-z0-9`` only (the 20-character limit is a SHOULD: not enforced);
  ``data`` is reserved. Extension values are String (``str``), Integer (``int`` within
  int32; a ``bool`` is a Boolean, never an Integer), Boolean (``bool``) or Binary (``bytes``).

URI checks follow what Go's ``net/url`` (and so Knative) rejects, plus whitespace: control
characters, spaces, ``%`` not followed by two hex digits, and a malformed scheme.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Final

from kawa import memo
from kawa.cloudevents import timestamp
from kawa.cloudevents.event import SPEC_VERSIONS
from kawa.errors import FieldError, ValidationError

INT32_MIN: Final = -(2**31)
INT32_MAX: Final = 2**31 - 1

_EXTENSION_NAME: Final = re.compile(r"[a-z0-9]+", re.ASCII)
_RESERVED_NAMES: Final = frozenset({"data"})
"""Names no extension may take (the JSON format's member for the payload)."""

_TOKEN: Final = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_MEDIA_TYPE: Final = re.compile(
    # quoted strings per RFC 9110 5.6.4: no control characters (they would break headers)
    rf"{_TOKEN}/{_TOKEN}(?:[ \t]*;[ \t]*(?:{_TOKEN}="
    r"(?:"
    + _TOKEN
    + r'|"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"))?)*[ \t]*',
    re.ASCII,
)
_URI_BAD_CHAR: Final = re.compile(r"[\x00-\x20\x7f]|%(?![0-9A-Fa-f]{2})")
_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*", re.ASCII)
_URI_FIRST_SEGMENT: Final = re.compile(r"[^/?#]*")


class CloudEventError(ValidationError):
    """A message is not a valid CloudEvent; ``errors`` says every reason, with its place.

    Raised by the codecs. Paths name the place in the message: a header (``ce-specversion``,
    ``content-type``) in binary mode, an attribute (``time``) in structured mode, an element
    (``[2].id``) in a batch, or nothing for the message as a whole (``body is not valid
    JSON``).
    """

    def __init__(self, errors: list[FieldError] | tuple[FieldError, ...]) -> None:
        super().__init__(errors, subject="CloudEvent")

    @classmethod
    def one(cls, path: str, message: str) -> CloudEventError:
        return cls([FieldError(path, message)])


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _string(value: object) -> str | None:
    if not isinstance(value, str):
        return f"must be a string (got {_type_name(value)})"
    if not value:
        return "must be a non-empty string"
    return None


CACHED_UP_TO: Final = 256
"""Characters of a value whose check is remembered (values repeat from event to event; a
longer one is checked every time, so a sender's huge values never stay in memory)."""


@memo.short_keys(1024, CACHED_UP_TO)  # sources repeat from event to event
def _uri_problem(value: str, absolute: bool) -> str | None:
    if _URI_BAD_CHAR.search(value):
        return "must not contain whitespace, control characters or a bare '%'"
    first = _URI_FIRST_SEGMENT.match(value)
    head = first.group() if first else ""
    colon = head.find(":")
    if colon >= 0:
        if not _SCHEME.fullmatch(head[:colon]):
            return "has a malformed scheme (expected a letter then letters, digits, '+-.')"
    elif absolute:
        return "must be an absolute URI (with a scheme, e.g. https://...)"
    return None


def _uri_reference(value: object) -> str | None:
    problem = _string(value)
    if problem is None and isinstance(value, str):
        problem = _uri_problem(value, False)
        if problem:
            return f"must be a URI-reference: {problem}"
    return problem


def _absolute_uri(value: object) -> str | None:
    problem = _string(value)
    if problem is None and isinstance(value, str):
        problem = _uri_problem(value, True)
        if problem:
            return f"must be an absolute URI: {problem}"
    return problem


def _media_type(value: object) -> str | None:
    problem = _string(value)
    if problem is None and isinstance(value, str) and not _is_media_type(value):
        return f"must be an RFC 2046 media type such as application/json (got {value!r})"
    return problem


@memo.short_keys(256, CACHED_UP_TO)  # a handful of content types, on every event
def _is_media_type(value: str) -> bool:
    return _MEDIA_TYPE.fullmatch(value) is not None


def _time(value: object) -> str | None:
    problem = _string(value)
    if problem is None and isinstance(value, str) and not timestamp.is_timestamp(value):
        return f"must be an RFC 3339 timestamp such as 2020-01-01T12:00:00Z (got {value!r})"
    return problem


def _content_encoding(value: object) -> str | None:
    if not isinstance(value, str) or value.lower() != "base64":
        return f"must be 'base64' (got {value!r})"
    return None


def _specversion(value: object) -> str | None:
    return None  # checked once, up front, in validate()


def extension_value_problem(value: object) -> str | None:
    """Why ``value`` cannot be an extension attribute value, or ``None`` when it can."""
    if isinstance(value, bool | str | bytes):
        return None
    if isinstance(value, int):
        if INT32_MIN <= value <= INT32_MAX:
            return None
        return f"an Integer must fit in 32 bits ({INT32_MIN}..{INT32_MAX}), got {value}"
    return (
        "must be a String, Integer (32-bit), Boolean or Binary value "
        f"(got {_type_name(value)} {value!r})"
    )


@memo.short_keys(1024, CACHED_UP_TO)  # extension names repeat from event to event
def extension_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name an extension attribute, or ``None`` when it can."""
    if not _EXTENSION_NAME.fullmatch(name):
        return "attribute names must consist of lowercase letters a-z and digits 0-9 only"
    if name in _RESERVED_NAMES:
        return f"{name!r} is reserved and cannot be an extension attribute"
    return None


_Check = Callable[[object], "str | None"]

_CHECKS_V1: Final[dict[str, _Check]] = {
    "specversion": _specversion,
    "id": _string,
    "source": _uri_reference,
    "type": _string,
    "datacontenttype": _media_type,
    "dataschema": _absolute_uri,
    "subject": _string,
    "time": _time,
}
_CHECKS_V03: Final[dict[str, _Check]] = {
    "specversion": _specversion,
    "id": _string,
    "source": _uri_reference,
    "type": _string,
    "datacontenttype": _media_type,
    "datacontentencoding": _content_encoding,
    "schemaurl": _absolute_uri,
    "subject": _string,
    "time": _time,
}
_REQUIRED_AFTER_SPECVERSION: Final = ("id", "source", "type")


def validate(attributes: Mapping[str, object]) -> list[FieldError]:
    """Every problem with ``attributes`` (paths are attribute names); empty when valid.

    Attributes of the other spec version are extensions here (``schemaurl`` in a 1.0 event),
    checked like any extension.
    """
    errors: list[FieldError] = []
    specversion = attributes.get("specversion")
    if specversion is None:
        errors.append(FieldError("specversion", "required"))
    elif specversion not in SPEC_VERSIONS or not isinstance(specversion, str):
        errors.append(FieldError("specversion", f'must be "1.0" or "0.3" (got {specversion!r})'))
    checks = _CHECKS_V03 if specversion == "0.3" else _CHECKS_V1
    for name, value in attributes.items():
        check = checks.get(name)
        if check is not None:
            problem = check(value)
        else:
            problem = extension_name_problem(name) or extension_value_problem(value)
        if problem is not None:
            errors.append(FieldError(name, problem))
    for name in _REQUIRED_AFTER_SPECVERSION:
        if name not in attributes:
            errors.append(FieldError(name, "required"))
    return errors


def check(attributes: Mapping[str, object]) -> None:
    """Raise :class:`CloudEventError` listing every problem when ``attributes`` are invalid."""
    errors = validate(attributes)
    if errors:
        raise CloudEventError(errors)
