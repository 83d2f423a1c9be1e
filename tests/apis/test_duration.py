from __future__ import annotations

import pytest

from kawa.apis.duration import parse_duration
from kawa.errors import ValidationError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT0.2S", 0.2),
        ("PT1.5S", 1.5),
        ("PT0,5S", 0.5),
        ("PT1M", 60.0),
        ("PT2H", 7200.0),
        ("P1D", 86400.0),
        ("P1DT2H", 93600.0),
        ("P1W", 604800.0),
        ("PT1H1M1S", 3661.0),
        ("PT0S", 0.0),
        ("P0Y0M1D", 86400.0),
        ("PT0.5M", 30.0),
    ],
)
def test_valid_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "expected an ISO 8601 duration"),
        ("P", "expected an ISO 8601 duration"),
        ("PT", "'T' must be followed"),
        ("P1DT", "'T' must be followed"),
        ("1S", "expected an ISO 8601 duration"),
        ("PT1.S", "expected an ISO 8601 duration"),
        ("pt1s", "expected an ISO 8601 duration"),
        ("PT1S ", "expected an ISO 8601 duration"),
        ("10s", "expected an ISO 8601 duration"),
        ("PT1H2S3M", "expected an ISO 8601 duration"),
        ("-PT1S", "must not have a sign"),
        ("P1Y", "years are ambiguous"),
        ("P2M", "months are ambiguous"),
        ("P1Y2M", "years are ambiguous"),
    ],
)
def test_invalid_durations_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_duration(text, path="spec.delivery.backoffDelay")
    (error,) = info.value.errors
    assert error.path == "spec.delivery.backoffDelay"
    assert fragment in error.message
    assert repr(text) in error.message
