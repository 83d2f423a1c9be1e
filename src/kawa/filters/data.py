"""kawa's data filter (the Trigger annotation ``kawa.dev/data``,
:mod:`kawa.apis.eventing.data_filter`): conditions on the event's JSON ``data``, compiled once
per Trigger.

:func:`data_filter` compiles the conditions (their JSONPaths parsed once) into a
:class:`~kawa.filters.base.Filter`: an event passes when its data is JSON and every condition
holds (a condition holds when one value its path finds compares true; without an operator,
when its path finds anything). Data that is not JSON, or larger than :data:`MAX_DATA`,
passes no condition. Pure.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any, Final

import orjson
from jsonpath_ng.ext.parser import parse as parse_path

from kawa.apis.eventing.data_filter import DataCondition
from kawa.cloudevents import CloudEvent
from kawa.filters.base import Filter

MAX_DATA: Final = 1024 * 1024
"""Bytes of data a data filter reads at most (larger data passes no condition)."""
_ORDERED: Final[dict[str, Callable[[Any, Any], bool]]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _compare(found: object, op: str, literal: object) -> bool:
    if op == "==":
        # JSON's true is not 1: a boolean equals only a boolean
        return found == literal and isinstance(found, bool) == isinstance(literal, bool)
    if op == "!=":
        return not _compare(found, "==", literal)
    if _number(found) and _number(literal):
        return _ORDERED[op](found, literal)
    if isinstance(found, str) and isinstance(literal, str):
        return _ORDERED[op](found, literal)
    return False


def _condition(condition: DataCondition) -> Callable[[object], bool]:
    path = parse_path(condition.path)
    op, literal = condition.op, condition.value

    def holds(data: object) -> bool:
        values = [match.value for match in path.find(data)]
        if op is None:
            return bool(values)
        return any(_compare(value, op, literal) for value in values)

    return holds


def _data_of(event: CloudEvent) -> tuple[bool, object]:
    """``(True, the data parsed)``, or ``(False, why not)`` for data that is not JSON."""
    data = event.data
    if data is None:
        return False, "the event has no data"
    if len(data) > MAX_DATA:
        return False, f"the event's data is larger than {MAX_DATA} bytes"
    content_type = (event.datacontenttype or "application/json").lower()
    if "json" not in content_type:
        return False, f"the event's data is {content_type}, not JSON"
    try:
        return True, orjson.loads(data)
    except orjson.JSONDecodeError:
        return False, "the event's data is not valid JSON"


def rejection(conditions: Sequence[DataCondition], event: CloudEvent) -> str | None:
    """Why ``event`` does not pass ``conditions`` (the first that fails), ``None`` when it
    does (for ``kawa why``: the data plane calls :func:`data_filter`'s filter)."""
    parsed, value = _data_of(event)
    if not parsed:
        return str(value)
    for condition in conditions:
        if not _condition(condition)(value):
            shown = condition.path + (
                ""
                if condition.op is None
                else f" {condition.op} {orjson.dumps(condition.value).decode()}"
            )
            return f"the condition {shown} does not hold on the event's data"
    return None


def data_filter(conditions: Sequence[DataCondition]) -> Filter:
    """The filter of ``conditions`` (see the module docstring)."""
    compiled = [_condition(c) for c in conditions]

    def matches(event: CloudEvent, /) -> bool:
        parsed, value = _data_of(event)
        return parsed and all(holds(value) for holds in compiled)

    return matches
