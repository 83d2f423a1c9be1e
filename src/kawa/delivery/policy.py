"""The retry policy of one delivery: how many attempts, which responses to retry, how long to wait.

Pure functions on plain data (no I/O, no event loop). :class:`RetryPolicy` is built once per
trigger or subscription from its ``delivery`` spec by :func:`policy_from_delivery` and read by
:mod:`kawa.delivery.sender` around every attempt.

Knative's words and numbers (``pkg/kncloudevents/retries.go``, knative/specs ``data-plane.md``):

* ``retry`` is the number of retries after the first attempt, so ``attempts = retry + 1``.
* Retried: connection errors and timeouts (no status), 404, 408, 409, 429 and every 5xx.
  Not retried: 1xx, 2xx, 3xx and every other 4xx (``SelectiveRetry``).
* Backoff for retry ``n`` (1-based, as kawa's contract documents it): linear ``d * n``,
  exponential ``d * 2**n``. (Knative's Go dispatcher hands go-retryablehttp's 0-based attempt
  index to the same formulas, so its first retry waits ``d`` (exponential) or 0 (linear); kawa
  follows the documented 1-based numbering.) No ``backoffDelay`` means no wait between retries.
* ``Retry-After`` (delta-seconds or HTTP-date) counts only on 429 and 503 responses and only when
  ``retryAfterMax`` is set (Knative's "delivery-retryafter" feature is opt-in: without
  ``retryAfterMax`` the header is ignored; ``PT0S`` ignores it too); it is capped at
  ``retryAfterMax`` and the wait is ``max(backoff, Retry-After)``.
"""

from __future__ import annotations

import email.utils
import re
import time
from dataclasses import dataclass
from datetime import UTC
from typing import Final

from kawa.apis.duck import (
    BACKOFF_POLICIES,
    BROKER_DEFAULT_DELIVERY,
    BackoffPolicy,
    DeliverySpec,
)
from kawa.errors import FieldError, ValidationError

DEFAULT_BACKOFF_POLICY: Final[BackoffPolicy] = "exponential"
"""``backoffPolicy`` when a delivery sets a ``backoffDelay`` but no policy (and the broker
default, :data:`kawa.apis.duck.BROKER_DEFAULT_DELIVERY`)."""

RETRIABLE_4XX: Final = frozenset({404, 408, 409, 429})
"""4xx answers that are retried (``SelectiveRetry``): not found (a pod becoming ready), request
timeout, conflict, too many requests."""

RETRY_AFTER_STATUSES: Final = frozenset({429, 503})
"""Only these answers have their ``Retry-After`` header honoured (RFC 9110 section 10.2.3)."""

_DELTA_SECONDS = re.compile(r"\s*(\d+)\s*")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How one delivery is attempted: ``retry`` retries after the first attempt, with backoff.

    Durations are seconds. ``backoff_delay`` ``None`` retries at once; ``timeout`` ``None``
    leaves the per-attempt timeout to the sender; ``retry_after_max`` ``None`` ignores
    ``Retry-After`` headers (see the module docstring).
    """

    retry: int = 0
    backoff_policy: BackoffPolicy = DEFAULT_BACKOFF_POLICY
    backoff_delay: float | None = None
    timeout: float | None = None
    retry_after_max: float | None = None

    def __post_init__(self) -> None:
        errors: list[FieldError] = []
        if isinstance(self.retry, bool) or not isinstance(self.retry, int) or self.retry < 0:
            errors.append(FieldError("retry", f"must be an integer >= 0, got {self.retry!r}"))
        if self.backoff_policy not in BACKOFF_POLICIES:
            errors.append(
                FieldError(
                    "backoffPolicy",
                    f"must be one of linear, exponential, got {self.backoff_policy!r}",
                )
            )
        for path, value in (
            ("backoffDelay", self.backoff_delay),
            ("timeout", self.timeout),
            ("retryAfterMax", self.retry_after_max),
        ):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or value < 0
            ):
                errors.append(FieldError(path, f"must be a duration >= 0 seconds, got {value!r}"))
        if self.timeout is not None and not errors and self.timeout == 0:
            errors.append(FieldError("timeout", "must be a duration > 0 seconds"))
        if errors:
            raise ValidationError(errors, subject="delivery")

    @property
    def attempts(self) -> int:
        """How many times an event is sent at most: the first attempt plus ``retry`` retries."""
        return self.retry + 1

    def backoff(self, n: int) -> float:
        """Seconds to wait before retry ``n`` (1-based): linear ``d*n``, exponential ``d*2**n``."""
        delay = self.backoff_delay
        if not delay:
            return 0.0
        if self.backoff_policy == "linear":
            return float(delay * n)
        return float(delay * (2**n))

    def delay_before_retry(
        self, n: int, status: int | None, retry_after: str | None, now: float | None = None
    ) -> float:
        """Seconds to wait before retry ``n`` after an attempt that answered ``status``.

        ``retry_after`` is that answer's ``Retry-After`` header (or ``None``); ``now`` is the
        current time as a Unix timestamp, used for the HTTP-date form (default: the clock).
        The wait is ``max(backoff(n), Retry-After)``, where Retry-After counts only on 429/503,
        only when ``retry_after_max`` is set, and at most ``retry_after_max``.
        """
        wait = self.backoff(n)
        cap = self.retry_after_max
        if cap is None or retry_after is None or status not in RETRY_AFTER_STATUSES:
            return wait
        requested = parse_retry_after(retry_after, time.time() if now is None else now)
        if requested is None:
            return wait
        return max(wait, min(requested, float(cap)))


def should_retry(status: int | None) -> bool:
    """Whether an attempt that ended with ``status`` is retried.

    ``None`` stands for no response at all (connection error, timeout): retried. So are 404,
    408, 409, 429 and every 5xx; 1xx, 2xx, 3xx and other 4xx are not.
    """
    if status is None or status >= 500:
        return True
    return status in RETRIABLE_4XX


def parse_retry_after(value: str, now: float) -> float | None:
    """Seconds requested by a ``Retry-After`` value, or ``None`` when it cannot be read.

    Accepts delta-seconds (``120``) and HTTP-dates (IMF-fixdate, RFC 850, asctime); a date in
    the past means 0. ``now`` is the current Unix timestamp.
    """
    match = _DELTA_SECONDS.fullmatch(value)
    if match is not None:
        return float(match.group(1))
    when = _parse_http_date(value.strip())
    if when is None:
        return None
    return max(0.0, when - now)


def _parse_http_date(value: str) -> float | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:  # asctime carries no zone; HTTP-dates are always GMT
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def policy_from_delivery(spec: DeliverySpec | None) -> RetryPolicy:
    """The :class:`RetryPolicy` of a ``delivery`` spec; ``None`` gives the broker defaults.

    Pass the trigger's (or subscription's) ``delivery`` when it has one, else the broker's:
    a trigger's ``delivery`` replaces the broker's as a whole. As in Knative's
    ``RetryConfigFromDeliverySpec``, an unset ``retry`` means no retries and an unset
    ``backoffDelay`` means retries without waiting. One deviation: a ``backoffDelay`` without a
    ``backoffPolicy`` backs off exponentially (Knative would then not wait at all).
    """
    if spec is None:
        spec = BROKER_DEFAULT_DELIVERY
    return RetryPolicy(
        retry=spec.retry or 0,
        backoff_policy=spec.backoff_policy or DEFAULT_BACKOFF_POLICY,
        backoff_delay=spec.backoff_delay,
        timeout=spec.timeout,
        retry_after_max=spec.retry_after_max,
    )
