"""Which HTTP headers travel with an event to a subscriber or a dead-letter sink.

Pure functions on plain data, called by :mod:`kawa.delivery.sender` for every attempt's
request (computed once per delivery, not per attempt).

Forwarded from the request that brought the event in (Knative ``pkg/utils/headers.go``
``PassThroughHeaders``, widened by kawa's contract): ``x-request-id``, ``retry-after``,
``knative-*``, ``x-b3-*`` and W3C trace context ``traceparent``/``tracestate``. Nothing else:
``ce-*`` headers in particular are rebuilt from the event itself. To the subscriber kawa adds
``Prefer: reply`` (knative/specs data-plane.md, "Derived (Reply) Events") and
``Kn-Namespace: <namespace>``; a dead-letter sink gets the same minus ``Prefer: reply``
(Knative's dispatcher does not ask the sink for a reply).

The dead-letter extensions (Knative ``pkg/kncloudevents/attributes/knative_error.go``):
``knativeerrordest`` the URL that failed, ``knativeerrorcode`` the final status as a string,
``knativeerrordata`` the failed response's body in base64, the *encoded* string truncated to 1024
characters (Knative encodes, then cuts).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Final

FORWARDED_HEADERS: Final = frozenset({"x-request-id", "retry-after", "traceparent", "tracestate"})
"""Incoming headers forwarded by exact (lowercase) name."""

FORWARDED_PREFIXES: Final = ("knative-", "x-b3-")
"""Incoming headers forwarded by (lowercase) name prefix."""

PREFER: Final = "Prefer"
PREFER_REPLY: Final = "reply"
KN_NAMESPACE: Final = "Kn-Namespace"

KNATIVE_ERROR_DEST: Final = "knativeerrordest"
KNATIVE_ERROR_CODE: Final = "knativeerrorcode"
KNATIVE_ERROR_DATA: Final = "knativeerrordata"
KNATIVE_ERROR_DATA_MAX_LENGTH: Final = 1024
"""Maximum length of ``knativeerrordata`` in base64 characters."""

_DATA_PREFIX_BYTES: Final = KNATIVE_ERROR_DATA_MAX_LENGTH // 4 * 3
"""Bytes whose base64 is exactly the 1024 characters kept: encoding more would be cut anyway."""

Headers = Mapping[str, str] | Iterable[tuple[str, str]]
"""Incoming headers: a mapping, or ``(name, value)`` pairs (repeated names allowed, as in a
multidict's ``items()``)."""


def is_forwarded(name: str) -> bool:
    """Whether the incoming header ``name`` is passed on to the subscriber."""
    lower = name.lower()
    return lower in FORWARDED_HEADERS or lower.startswith(FORWARDED_PREFIXES)


def forwarded_headers(incoming: Headers | None) -> dict[str, str]:
    """The incoming headers that are passed on, names in lowercase.

    A name that occurs more than once keeps every value, joined with ``", "`` (RFC 9110
    section 5.3).
    """
    if not incoming:
        return {}
    pairs = incoming.items() if isinstance(incoming, Mapping) else incoming
    out: dict[str, str] = {}
    for name, value in pairs:
        lower = name.lower()
        if lower in FORWARDED_HEADERS or lower.startswith(FORWARDED_PREFIXES):
            previous = out.get(lower)
            out[lower] = value if previous is None else f"{previous}, {value}"
    return out


def subscriber_headers(incoming: Headers | None, namespace: str | None) -> dict[str, str]:
    """Extra headers of a request to a subscriber: forwarded ones, ``Kn-Namespace``, ``Prefer``."""
    out = forwarded_headers(incoming)
    if namespace:
        out[KN_NAMESPACE] = namespace
    out[PREFER] = PREFER_REPLY
    return out


def dead_letter_headers(incoming: Headers | None, namespace: str | None) -> dict[str, str]:
    """Extra headers of a request to a dead-letter sink: forwarded ones and ``Kn-Namespace``."""
    out = forwarded_headers(incoming)
    if namespace:
        out[KN_NAMESPACE] = namespace
    return out


def error_data(body: bytes) -> str:
    """``knativeerrordata`` for a response body: base64, cut to 1024 characters."""
    return base64.b64encode(body[:_DATA_PREFIX_BYTES]).decode("ascii")


def error_extensions(dest: str, code: int, body: bytes) -> dict[str, str]:
    """The extensions added to an event sent to a dead-letter sink.

    ``knativeerrordata`` is left out when ``body`` is empty (an empty attribute value is not a
    useful CloudEvents extension, and some receivers drop or reject it).
    """
    extensions = {KNATIVE_ERROR_DEST: dest, KNATIVE_ERROR_CODE: str(code)}
    if body:
        extensions[KNATIVE_ERROR_DATA] = error_data(body)
    return extensions
