"""ISO 8601 durations, as Knative's ``delivery`` fields write them (``PT0.2S``, ``P1DT2H``).

:func:`parse_duration` turns one into float seconds. Accepted: ``P[nW][nD][T[nH][nM][nS]]``
with integer or decimal numbers (``.`` or ``,`` as the decimal sign, on any component), at
least one component, and at least one time component after ``T``. Years and months are
rejected: their length in seconds depends on the calendar, so as a delay they are ambiguous
(write ``P30D`` or ``PT720H``). Signs are rejected: a delay cannot be negative.

Written by hand rather than with a library: the grammar needed is one regular expression,
the standard library has no ISO 8601 *duration* parser, and the candidates on PyPI
(``isodate``, ``aniso8601``) would add a dependency to the core for twenty lines while
accepting years and months, which kawa wants to refuse with a clear message.

Called by :mod:`kawa.apis.duck` (``DeliverySpec``) and by anything else that reads durations.
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
