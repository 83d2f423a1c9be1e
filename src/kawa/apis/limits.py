"""kawa's delivery limits on a Trigger or a Subscription (its own annotations, beside Knative's
spec; a Sequence's or a Parallel's are copied to the Subscriptions it makes):

- ``kawa.dev/max-rate``: at most that many deliveries started per second (a positive number,
  ``"20"`` or ``"0.5"``), spaced evenly (:mod:`kawa.dispatch.pacing`);
- ``kawa.dev/max-in-flight``: at most that many deliveries at once (a positive integer; kawa's
  own bound per consumer, ``Config.max_in_flight``, stays the upper one).

And one the control plane writes in the status (``status.annotations``) of a Trigger or a
Subscription whose subscriber is a Knative Service: ``kawa.dev/subscriber-max-in-flight``,
the requests that Service holds at once at its largest
(:func:`kawa.apis.serving.autoscaling.capacity`); the dispatcher keeps below it too, and waits
out the Service's 429 and 503 answers instead of counting them as failed attempts
(docs/delivery-limits.md).

:func:`limits_of` reads them (``None`` for one not set, or not valid); :func:`limit_errors`
says what is wrong with the user's two at admission (with the annotation as the field path).
A Subscription's limits reach the channel's data plane on the channel itself, as the
annotation :func:`channel_annotation` (:func:`encode`, :func:`decode`), written with its
``spec.subscribers`` entry. Pure.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.errors import FieldError

MAX_RATE: Final = "kawa.dev/max-rate"
MAX_IN_FLIGHT: Final = "kawa.dev/max-in-flight"
SUBSCRIBER_MAX_IN_FLIGHT: Final = "kawa.dev/subscriber-max-in-flight"
"""In ``status.annotations``: what a Knative Service subscriber holds at once at its largest."""
USER_LIMITS: Final = (MAX_RATE, MAX_IN_FLIGHT)
"""The annotations a user sets (and a flow copies to its Subscriptions)."""
CHANNEL_PREFIX: Final = "limits.kawa.dev/"
"""A channel's annotation ``limits.kawa.dev/<subscription uid>``: that subscriber's limits."""


@dataclass(frozen=True, slots=True)
class Limits:
    """A subscriber's delivery limits (``None``: no limit of that kind)."""

    max_rate: float | None = None
    max_in_flight: int | None = None
    subscriber_max_in_flight: int | None = None

    @property
    def in_flight(self) -> int | None:
        """The lower of ``max_in_flight`` and ``subscriber_max_in_flight``."""
        bounds = [b for b in (self.max_in_flight, self.subscriber_max_in_flight) if b is not None]
        return min(bounds) if bounds else None


NO_LIMITS: Final = Limits()


def _rate(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise ValueError
    return value


def _in_flight(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError
    return value


def limit_errors(annotations: Mapping[str, str]) -> list[FieldError]:
    """What is wrong with the limits in ``annotations`` (none: ``[]``)."""
    errors: list[FieldError] = []
    rate = annotations.get(MAX_RATE)
    if rate is not None:
        try:
            _rate(rate)
        except ValueError:
            message = f"expected a positive number of events per second, got {rate!r}"
            errors.append(FieldError(f"metadata.annotations[{MAX_RATE}]", message))
    in_flight = annotations.get(MAX_IN_FLIGHT)
    if in_flight is not None:
        try:
            _in_flight(in_flight)
        except ValueError:
            message = f"expected a positive whole number of deliveries, got {in_flight!r}"
            errors.append(FieldError(f"metadata.annotations[{MAX_IN_FLIGHT}]", message))
    return errors


def _read(annotations: Mapping[str, Any], key: str, parse: Any) -> Any:
    text = annotations.get(key)
    if not isinstance(text, str):
        return None
    try:
        return parse(text)
    except ValueError:
        return None


def limits_of(
    annotations: Mapping[str, Any], status_annotations: Mapping[str, Any] | None = None
) -> Limits:
    """The limits in an object's ``annotations`` and (the subscriber's) its
    ``status_annotations``; a value not valid counts as not set."""
    return Limits(
        _read(annotations, MAX_RATE, _rate),
        _read(annotations, MAX_IN_FLIGHT, _in_flight),
        _read(status_annotations or {}, SUBSCRIBER_MAX_IN_FLIGHT, _in_flight),
    )


def user_annotations(annotations: Mapping[str, str]) -> dict[str, str]:
    """The user's limit annotations among ``annotations`` (what a flow copies)."""
    return {key: annotations[key] for key in USER_LIMITS if key in annotations}


def with_subscriber_limit(status: dict[str, Any], bound: int | None) -> None:
    """Set (or, with ``None``, drop) ``kawa.dev/subscriber-max-in-flight`` in
    ``status.annotations``."""
    annotations = dict(status.get("annotations") or {})
    if bound is None:
        annotations.pop(SUBSCRIBER_MAX_IN_FLIGHT, None)
    else:
        annotations[SUBSCRIBER_MAX_IN_FLIGHT] = str(bound)
    if annotations:
        status["annotations"] = annotations
    else:
        status.pop("annotations", None)


# -- a Subscription's limits on its channel ----------------------------------------------------


def channel_annotation(subscription_uid: str) -> str:
    """The channel's annotation holding the limits of the subscriber ``subscription_uid``."""
    return CHANNEL_PREFIX + subscription_uid


def encode(limits: Limits) -> str | None:
    """``limits`` as a channel annotation's value (a JSON object of the annotations above;
    ``None`` when there is no limit at all)."""
    found: dict[str, str] = {}
    for key, value in (
        (MAX_RATE, limits.max_rate),
        (MAX_IN_FLIGHT, limits.max_in_flight),
        (SUBSCRIBER_MAX_IN_FLIGHT, limits.subscriber_max_in_flight),
    ):
        if value is not None:
            found[key] = f"{value:g}" if isinstance(value, float) else str(value)
    return json.dumps(found, sort_keys=True, separators=(",", ":")) if found else None


def decode(text: object) -> Limits:
    """The limits in a channel annotation's value (none when it cannot be read)."""
    try:
        found = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        found = None
    if not isinstance(found, dict):
        return NO_LIMITS
    return limits_of(found, found)
