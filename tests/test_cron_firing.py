"""When a cron schedule fires (kawa.cron), in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from kawa import cron as firing
from kawa.apis.cron import parse_schedule


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_five_fields() -> None:
    s = parse_schedule("*/15 9-17 * * MON-FRI")
    assert firing.matches(s, at(2024, 5, 6, 9, 45, 0))  # a Monday
    assert not firing.matches(s, at(2024, 5, 5, 9, 45, 0))  # a Sunday
    assert not firing.matches(s, at(2024, 5, 6, 9, 45, 1))
    assert firing.next_after(s, at(2024, 5, 6, 17, 45, 0)) == at(2024, 5, 7, 9, 0, 0)


def test_six_fields_seconds_first() -> None:
    s = parse_schedule("*/10 * * * * *")
    assert firing.next_after(s, at(2024, 1, 1, 0, 0, 5)) == at(2024, 1, 1, 0, 0, 10)
    s = parse_schedule("15,45 30 9 * * *")
    assert firing.next_after(s, at(2024, 1, 1, 9, 30, 15)) == at(2024, 1, 1, 9, 30, 45)
    assert firing.next_after(s, at(2024, 1, 1, 9, 30, 45)) == at(2024, 1, 2, 9, 30, 15)


def test_impossible_days_are_allowed_when_a_weekday_can_fire() -> None:
    s = parse_schedule("0 0 30 2 MON")  # February 30 OR any Monday of February
    assert firing.next_after(s, at(2024, 1, 1)) == at(2024, 2, 5)
    assert firing.next_after(parse_schedule("0 0 29 2 *"), at(2024, 3, 1)) == at(2028, 2, 29)


def test_descriptors_and_day_or_semantics() -> None:
    assert firing.next_after(parse_schedule("@hourly"), at(2024, 1, 1, 0, 30)) == at(
        2024, 1, 1, 1, 0
    )
    s = parse_schedule("0 0 13 * FRI")  # the 13th OR a Friday
    assert firing.matches(s, at(2024, 9, 13, 0, 0))
    assert firing.matches(s, at(2024, 9, 6, 0, 0))
    assert not firing.matches(s, at(2024, 9, 7, 0, 0))
    assert firing.next_after(parse_schedule("0 0 29 2 *"), at(2023, 3, 1)) == at(2024, 2, 29)
