"""Strict RFC 3339 timestamps: what is accepted, what is not, and the sdk-go UTC rendering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from kawa.cloudevents.timestamp import is_timestamp, parse_timestamp, timestamp_utc


@pytest.mark.parametrize(
    "text",
    [
        "2018-04-05T17:31:00Z",
        "2018-04-05T17:31:00.000000000Z",
        "2018-04-05T18:31:00+01:00",
        "2018-04-05T16:31:00-01:00",
        "2018-04-05t17:31:00z",  # RFC 3339 5.6 allows lowercase t and z
        "2020-02-29T23:59:59.123456789123Z",  # leap day, more than nanosecond digits
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59-23:59",
    ],
)
def test_valid_timestamps(text: str) -> None:
    assert is_timestamp(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "lunchtime",
        "2020-01-01 12:00:00",  # fromisoformat accepts a space; RFC 3339 does not
        "2020-01-01 12:00:00Z",
        "2020-01-01T12:00:00",  # no offset
        "2020-13-01T00:00:00Z",  # month 13
        "2020-00-10T00:00:00Z",
        "2019-02-29T00:00:00Z",  # not a leap year
        "2020-04-31T00:00:00Z",
        "2020-01-01T24:00:00Z",
        "2020-01-01T12:60:00Z",
        "2020-01-01T12:00:60Z",  # leap second: Go (and so Knative) rejects it
        "2018-04-05T18:31Z",  # minutes only
        "2018-04-05T18:31:00X",
        "2018-04-05T18:31:00+25:00",
        "2018-04-05T18:31:00+01:60",
        "2018-04-05T18:31:00+xx:00",
        "2018-04-05T18:31:00+05",
        "2018-04-05T18:31:00+0500",
        "2018-04-05T18:31:00.Z",  # a dot needs digits
        "20180405T183100Z",
        "2018-04-05T18:31:00Z ",
        "0000-01-01T00:00:00Z",
        "\uff12\uff10\uff12\uff10-01-01T00:00:00Z",  # fullwidth (non-ASCII) digits
    ],
)
def test_invalid_timestamps(text: str) -> None:
    assert not is_timestamp(text)
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_timestamp(text)


def test_parse_gives_the_instant() -> None:
    plus_one = parse_timestamp("2018-04-05T18:31:00.5+01:00")
    assert plus_one == datetime(2018, 4, 5, 17, 31, 0, 500000, tzinfo=UTC)
    assert plus_one.utcoffset() == timedelta(hours=1)
    assert parse_timestamp("2018-04-05T16:31:00-01:00") == parse_timestamp("2018-04-05T17:31:00Z")
    assert parse_timestamp("2018-04-05T17:31:00.123456789Z").microsecond == 123456
    assert parse_timestamp("2018-04-05T17:31:00-00:30").tzinfo == timezone(-timedelta(minutes=30))


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("2018-04-05T17:31:00Z", "2018-04-05T17:31:00Z"),
        ("2018-04-05T17:31:00.000000000Z", "2018-04-05T17:31:00Z"),
        ("2018-04-05T18:31:00+01:00", "2018-04-05T17:31:00Z"),
        ("2018-04-05T18:31:00.120+01:00", "2018-04-05T17:31:00.12Z"),
        ("2019-10-18T15:23:20.809775386Z", "2019-10-18T15:23:20.809775386Z"),
        ("2019-10-18T15:23:20.8097753861234Z", "2019-10-18T15:23:20.809775386Z"),
        ("2020-01-01T00:30:00+01:00", "2019-12-31T23:30:00Z"),
        ("0001-01-01T00:30:00+01:00", "0001-01-01T00:30:00+01:00"),  # before year 1 in UTC
        ("not a time", "not a time"),
    ],
)
def test_timestamp_utc_renders_like_go_rfc3339nano(text: str, rendered: str) -> None:
    assert timestamp_utc(text) == rendered
