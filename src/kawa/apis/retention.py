"""kawa's archive of a Broker or an InMemoryChannel (a Channel carries it to its backing
InMemoryChannel): the ``kawa.dev/retention`` annotation (its own, beside Knative's spec).

A Broker (or an InMemoryChannel) annotated ``kawa.dev/retention`` keeps its events, and their
lineage, that long after they arrived, even once every Trigger (every subscriber) has them (so
``kawa replay`` can deliver a broker's again, and ``kawa trace`` finds them), instead of the
log's retention (``kawa up --retention``, by default none: an event goes once every consumer
is past it). The value is an ISO 8601 duration (``P7D``, ``PT1H``, ``PT90M``) or a number of
seconds (``"3600"``, ``"0.5"``); ``0`` keeps nothing beyond delivery. An event a consumer has
not yet finished is never trimmed, whatever the retention.

:func:`retention_of` reads it (``None``: not set, or not valid); :func:`retention_errors` says
what is wrong with it at admission (the annotation as the field path). Pure; read by the
Broker's, the InMemoryChannel's and the Channel's declarations and the data planes
(:mod:`kawa.broker.dataplane`, :mod:`kawa.channels.dataplane`). kawa's own, shared by API
groups as :mod:`kawa.apis.limits` is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

from kawa.apis import duration
from kawa.errors import FieldError, ValidationError

ANNOTATION: Final = "kawa.dev/retention"
PATH: Final = f"metadata.annotations[{ANNOTATION}]"
MAX_SECONDS: Final = 10 * 365 * 86400.0
"""Ten years: more is a mistake (a unit slip), not an archive."""
EXPECTED: Final = "an ISO 8601 duration (P7D, PT1H) or a number of seconds (3600)"


def _seconds(text: str) -> float:
    """The seconds ``text`` stands for; ValueError with the reason."""
    text = text.strip()
    if text.startswith("P"):
        try:
            seconds = duration.parse_duration(text)
        except ValidationError as err:
            raise ValueError(err.errors[0].message) from None
    else:
        try:
            seconds = float(text)
        except ValueError:
            raise ValueError(f"expected {EXPECTED}, got {text!r}") from None
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"expected {EXPECTED} >= 0, got {text!r}")
    if seconds > MAX_SECONDS:
        raise ValueError(f"at most ten years (P3650D), got {text!r}")
    return seconds


def retention_errors(annotations: Mapping[str, str]) -> list[FieldError]:
    """What is wrong with the retention in ``annotations`` (none: ``[]``)."""
    value = annotations.get(ANNOTATION)
    if value is None:
        return []
    if not isinstance(value, str):
        return [FieldError(PATH, f"expected {EXPECTED}, got {value!r}")]
    try:
        _seconds(value)
    except ValueError as err:
        return [FieldError(PATH, str(err))]
    return []


def retention_of(annotations: Mapping[str, str] | None) -> float | None:
    """The seconds a Broker or InMemoryChannel with these annotations keeps its events
    (``None``: not set, or not valid: the log's retention)."""
    value = (annotations or {}).get(ANNOTATION)
    if not isinstance(value, str):
        return None
    try:
        return _seconds(value)
    except ValueError:
        return None
