"""CloudEvents Timestamp values: strict RFC 3339 parsing and the canonical UTC rendering.

The CloudEvents type system says a Timestamp is an RFC 3339 ``date-time``. Python's
``datetime.fromisoformat`` accepts far more (a space instead of ``T``, missing seconds, hour-only
offsets), so this module checks the grammar with one precompiled regex plus range checks.
Lowercase ``t`` and ``z`` are allowed, as RFC 3339 section 5.6 permits. A leap second
(``:60``) is rejected, as Go's ``time.Parse`` (and so Knative) rejects it.

Called by :mod:`kawa.cloudevents.validation` (is this attribute a Timestamp?), by
:mod:`kawa.cloudevents.display` (``time`` printed in UTC the way sdk-go prints it) and by
anything that compares timestamps as instants (CESQL, tests).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

_RFC3339: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:[Zz]|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)
_DAYS: Final = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_in_month(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _DAYS[month - 1]


def _fields(text: str) -> tuple[datetime, int] | None:
    """``(aware datetime without the fraction, nanoseconds)`` or ``None`` if invalid."""
    m = _RFC3339.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    if not 1 <= month <= 12 or not 1 <= day <= _days_in_month(year, month):
        return None
    if hour > 23 or minute > 59 or second > 59 or year == 0:
        return None
    sign, off_h, off_m = m.group(8, 9, 10)
    if sign is None:
        tz: timezone = UTC
    else:
        oh, om = int(off_h), int(off_m)
        if oh > 23 or om > 59:
            return None
        delta = timedelta(hours=oh, minutes=om)
        tz = timezone(-delta if sign == "-" else delta)
    frac = m.group(7) or ""
    nanos = int((frac + "000000000")[:9])
    return datetime(year, month, day, hour, minute, second, tzinfo=tz), nanos


def is_timestamp(text: str) -> bool:
    """Whether ``text`` is a strict RFC 3339 ``date-time``."""
    return _fields(text) is not None


def parse_timestamp(text: str) -> datetime:
    """The instant ``text`` names, timezone-aware, truncated to microseconds.

    Raises :class:`ValueError` when ``text`` is not a strict RFC 3339 ``date-time``.
    """
    fields = _fields(text)
    if fields is None:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    moment, nanos = fields
    return moment.replace(microsecond=nanos // 1000)


def timestamp_utc(text: str) -> str:
    """``text`` rendered in UTC like Go's ``RFC3339Nano`` (sdk-go's ``Timestamp.String``).

    Nanosecond precision, trailing zeros of the fraction dropped, ``Z`` suffix:
    ``2018-04-05T18:31:00.500+01:00`` becomes ``2018-04-05T17:31:00.5Z``. A value that is not
    a valid timestamp (or falls outside the representable years once moved to UTC) is
    returned unchanged.
    """
    fields = _fields(text)
    if fields is None:
        return text
    moment, nanos = fields
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        return text
    head = f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc:%H:%M:%S}"
    if nanos:
        return f"{head}.{f'{nanos:09d}'.rstrip('0')}Z"
    return f"{head}Z"
