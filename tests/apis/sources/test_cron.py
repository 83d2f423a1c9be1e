from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kawa.apis.sources.cron import parse_schedule


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_five_fields() -> None:
    s = parse_schedule("*/15 9-17 * * MON-FRI")
    assert s.matches(at(2024, 5, 6, 9, 45, 0))  # a Monday
    assert not s.matches(at(2024, 5, 5, 9, 45, 0))  # a Sunday
    assert not s.matches(at(2024, 5, 6, 9, 45, 1))
    assert s.next_after(at(2024, 5, 6, 17, 45, 0)) == at(2024, 5, 7, 9, 0, 0)


def test_six_fields_seconds_first() -> None:
    s = parse_schedule("*/10 * * * * *")
    assert s.next_after(at(2024, 1, 1, 0, 0, 5)) == at(2024, 1, 1, 0, 0, 10)
    s = parse_schedule("15,45 30 9 * * *")
    assert s.next_after(at(2024, 1, 1, 9, 30, 15)) == at(2024, 1, 1, 9, 30, 45)
    assert s.next_after(at(2024, 1, 1, 9, 30, 45)) == at(2024, 1, 2, 9, 30, 15)
    assert parse_schedule("* * * * *").seconds == frozenset({0})  # five fields: second 0


def test_impossible_days_are_allowed_when_a_weekday_can_fire() -> None:
    s = parse_schedule("0 0 30 2 MON")  # February 30 OR any Monday of February
    assert s.next_after(at(2024, 1, 1)) == at(2024, 2, 5)
    assert parse_schedule("0 0 29 2 *").next_after(at(2024, 3, 1)) == at(2028, 2, 29)


def test_descriptors_and_day_or_semantics() -> None:
    assert parse_schedule("@hourly").next_after(at(2024, 1, 1, 0, 30)) == at(2024, 1, 1, 1, 0)
    assert parse_schedule("@every 1m30s").every == 90
    s = parse_schedule("0 0 13 * FRI")  # the 13th OR a Friday
    assert s.matches(at(2024, 9, 13, 0, 0))
    assert s.matches(at(2024, 9, 6, 0, 0))
    assert not s.matches(at(2024, 9, 7, 0, 0))
    assert parse_schedule("0 0 29 2 *").next_after(at(2023, 3, 1)) == at(2024, 2, 29)


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
