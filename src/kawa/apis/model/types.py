"""Field types shared by many kinds, each with its JSON schema and its error message.

* :data:`Text` -- a required string that may not be empty ("required field is missing");
* :data:`IsoDuration` -- an ISO 8601 duration (``PT0.2S``) in the object, float seconds in
  the typed view;
* :data:`StringMap` -- a map of strings to strings (labels, filter attributes);
* :data:`FreeForm` -- an object kawa keeps as given (``x-kubernetes-preserve-unknown-fields``);
* :data:`DateTime` -- an RFC 3339 timestamp, kept as its string.

Used in kinds' declarations (``spec: Annotated[IsoDuration | None, doc("...")]``).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from pydantic import AfterValidator, BeforeValidator, ValidationInfo

from kawa.apis import duration
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
