from __future__ import annotations

import math
import re
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kawa.apis import duration
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


# -- Go durations (time.ParseDuration) ----------------------------------------------------------

NS_PER: dict[str, int] = {
    "ns": 1,
    "us": 10**3,
    "\u00b5s": 10**3,
    "\u03bcs": 10**3,
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
GO_MAX = 2**63 - 1
NUMBER = r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)"
UNIT = "(?:" + "|".join(sorted(NS_PER, key=len, reverse=True)) + ")"
GO_GRAMMAR = re.compile(rf"[-+]?(?:0|(?:{NUMBER}{UNIT})+)")
"""Go's grammar, written as one regular expression (the parser scans instead)."""
COMPONENT = re.compile(rf"({NUMBER})({UNIT})")


def expected_ns(text: str) -> int:
    """The exact nanoseconds in a text of GO_GRAMMAR, each component truncated."""
    sign = -1 if text.startswith("-") else 1
    total = sum(
        math.floor(Fraction(number if number != "." else "0") * NS_PER[unit])
        for number, unit in COMPONENT.findall(text)
    )
    return sign * total


def go_string(ns: int) -> str:
    """Go's Duration.String(): ``1h2m3.5s``, ``1.5ms``, ``0s``."""
    if ns == 0:
        return "0s"
    sign, size = ("-" if ns < 0 else ""), abs(ns)

    def decimal(value: int, unit: int) -> str:
        whole, fraction = divmod(value, unit)
        digits = len(str(unit)) - 1
        return f"{whole}.{fraction:0{digits}d}".rstrip("0").rstrip(".") if fraction else str(whole)

    if size < 10**9:
        for unit in ("ms", "\u00b5s", "ns"):
            if size >= NS_PER[unit]:
                return sign + decimal(size, NS_PER[unit]) + unit
    hours, rest = divmod(size, NS_PER["h"])
    minutes, rest = divmod(rest, NS_PER["m"])
    text = decimal(rest, NS_PER["s"]) + "s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return sign + text


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0),
        ("-0", 0),
        ("+0", 0),
        ("5s", 5 * 10**9),
        ("30s", 30 * 10**9),
        ("1478s", 1478 * 10**9),
        ("-5s", -5 * 10**9),
        ("+5s", 5 * 10**9),
        ("-0s", 0),
        ("5.6s", 5_600_000_000),
        ("5.s", 5 * 10**9),
        (".5s", 500_000_000),
        ("1.0s", 10**9),
        ("1.004s", 1_004_000_000),
        ("100.00100s", 100_001_000_000),
        ("10ns", 10),
        ("11us", 11_000),
        ("12\u00b5s", 12_000),
        ("12\u03bcs", 12_000),
        ("13ms", 13_000_000),
        ("14s", 14 * 10**9),
        ("15m", 15 * 60 * 10**9),
        ("16h", 16 * 3600 * 10**9),
        ("3h30m", 12_600 * 10**9),
        ("10.5s4m", 250_500_000_000),
        ("-2m3.4s", -123_400_000_000),
        ("1h2m3s4ms5us6ns", 3_723_004_005_006),
        ("39h9m14.425s", 140_954_425_000_000),
        ("52763797000ns", 52_763_797_000),
        ("0.3333333333333333333h", 1_200_000_000_000),
        ("9007199254740993ns", 9_007_199_254_740_993),
        ("9223372036854775807ns", GO_MAX),
        ("-9223372036854775808ns", -(2**63)),
        ("0.100000000000000000000h", 360 * 10**9),
    ],
)
def test_go_durations_as_go_reads_them(text: str, ns: int) -> None:
    assert duration.go_duration_ns(text) == ns


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("", ""),
        ("3", "a number without a unit"),
        ("00", "a number without a unit"),
        ("-", ""),
        ("s", ""),
        (".", ""),
        ("-.", ""),
        (".s", ""),
        ("+.s", ""),
        ("1d", "unknown unit 'd'"),
        ("1sec", "unknown unit 'sec'"),
        ("1s ", "unknown unit 's '"),
        (" 1s", ""),
        ("1.5.5s", "a number without a unit"),
        ("9223372036854775808ns", "within Go's"),
        ("9223372036854775.808us", "within Go's"),
        ("-9223372036854775809ns", "within Go's"),
        ("3000000h", "within Go's"),
    ],
)
def test_go_durations_go_refuses(text: str, detail: str) -> None:
    with pytest.raises(ValueError, match="expected a duration such as 60s") as info:
        duration.go_duration_ns(text)
    assert repr(text) in str(info.value)
    assert detail in str(info.value)


@given(
    st.one_of(
        st.from_regex(GO_GRAMMAR, fullmatch=True),
        st.text(alphabet="0123456789.+-nsuµμmhd ", max_size=12),
    )
)
def test_go_durations_follow_the_grammar(text: str) -> None:
    """Accepted exactly when Go's grammar matches and the value fits in int64 nanoseconds,
    with the exact value to a nanosecond per component (Go computes fractions in float64)."""
    if not GO_GRAMMAR.fullmatch(text):
        with pytest.raises(ValueError, match="expected a duration"):
            duration.go_duration_ns(text)
        return
    exact, slack = expected_ns(text), len(COMPONENT.findall(text))
    if -(2**63) + slack <= exact <= GO_MAX - slack:
        assert abs(duration.go_duration_ns(text) - exact) <= slack
    elif not -(2**63) - slack <= exact <= GO_MAX + slack:
        with pytest.raises(ValueError, match="within Go's"):
            duration.go_duration_ns(text)


@given(st.integers(-(2**63), GO_MAX))
def test_go_durations_read_what_go_writes(ns: int) -> None:
    assert duration.go_duration_ns(go_string(ns)) == ns


@given(st.integers(0, GO_MAX))
def test_parse_go_duration_gives_seconds_of_zero_or_more(ns: int) -> None:
    text = go_string(ns)
    assert duration.parse_go_duration(f" {text}\t") == ns / 1e9
    assert duration.parse_go_duration(text, bare_seconds=True) == ns / 1e9
    if ns:
        with pytest.raises(ValueError, match="expected a duration such as 60s"):
            duration.parse_go_duration("-" + text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("60s", 60.0), ("1m30s", 90.0), ("500ms", 0.5), ("0", 0.0), ("1h", 3600.0), ("2.5", 2.5)],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert duration.parse_go_duration(text, bare_seconds=True) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "1x", "-1s", "s", "1s-"])
def test_bad_go_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        duration.parse_go_duration(text, bare_seconds=True)


@pytest.mark.parametrize(("text", "seconds"), [("2.5", 2.5), ("7", 7.0), (".5", 0.5), ("3.", 3.0)])
def test_bare_numbers_are_seconds_only_when_asked(text: str, seconds: float) -> None:
    assert duration.parse_go_duration(text, bare_seconds=True) == seconds
    with pytest.raises(ValueError, match="a number without a unit"):
        duration.parse_go_duration(text)


@pytest.mark.parametrize("text", ["1e3", "1_0", "inf", "nan", "-2", "0x10"])
def test_bare_seconds_are_plain_decimals(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        duration.parse_go_duration(text, bare_seconds=True)
