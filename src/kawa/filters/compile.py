"""Compiling a Trigger's filters into one :class:`~kawa.filters.base.Filter`.

Rules (Knative's broker filter and kawa's contract): a non-empty ``spec.filters`` list is
used and ANDed, and then ``spec.filter`` is ignored; an empty list does not count;
otherwise ``spec.filter.attributes`` applies; no filter at all matches every event.

Each dialect of :class:`~kawa.apis.eventing.trigger_filters.SubscriptionsAPIFilter` (a field of
that declaration) has one compiler in :data:`COMPILERS`, as Knative builds its dialects from
one registry. Compile once per trigger (at reconcile time), call per event. Filters come
validated (the typed Trigger); :func:`parse_filters` validates raw dicts for other callers.
Called by the broker data plane (and later by Subscriptions and Parallel branches).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from kawa.apis.eventing import Trigger, trigger_filters
from kawa.apis.eventing import data_filter as data_filter_api
from kawa.apis.eventing.trigger_filters import SubscriptionsAPIFilter
from kawa.apis.model.base import Context
from kawa.apis.model.parse import validate
from kawa.errors import FieldError, ValidationError
from kawa.filters import all as all_
from kawa.filters import any as any_
from kawa.filters import not_
from kawa.filters.attributes import attributes_filter
from kawa.filters.base import Filter, match_all
from kawa.filters.cesql import cesql_filter
from kawa.filters.data import data_filter
from kawa.filters.exact import exact_filter
from kawa.filters.prefix import prefix_filter
from kawa.filters.suffix import suffix_filter


def _members(members: Sequence[SubscriptionsAPIFilter]) -> list[Filter]:
    return [_compile(member) for member in members]


COMPILERS: Final[dict[str, Callable[[Any], Filter]]] = {
    "exact": exact_filter,
    "prefix": prefix_filter,
    "suffix": suffix_filter,
    "all": lambda members: all_.all_filter(_members(members)),
    "any": lambda members: any_.any_filter(_members(members)),
    "not": lambda member: not_.not_filter(_compile(member)),
    "cesql": cesql_filter,
}
"""The compiler of each dialect, by its JSON name (one per field of the declaration)."""


def compile_trigger(trigger: Trigger) -> Filter:
    """The one filter deciding which events reach ``trigger``'s subscriber: Knative's
    (``filters``, else ``filter``), and kawa's data filter when the Trigger has the annotation
    ``kawa.dev/data`` (:mod:`kawa.filters.data`; both must pass)."""
    knative = _knative(trigger)
    data = trigger.annotations.get(data_filter_api.ANNOTATION)
    if data is None:
        return knative
    on_data = data_filter(data_filter_api.parse_conditions(data))
    return on_data if knative is match_all else all_.all_filter([knative, on_data])


def _knative(trigger: Trigger) -> Filter:
    if trigger.spec.filters:
        return compile_filters(trigger.spec.filters)
    if trigger.spec.filter_attributes:
        return attributes_filter(trigger.spec.filter_attributes)
    return match_all


def compile_filters(filters: Sequence[SubscriptionsAPIFilter]) -> Filter:
    """The AND of a list of filters (an empty list matches everything)."""
    return all_.all_filter(_members(filters))


def parse_filters(raw: Any, *, path: str = "filters") -> list[SubscriptionsAPIFilter]:
    """A list of filter dicts validated as in a Trigger; raises :class:`ValidationError`."""
    errors: list[FieldError] = []
    if not isinstance(raw, list):
        raise ValidationError.single(path, "expected a list of filters")
    parsed = [
        validate(SubscriptionsAPIFilter, item, errors, ctx=Context(), path=f"{path}[{i}]")
        for i, item in enumerate(raw)
    ]
    filters = [f for f in parsed if f is not None]
    errors += trigger_filters.depth_errors(filters, path)
    if errors:
        raise ValidationError(errors)
    return filters


def compile_filter(spec: Mapping[str, Any], *, path: str = "filter") -> Filter:
    """One filter dict (exactly one dialect), validated then compiled."""
    errors: list[FieldError] = []
    parsed = validate(SubscriptionsAPIFilter, spec, errors, ctx=Context(), path=path)
    if parsed is not None:
        errors += trigger_filters.depth_errors([parsed], path)
    if errors or parsed is None:
        raise ValidationError(errors or [FieldError(path, "invalid filter")])
    return _compile(parsed)


def _compile(spec: SubscriptionsAPIFilter) -> Filter:
    """Compile a validated filter (exactly one dialect set)."""
    (dialect,) = spec.dialects
    field = "not_" if dialect == "not" else dialect
    return COMPILERS[dialect](getattr(spec, field))
