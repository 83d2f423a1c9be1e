"""Durations in the two forms kawa's APIs write them: ISO 8601 and Go's.

**ISO 8601**, as Knative's ``delivery`` fields write them (``PT0.2S``, ``P1DT2H``):
:func:`parse_duration` turns one into float seconds. Accepted: ``P[nW][nD][T[nH][nM][nS]]``
with integer or decimal numbers (``.`` or ``,`` as the decimal sign, on any component), at
least one component, and at least one time component after ``T``. Years and months are
rejected: their length in seconds depends on the calendar, so as a delay they are ambiguous
(write ``P30D`` or ``PT720H``). Signs are rejected: a delay cannot be negative.

**Go's** ``time.ParseDuration``, as Knative Serving's annotations and ConfigMaps, the
kubelet's ConfigMap and cron's ``@every`` write them (``60s``, ``1m30s``, ``500ms``):
:func:`go_duration_ns` reads Go's grammar exactly: an optional sign, then one or more decimal
numbers (``1``, ``1.5``, ``.5``, ``1.``), each followed by a unit ``ns``, ``us`` (``µs``,
``μs``), ``ms``, ``s``, ``m`` or ``h``; ``0`` alone needs no unit; at most 2^63-1 ns (about
292 years); fractions to the nanosecond with Go's float64 rounding. :func:`parse_go_duration`
is what every caller uses: the same grammar, surrounding blanks ignored, negative durations
refused, float seconds; with ``bare_seconds`` a plain number (``2.5``) is seconds too (the
autoscaler's annotations and ConfigMap accept that, as kawa always did).

Written by hand rather than with a library: the grammars needed are one regular expression
each, the standard library has no ISO 8601 *duration* parser, and the candidates on PyPI
(``isodate``, ``aniso8601``) would add a dependency to the core for twenty lines while
accepting years and months, which kawa wants to refuse with a clear message.

Pure. Called by :mod:`kawa.apis.duck` (``DeliverySpec``), :mod:`kawa.apis.serving`
(annotations, ``config-autoscaler``, ``config-deployment``), :mod:`kawa.apis.cron`
and :mod:`kawa.serving.kubelet.config`.
"""

from __future__ import annotations

import re
from typing import Final

from kawa.errors import ValidationError

_NUMBER: Final = r"\d+(?:[.,]\d+)?"
_DURATION: Final = re.compile(
    rf"P(?:(?P<years>{_NUMBER})Y)?(?:(?P<months>{_NUMBER})M)?(?:(?P<weeks>{_NUMBER})W)?"
    rf"(?:(?P<days>{_NUMBER})D)?"
    rf"(?P<time>T(?:(?P<hours>{_NUMBER})H)?(?:(?P<minutes>{_NUMBER})M)?"
    rf"(?:(?P<seconds>{_NUMBER})S)?)?"
)
_SECONDS: Final = {"weeks": 604800.0, "days": 86400.0, "hours": 3600.0, "minutes": 60.0}

EXPECTED: Final = "an ISO 8601 duration such as PT0.2S, PT1M, PT1.5S or P1DT2H"


def parse_duration(text: str, *, path: str = "") -> float:
    """The number of seconds ``text`` (an ISO 8601 duration) stands for.

    Raises :class:`~kawa.errors.ValidationError` with one field error at ``path`` saying what
    was expected.
    """
    if not isinstance(text, str):
        raise ValidationError.single(path, f"expected {EXPECTED}, got {text!r}")
    if text.startswith(("-", "+")):
        raise ValidationError.single(path, f"invalid duration {text!r}: must not have a sign")
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValidationError.single(path, f"invalid duration {text!r}: expected {EXPECTED}")
    parts = match.groupdict()
    if parts["time"] == "T":
        raise ValidationError.single(
            path, f"invalid duration {text!r}: 'T' must be followed by hours, minutes or seconds"
        )
    if all(value is None for name, value in parts.items() if name != "time"):
        raise ValidationError.single(path, f"invalid duration {text!r}: expected {EXPECTED}")
    for name in ("years", "months"):
        value = parts[name]
        if value is not None and _number(value) != 0:
            raise ValidationError.single(
                path,
                f"invalid duration {text!r}: {name} are ambiguous as a duration; "
                "use days (P30D) or hours (PT720H)",
            )
    total = 0.0
    for name, factor in _SECONDS.items():
        value = parts[name]
        if value is not None:
            total += _number(value) * factor
    if parts["seconds"] is not None:
        total += _number(parts["seconds"])
    return total


