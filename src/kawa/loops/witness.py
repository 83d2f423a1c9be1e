"""Whether some event can pass a set of Trigger filters: a *witness* event built from what the
filters require, then checked with the filters themselves.

A filter's plain requirements (Knative's ``filter.attributes``, and the ``exact``,
``prefix`` and ``suffix`` dialects, also inside ``all``) say what an attribute must be;
:func:`requirements` reads them from a Trigger. :func:`witness` builds one event meeting all
of them and the attributes already known of the event (its ``type`` when a reply type is
declared): an ``exact`` value, else the longest prefix followed by the longest suffix. When
two requirements contradict each other (two different exact values, prefixes of which
neither starts the other) there is no witness: no event passes every filter. The other
dialects (``any``, ``not``, ``cesql``) and kawa's data filter require nothing here: the
compiled filters, run on the witness by :mod:`kawa.loops.search`, decide, so a filter the
witness does not pass counts as not passed (the analysis stays on the side of no warning).
Pure; used by :mod:`kawa.loops.search`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from kawa.apis.eventing import Trigger
from kawa.apis.eventing.trigger_filters import SubscriptionsAPIFilter
from kawa.cloudevents.event import CloudEvent

Op = Literal["exact", "prefix", "suffix"]

DEFAULTS: Final = {
    "specversion": "1.0",
    "id": "kawa-loop-witness",
    "source": "/kawa/loops",
    "type": "dev.kawa.loops.witness",
}
"""The required attributes of a witness no filter and no declaration sets."""


@dataclass(frozen=True, slots=True)
class Requirement:
    """What one filter says of one attribute."""

    attribute: str
    op: Op
    value: str


def requirements(trigger: Trigger) -> tuple[Requirement, ...]:
    """The plain requirements of ``trigger``'s filters (``filters`` when not empty, else
    ``filter.attributes``, as the broker applies them)."""
    if trigger.spec.filters:
        found: list[Requirement] = []
        for member in trigger.spec.filters:
            found.extend(_of(member))
        return tuple(found)
    attributes = trigger.spec.filter_attributes or {}
    # an empty value matches any value (Knative's TriggerAnyFilter)
    return tuple(Requirement(k, "exact", v) for k, v in sorted(attributes.items()) if v)


def _of(member: SubscriptionsAPIFilter) -> Iterable[Requirement]:
    plain: tuple[tuple[Op, dict[str, str] | None], ...] = (
        ("exact", member.exact),
        ("prefix", member.prefix),
        ("suffix", member.suffix),
    )
    for op, values in plain:
        for attribute, value in sorted((values or {}).items()):
            yield Requirement(attribute, op, value)
    for inner in member.all or ():
        yield from _of(inner)


def witness(known: Mapping[str, str], required: Iterable[Requirement]) -> CloudEvent | None:
    """An event with the ``known`` attributes meeting every requirement the known attributes
    leave open; ``None`` when the requirements contradict each other."""
    by_attribute: dict[str, list[Requirement]] = {}
    for requirement in required:
        by_attribute.setdefault(requirement.attribute, []).append(requirement)
    attributes: dict[str, str] = dict(known)
    for attribute, reqs in by_attribute.items():
        if attribute in attributes:
            continue  # known: the compiled filters say whether it passes
        value = _value(reqs)
        if value is None:
            return None
        attributes[attribute] = value
    for attribute, default in DEFAULTS.items():
        attributes.setdefault(attribute, default)
    return CloudEvent(dict(attributes))


def _value(reqs: list[Requirement]) -> str | None:
    exact = {r.value for r in reqs if r.op == "exact"}
    if len(exact) > 1:
        return None
    prefix = _longest([r.value for r in reqs if r.op == "prefix"], str.startswith)
    suffix = _longest([r.value for r in reqs if r.op == "suffix"], str.endswith)
    if prefix is None or suffix is None:
        return None
    if exact:
        (value,) = exact
        ok = value.startswith(prefix) and value.endswith(suffix)
        return value if ok else None
    if prefix.endswith(suffix):
        return prefix
    return prefix + suffix


def _longest(values: list[str], extends: Callable[[str, str], bool]) -> str | None:
    """The longest of ``values`` when it ``extends`` every other one (``""`` for none)."""
    if not values:
        return ""
    longest = max(values, key=len)
    return longest if all(extends(longest, other) for other in values) else None
