"""kawa's filter on event data: the Trigger annotation ``kawa.dev/data`` (kawa's own, beside
Knative's filter dialects; ANDed with them).

Its value is one condition per line, all of which must hold::

    kawa.dev/data: |
      $.order.total > 100
      $.order.currency == "EUR"
      $.customer.vip

A condition is a JSONPath (Goessner's syntax as ``jsonpath-ng`` reads it, filters such as
``$.items[?(@.qty > 1)]`` included) applied to the event's JSON ``data``, then optionally an
operator (``==``, ``!=``, ``>``, ``>=``, ``<``, ``<=``) and a JSON literal (a number, a
``"string"``, ``true``, ``false``, ``null``). Without an operator the condition holds when the
path finds something. With one, it holds when a value the path finds compares true with the
literal (numbers with numbers, strings with strings; ``==`` and ``!=`` compare any JSON
values). :func:`parse_conditions` checks the text at admission (an error names the line and
what is wrong); :mod:`kawa.filters.data` compiles and evaluates it. Pure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from jsonpath_ng.ext.parser import parse as parse_path

ANNOTATION: Final = "kawa.dev/data"
OPERATORS: Final = ("==", "!=", ">=", "<=", ">", "<")
MAX_CONDITIONS: Final = 32
MAX_LENGTH: Final = 4096


@dataclass(frozen=True, slots=True)
class DataCondition:
    """One line: a JSONPath, and an operator with its literal (``op`` ``None``: exists)."""

    path: str
    op: str | None = None
    value: Any = None


def _split(line: str) -> tuple[str, str | None, str]:
    """``(path, operator, literal text)``: the last operator outside brackets, parentheses
    and quotes (a JSONPath filter may hold operators of its own)."""
    depth, quote, found = 0, "", None
    i = 0
    while i < len(line):
        char = line[i]
        if quote:
            if char == "\\":
                i += 2
                continue
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif depth == 0:
            for op in OPERATORS:
                if line.startswith(op, i):
                    found = (i, op)
                    i += len(op) - 1
                    break
        i += 1
    if found is None:
        return line.strip(), None, ""
    at, op = found
    return line[:at].strip(), op, line[at + len(op) :].strip()


def parse_conditions(text: str) -> list[DataCondition]:
    """The conditions of an annotation value; raises :class:`ValueError` naming the line."""
    if len(text) > MAX_LENGTH:
        raise ValueError(f"at most {MAX_LENGTH} characters")
    conditions: list[DataCondition] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        path, op, literal = _split(line)
        where = f"line {number} ({line!r})"
        if not path.startswith("$"):
            raise ValueError(f"{where}: a condition starts with a JSONPath such as $.order.total")
        try:
            parse_path(path)
        except Exception as err:  # the library raises its own lexer and parser errors
            raise ValueError(f"{where}: not a JSONPath: {err}") from None
        value: Any = None
        if op is not None:
            try:
                value = json.loads(literal)
            except ValueError:
                raise ValueError(
                    f"{where}: after {op}, expected a JSON literal (a number, a quoted "
                    f'"string", true, false or null), got {literal!r}'
                ) from None
            if isinstance(value, dict | list):
                raise ValueError(f"{where}: compare with a number, a string, a boolean or null")
        conditions.append(DataCondition(path, op, value))
    if not conditions:
        raise ValueError("expected at least one condition, such as $.order.total > 100")
    if len(conditions) > MAX_CONDITIONS:
        raise ValueError(f"at most {MAX_CONDITIONS} conditions")
    return conditions