def _number(text: str) -> float:
    return float(text.replace(",", "."))


GO_EXPECTED: Final = "a duration such as 60s, 1m30s or 500ms"
_GO_UNITS: Final = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign, Go's "µs"
    "\u03bcs": 1_000,  # Greek small letter mu, Go's "μs"
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_GO_COMPONENT: Final = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")
"""One ``number unit`` of a Go duration, as Go scans it: digits, an optional fraction, then
everything up to the next digit or ``.`` as the unit. Matches at any position (maybe empty)."""
_GO_MAX: Final = 2**63 - 1
_BARE_SECONDS: Final = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")


def go_duration_ns(text: str) -> int:
    """The nanoseconds in ``text``, read as Go's ``time.ParseDuration`` reads it.

    ``ValueError`` says what was expected (and the unit, when that is the problem).
    """
    rest, negative = text, False
    if rest[:1] in ("-", "+"):
        rest, negative = rest[1:], rest[0] == "-"
    if rest == "0":
        return 0
    if not rest:
        raise ValueError(f"expected {GO_EXPECTED}, got {text!r}")
    total, pos = 0, 0
    while pos < len(rest):
        match = _GO_COMPONENT.match(rest, pos)
        if match is None:  # cannot happen: the pattern matches the empty string
            raise ValueError(f"expected {GO_EXPECTED}, got {text!r}")
        whole, fraction, unit = match.groups()
        if not whole and not fraction:
            raise ValueError(f"expected {GO_EXPECTED}, got {text!r}")
        if not unit:
            raise ValueError(f"expected {GO_EXPECTED}, got {text!r} (a number without a unit)")
        factor = _GO_UNITS.get(unit)
        if factor is None:
            raise ValueError(f"expected {GO_EXPECTED}, got {text!r} (unknown unit {unit!r})")
        total += int(whole or "0") * factor
        if fraction:
            total += _go_fraction(fraction, factor)
        if total > _GO_MAX + 1:
            break
        pos = match.end()
    if total > (_GO_MAX + 1 if negative else _GO_MAX):
        raise ValueError(f"expected {GO_EXPECTED} within Go's 2562047h47m, got {text!r}")
    return -total if negative else total


def _go_fraction(digits: str, unit: int) -> int:
    """Nanoseconds in ``.digits`` of ``unit``, computed as Go does: the leading digits that fit
    in an int64, times the unit over their scale in float64, truncated (``0.3333333333333333333h``
    is exactly 20m, as in Go)."""
    value, kept = 0, 0
    for char in digits:
        if value > _GO_MAX // 10 or value * 10 + int(char) > _GO_MAX + 1:
            break
        value, kept = value * 10 + int(char), kept + 1
    return int(value * (unit / 10.0**kept)) if value else 0


def parse_go_duration(text: str, *, bare_seconds: bool = False) -> float:
    """The seconds in ``text``, a Go duration of 0 or more (``1m30s``, ``500ms``, ``0``).

    Blanks around it are ignored; with ``bare_seconds``, a plain number (``2.5``) is seconds.
    ``ValueError`` says what was expected.
    """
    value = text.strip()
    if bare_seconds and _BARE_SECONDS.fullmatch(value):
        return float(value)
    nanoseconds = go_duration_ns(value)
    if nanoseconds < 0:  # Go's grammar has a sign, but no duration kawa reads is negative
        raise ValueError(f"expected {GO_EXPECTED}, got {text!r}")
    return nanoseconds / 1e9
