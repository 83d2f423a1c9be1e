"""Cron schedules as PingSource uses them: 5 fields, or 6 with seconds first, or a descriptor.

Fields: ``[second] minute hour day-of-month month day-of-week``; each a comma list of ``*``,
``?``, ``n``, ``a-b``, with an optional ``/step``; months ``JAN``-``DEC`` and days ``SUN``-
``SAT`` by name too. Descriptors: ``@yearly`` (``@annually``), ``@monthly``, ``@weekly``,
``@daily`` (``@midnight``), ``@hourly`` and ``@every <duration>`` (a Go duration of at least 1s:
``1h30m``, ``10s``). As in cron, when both day fields are restricted a day matching either
one fires. A schedule that can never fire (``0 0 30 2 *``) is rejected.
:func:`parse_schedule` raises :class:`ValueError` with a readable message; the PingSource
validator turns it into a field error at apply time. A :class:`CronSchedule` is data: when it
fires is computed by :mod:`kawa.cron`. Shared by PingSource and CronJob.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kawa.apis import duration

_MONTHS: Final = (
    "JAN",
    "FEB",
    "MAR",
    "APR",
    "MAY",
    "JUN",
    "JUL",
    "AUG",
    "SEP",
    "OCT",
    "NOV",
    "DEC",
)
_DAYS: Final = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_NAMES: Final = {
    **{m: i + 1 for i, m in enumerate(_MONTHS)},
    **{d: i for i, d in enumerate(_DAYS)},
}
_BOUNDS: Final = (
    ("second", 0, 59),
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 6),
)
_DESCRIPTORS: Final = {
    "@yearly": "0 0 0 1 1 *",
    "@annually": "0 0 0 1 1 *",
    "@monthly": "0 0 0 1 * *",
    "@weekly": "0 0 0 * * 0",
    "@daily": "0 0 0 * * *",
    "@midnight": "0 0 0 * * *",
    "@hourly": "0 0 * * * *",
}


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A parsed schedule: allowed values per field, or a fixed interval (``@every``)."""

    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]
    any_day_of_month: bool
    any_day_of_week: bool
    every: float | None = None


def parse_schedule(text: str) -> CronSchedule:
    """Parse a schedule; :class:`ValueError` says what is wrong."""
    text = text.strip()
    if text.startswith("@every"):
        empty: frozenset[int] = frozenset()
        return CronSchedule(
            empty, empty, empty, empty, empty, empty, False, False, every=_every(text)
        )
    if text.startswith("@"):
        expanded = _DESCRIPTORS.get(text)
        if expanded is None:
            raise ValueError(f"unknown descriptor {text!r}")
        text = expanded
    fields = text.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    elif len(fields) != 6:
        raise ValueError(
            f"expected 5 fields (minute hour day-of-month month day-of-week) or 6 with "
            f"seconds first, got {len(fields)}"
        )
    s, mi, h, dom, mo, dow = (
        _field(raw, name, low, high) for raw, (name, low, high) in zip(fields, _BOUNDS, strict=True)
    )
    schedule = CronSchedule(
        s, mi, h, dom, mo, dow, fields[3] in ("*", "?"), fields[5] in ("*", "?")
    )
    _check_fires(schedule)
    return schedule


_MONTH_DAYS: Final = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
"""The most days each month can have (February 29 in leap years)."""


def _check_fires(schedule: CronSchedule) -> None:
    """Reject a day of month that none of the months has (``0 0 30 2 *``): it never fires.

    When both day fields are restricted a matching day of week fires anyway (cron's OR)."""
    if not schedule.any_day_of_month and not schedule.any_day_of_week:
        return
    if any(d <= _MONTH_DAYS[m - 1] for m in schedule.months for d in schedule.days_of_month):
        return
    days = ",".join(map(str, sorted(schedule.days_of_month)))
    months = ",".join(_MONTHS[m - 1] for m in sorted(schedule.months))
    raise ValueError(f"the schedule never fires: day of month {days} does not occur in {months}")


def _every(text: str) -> float:
    value = text[len("@every") :].strip()
    try:
        seconds = duration.parse_go_duration(value)
    except ValueError:
        raise ValueError(f"@every needs a duration such as 1h30m or 10s, got {value!r}") from None
    if seconds < 1:
        raise ValueError("@every needs a duration of at least 1s")
    return seconds


def _number(token: str, name: str, low: int, high: int) -> int:
    value = _NAMES.get(token.upper()) if not token.isdigit() else int(token)
    if value is None:
        raise ValueError(f"{name}: {token!r} is not a number")
    if not low <= value <= high:
        raise ValueError(f"{name}: {value} is outside {low}-{high}")
    return value


def _field(raw: str, name: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in raw.split(","):
        body, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"{name}: step {step_text!r} must be a positive number")
            step = int(step_text)
        if body in ("*", "?"):
            start, end = low, high
        elif "-" in body:
            first, _, last = body.partition("-")
            start, end = _number(first, name, low, high), _number(last, name, low, high)
            if start > end:
                raise ValueError(f"{name}: range {body!r} runs backwards")
        else:
            start = _number(body, name, low, high)
            end = high if slash else start
        values.update(range(start, end + 1, step))
    return frozenset(values)
