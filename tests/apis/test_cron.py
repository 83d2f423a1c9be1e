from __future__ import annotations

import pytest

from kawa.apis.cron import parse_schedule


def test_fields_and_descriptors() -> None:
    s = parse_schedule("*/15 9-17 * * MON-FRI")
    assert s.minutes == frozenset({0, 15, 30, 45})
    assert s.hours == frozenset(range(9, 18))
    assert s.days_of_week == frozenset(range(1, 6))
    assert (s.any_day_of_month, s.any_day_of_week) == (True, False)
    assert parse_schedule("* * * * *").seconds == frozenset({0})  # five fields: second 0
    assert parse_schedule("@hourly") == parse_schedule("0 0 * * * *")
    assert parse_schedule("@every 1m30s").every == 90


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("* * *", "expected 5 fields"),
        ("60 * * * *", "minute: 60 is outside 0-59"),
        ("* * * 13 *", "month: 13 is outside 1-12"),
        ("* * * * 7", "day of week: 7 is outside 0-6"),
        ("5-1 * * * *", "range '5-1' runs backwards"),
        ("*/0 * * * *", "step '0' must be a positive number"),
        ("x * * * *", "'x' is not a number"),
        ("@sometimes", "unknown descriptor"),
        ("@every soon", "@every needs a duration"),
        ("@every 500ms", "at least 1s"),
        ("* * * * * * *", "got 7"),
        ("60 * * * * *", "second: 60 is outside 0-59"),
        ("0 0 30 2 *", "never fires: day of month 30 does not occur in FEB"),
        ("0 0 31 4,6 *", "day of month 31 does not occur in APR,JUN"),
    ],
)
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_schedule(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("@every 1m30s", 90.0), ("@every .5m", 30.0), ("@every 1.5h", 5400.0), ("@every 1s", 1.0)],
)
def test_every_takes_a_go_duration(text: str, seconds: float) -> None:
    assert parse_schedule(text).every == seconds
