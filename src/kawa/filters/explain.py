"""Why a Trigger's filters let an event through or not: the filter that rejected it.

:func:`explain_trigger` applies the rules of :func:`kawa.filters.compile.compile_trigger`
(a non-empty ``spec.filters`` decides, else ``spec.filter.attributes``, else every event
matches) and, when the event does not match, returns the :class:`Rejection`: the path of
the failing filter in the Trigger (``spec.filters[1].any[0].prefix.type``,
``spec.filter.attributes.type``), the attribute, the value the filter wanted and the
event's value. A ``cesql`` filter's rejection carries the
:class:`kawa.cesql.explain.Explanation` (the sub-expression that was false or failed, the
error, the attributes it read); an ``any`` filter's carries the rejection of each
alternative; a ``not`` filter's the attributes its inner filter read.

Explaining walks the filter declarations for one event, on demand (``kawa why``); the data
plane keeps calling the compiled closures, untouched. The property tests hold
:attr:`Explanation.matched` to the compiled filter's answer. Called by
:mod:`kawa.observability.why`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis.eventing import Trigger
from kawa.apis.eventing import data_filter as data_filter_api
from kawa.apis.eventing.trigger_filters import SubscriptionsAPIFilter
from kawa.cesql import CesqlParseError
from kawa.cesql import explain as cesql_explain
from kawa.cesql.errors import Value
from kawa.cloudevents import CloudEvent
from kawa.filters import data
from kawa.filters.attributes import ANY_VALUE
from kawa.filters.base import attribute_reader

FILTERS: Final = "spec.filters"
ATTRIBUTES: Final = "spec.filter.attributes"


@dataclass(frozen=True, slots=True)
class Rejection:
    """The filter that did not let the event through, and why."""

    path: str
    """Where the filter is in the Trigger: ``spec.filters[0].exact.type``."""
    dialect: str
    """``attributes`` (``spec.filter``), ``exact``, ``prefix``, ``suffix``, ``any``, ``not``
    or ``cesql``."""
    reason: str
    """One line, for a person."""
    attribute: str | None = None
    expected: str | None = None
    """What the filter wanted of ``attribute`` (the value, prefix or suffix)."""
    actual: str | None = None
    """The event's value of ``attribute`` (its string form), ``None`` when absent."""
    cesql: cesql_explain.Explanation | None = None
    alternatives: tuple[Rejection, ...] = ()
    """For ``any``: why each alternative did not match."""
    reads: tuple[tuple[str, str | None], ...] = ()
    """For ``not``: the attributes the inner filter read, with the event's values."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "dialect": self.dialect, "reason": self.reason}
        if self.attribute is not None:
            out |= {"attribute": self.attribute, "expected": self.expected, "actual": self.actual}
        if self.cesql is not None:
            out["cesql"] = cesql_json(self.cesql)
        if self.alternatives:
            out["alternatives"] = [a.to_json() for a in self.alternatives]
        if self.reads:
            out["reads"] = [{"name": n, "value": v} for n, v in self.reads]
        return out


@dataclass(frozen=True, slots=True)
class Explanation:
    """Whether a Trigger's filters match an event, and if not, which filter rejected it."""

    matched: bool
    filters: str
    """The field that decided: ``spec.filters``, ``spec.filter.attributes``, or ``""`` (no
    filters: every event matches)."""
    rejection: Rejection | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"matched": self.matched, "filters": self.filters}
        if self.rejection is not None:
            out["rejection"] = self.rejection.to_json()
        return out


def cesql_json(explained: cesql_explain.Explanation) -> dict[str, Any]:
    error = explained.error
    return {
        "expression": explained.expression,
        "value": explained.value,
        "error": None if error is None else {"kind": error.kind, "message": error.message},
        "part": explained.part,
        "partValue": explained.part_value,
        "reads": [{"name": n, "value": v} for n, v in explained.reads],
    }


def explain_trigger(trigger: Trigger, event: CloudEvent) -> Explanation:
    """Whether ``trigger``'s filters pass ``event`` (as the data plane decides), and why not:
    Knative's, then kawa's data filter (the annotation ``kawa.dev/data``) when it has one."""
    if trigger.spec.filters:
        knative = explain_filters(trigger.spec.filters, event)
    elif trigger.spec.filter_attributes:
        knative = explain_attributes(trigger.spec.filter_attributes, event)
    else:
        knative = Explanation(True, "")
    text = trigger.annotations.get(data_filter_api.ANNOTATION)
    if not knative.matched or text is None:
        return knative
    why = data.rejection(data_filter_api.parse_conditions(text), event)
    if why is None:
        return knative
    path = f"metadata.annotations[{data_filter_api.ANNOTATION}]"
    return Explanation(False, path, Rejection(path, data_filter_api.ANNOTATION, why))


def explain_filters(
    filters: Sequence[SubscriptionsAPIFilter], event: CloudEvent, path: str = FILTERS
) -> Explanation:
    """The AND of ``filters`` (``spec.filters``): the first that does not match rejects."""
    for i, spec in enumerate(filters):
        rejection = _explain(spec, event, f"{path}[{i}]")
        if rejection is not None:
            return Explanation(False, path, rejection)
    return Explanation(True, path)


