"""Field types shared by many kinds, each with its JSON schema and its error message.

* :data:`Text` -- a required string that may not be empty ("required field is missing");
* :data:`IsoDuration` -- an ISO 8601 duration (``PT0.2S``) in the object, float seconds in
  the typed view;
* :data:`StringMap` -- a map of strings to strings (labels, filter attributes);
* :data:`FreeForm` -- an object kawa keeps as given (``x-kubernetes-preserve-unknown-fields``);
* :data:`DateTime` -- an RFC 3339 timestamp, kept as its string;
* :data:`IntOrString` -- Kubernetes' int-or-string (a port number or a port name);
* :data:`Quantity` -- a resource quantity (``100m``, ``1Gi``, ``2``);
* :data:`Base64Bytes` -- base64 text in the object, the decoded bytes in the typed view;
* :data:`DnsLabel`, :data:`DnsSubdomain` -- Kubernetes names (RFC 1123).

Used in kinds' declarations (``spec: Annotated[IsoDuration | None, doc("...")]``).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BeforeValidator, ValidationInfo

from kawa.apis import duration, meta
from kawa.apis.meta import type_name
from kawa.apis.model.base import OpenAPI
from kawa.cloudevents.timestamp import is_timestamp
from kawa.errors import ValidationError


def _non_empty(value: str) -> str:
    if not value:
        raise ValueError("required field is missing")
    return value


Text = Annotated[str, AfterValidator(_non_empty)]
"""A string that must be present and not empty (a name, an image)."""


def _iso_seconds(value: Any, info: ValidationInfo) -> Any:
    if info.mode == "python" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)  # a typed view built in code holds seconds already
    if not isinstance(value, str):
        kind = "a number" if isinstance(value, int | float) else type(value).__name__
        raise ValueError(f"expected {duration.EXPECTED}, got {kind}")
    try:
        return duration.parse_duration(value)
    except ValidationError as err:
        raise ValueError(err.errors[0].message) from None


ISO_DURATION_SCHEMA: Final = {"type": "string", "description": f"{duration.EXPECTED}."}

IsoDuration = Annotated[float, BeforeValidator(_iso_seconds), OpenAPI(ISO_DURATION_SCHEMA)]
"""An ISO 8601 duration in the object (``PT0.2S``), its seconds in the typed view."""


def _positive(seconds: float) -> float:
    if seconds <= 0:
        raise ValueError("must be a duration greater than zero")
    return seconds


PositiveDuration = Annotated[IsoDuration, AfterValidator(_positive)]
"""An :data:`IsoDuration` greater than zero (a timeout)."""

StringMap = dict[str, str]
"""A map of strings to strings."""

FreeForm = dict[str, Any]
"""An object whose fields kawa keeps as given (not validated)."""


def _timestamp(value: str) -> str:
    if not is_timestamp(value):
        raise ValueError(f"expected an RFC 3339 date-time, got {value!r}")
    return value


DateTime = Annotated[
    str,
    AfterValidator(_timestamp),
    OpenAPI({"type": "string", "format": "date-time", "description": "An RFC 3339 time."}),
]
"""An RFC 3339 timestamp (``2026-12-04T10:00:00Z``), kept as written."""


def _int_or_string(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"expected an integer or a string, got {type_name(value)}")
    return value


IntOrString = Annotated[
    int | str,
    BeforeValidator(_int_or_string),
    OpenAPI({"type": "string", "format": "int-or-string", "description": "A number or a name."}),
]
"""Kubernetes' IntOrString: an integer or a string (a port number or a port name)."""


def _quantity(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected a quantity (a number or a string), got {type_name(value)}")
    return value


Quantity = Annotated[
    int | float | str,
    BeforeValidator(_quantity),
    OpenAPI({"type": "string", "description": "A quantity such as 100m, 0.5 or 1Gi."}),
]
"""A resource quantity (``100m``, ``1Gi``, ``2``), kept as written."""


def _base64(value: Any, info: ValidationInfo) -> Any:
    if info.mode == "python" and isinstance(value, bytes):
        return value  # a typed view built in code holds the bytes already
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type_name(value)}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("invalid value: expected base64-encoded data") from None


Base64Bytes = Annotated[
    bytes,
    BeforeValidator(_base64),
    OpenAPI({"type": "string", "format": "byte", "description": "Base64-encoded data."}),
]
"""Base64 text in the object (Kubernetes' ``[]byte``), the decoded bytes in the typed view."""


def _dns_label(value: str) -> str:
    problems = meta.dns1123_label_errors(value)
    if problems:
        raise ValueError(f"invalid value {value!r}: {'; '.join(problems)}")
    return value


def _dns_subdomain(value: str) -> str:
    problems = meta.dns1123_subdomain_errors(value)
    if problems:
        raise ValueError(f"invalid value {value!r}: {'; '.join(problems)}")
    return value


DnsLabel = Annotated[Text, AfterValidator(_dns_label)]
"""A required RFC 1123 label (``my-name``): a container's or a volume's name."""

DnsSubdomain = Annotated[Text, AfterValidator(_dns_subdomain)]
"""A required RFC 1123 subdomain (``my.name``): an object's name."""