def explain_attributes(
    attributes: Mapping[str, str], event: CloudEvent, path: str = ATTRIBUTES
) -> Explanation:
    """``spec.filter.attributes``: each entry equal (``""``: present and not empty)."""
    for name, expected in attributes.items():
        actual = attribute_reader(name)(event.attributes)
        where = f"{path}.{name}"
        if expected == ANY_VALUE:
            if not actual:
                what = "no" if actual is None else "an empty"
                reason = f'the event has {what} "{name}" attribute ("" wants any non-empty value)'
                return Explanation(
                    False, path, Rejection(where, "attributes", reason, name, expected, actual)
                )
        elif actual != expected:
            reason = _differs("filter.attributes", name, "is not", expected, actual)
            return Explanation(
                False, path, Rejection(where, "attributes", reason, name, expected, actual)
            )
    return Explanation(True, path)


def _explain(spec: SubscriptionsAPIFilter, event: CloudEvent, path: str) -> Rejection | None:
    """``None`` when ``spec`` matches ``event``, else why not."""
    (dialect,) = spec.dialects
    value = getattr(spec, "not_" if dialect == "not" else dialect)
    return _EXPLAINERS[dialect](value, event, f"{path}.{dialect}")


def _differs(dialect: str, name: str, relation: str, expected: str, actual: str | None) -> str:
    if actual is None:
        return f'the event has no "{name}" attribute ({dialect} wants "{expected}")'
    return f'{name} "{actual}" {relation} "{expected}"'


def _map(
    dialect: str, relation: str, test: Callable[[str, str], bool]
) -> Callable[[Mapping[str, str], CloudEvent, str], Rejection | None]:
    """The explainer of a map dialect: every ``attribute: value`` entry must pass ``test``."""

    def explain(entries: Mapping[str, str], event: CloudEvent, path: str) -> Rejection | None:
        for name, expected in entries.items():
            actual = attribute_reader(name)(event.attributes)
            if actual is None or not test(actual, expected):
                reason = _differs(dialect, name, relation, expected, actual)
                return Rejection(f"{path}.{name}", dialect, reason, name, expected, actual)
        return None

    return explain


def _all(
    members: Sequence[SubscriptionsAPIFilter], event: CloudEvent, path: str
) -> Rejection | None:
    for i, member in enumerate(members):
        rejection = _explain(member, event, f"{path}[{i}]")
        if rejection is not None:
            return rejection
    return None


def _any(
    members: Sequence[SubscriptionsAPIFilter], event: CloudEvent, path: str
) -> Rejection | None:
    alternatives: list[Rejection] = []
    for i, member in enumerate(members):
        rejection = _explain(member, event, f"{path}[{i}]")
        if rejection is None:
            return None
        alternatives.append(rejection)
    count = len(members)
    reason = (
        "its one alternative did not match"
        if count == 1
        else f"none of its {count} alternatives matched"
    )
    return Rejection(path, "any", reason, alternatives=tuple(alternatives))


def _not(inner: SubscriptionsAPIFilter, event: CloudEvent, path: str) -> Rejection | None:
    if _explain(inner, event, path) is not None:
        return None
    reads = tuple((name, attribute_reader(name)(event.attributes)) for name in _names(inner))
    shown = ", ".join(f'{n} "{v}"' if v is not None else f"no {n}" for n, v in reads)
    reason = "the filter under not matches the event" + (f" ({shown})" if shown else "")
    return Rejection(path, "not", reason, reads=reads)


def _names(spec: SubscriptionsAPIFilter) -> list[str]:
    """The attributes a filter reads, in order, once each."""
    names: dict[str, None] = {}
    for dialect in spec.dialects:
        value = getattr(spec, "not_" if dialect == "not" else dialect)
        if dialect in ("exact", "prefix", "suffix"):
            names.update(dict.fromkeys(value))
        elif dialect in ("all", "any"):
            for member in value:
                names.update(dict.fromkeys(_names(member)))
        elif dialect == "not":
            names.update(dict.fromkeys(_names(value)))
        else:
            names.update(dict.fromkeys(cesql_explain.attribute_names(value)))
    return list(names)


def _cesql(expression: str, event: CloudEvent, path: str) -> Rejection | None:
    try:
        explained = cesql_explain.explain(expression, event)
    except CesqlParseError as err:  # admission parses every expression: not expected here
        return Rejection(path, "cesql", f"the expression does not parse: {err.message}")
    if explained.matched:
        return None
    return Rejection(path, "cesql", _cesql_reason(explained), cesql=explained)


def _cesql_reason(explained: cesql_explain.Explanation) -> str:
    reason = explained.reason()
    if explained.reads:
        reason += " (" + ", ".join(_read(n, v) for n, v in explained.reads) + ")"
    return reason


def _read(name: str, value: Value | None) -> str:
    return f"no {name}" if value is None else f"{name} = {cesql_explain.literal(value)}"


_EXPLAINERS: Final[dict[str, Callable[[Any, CloudEvent, str], Rejection | None]]] = {
    "exact": _map("exact", "is not", lambda actual, expected: actual == expected),
    "prefix": _map("prefix", "does not start with", lambda a, e: a.startswith(e)),
    "suffix": _map("suffix", "does not end with", lambda a, e: a.endswith(e)),
    "all": _all,
    "any": _any,
    "not": _not,
    "cesql": _cesql,
}
"""The explainer of each dialect (the same names as :data:`kawa.filters.compile.COMPILERS`)."""
