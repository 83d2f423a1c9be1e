"""Compiling a Trigger's filters into one :class:`~kawa.filters.base.Filter`.

Rules (Knative's broker filter and kawa's contract): a non-empty ``spec.filters`` list is
used and ANDed, and then ``spec.filter`` is ignored; an empty list does not count;
otherwise ``spec.filter.attributes`` applies; no filter at all matches every event.

Compile once per trigger (at reconcile time), call per event. Raw filter dicts are validated
again before compiling (cheap, and it keeps :func:`compile_filters` safe for any caller), so a
``cesql`` filter with an invalid expression raises :class:`~kawa.errors.ValidationError`.
Called by the broker data plane (and later by Subscriptions and Parallel branches).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kawa.apis.eventing import Trigger, trigger_filters
from kawa.errors import ValidationError
from kawa.filters import all as all_
from kawa.filters import any as any_
from kawa.filters import not_
from kawa.filters.attributes import attributes_filter
from kawa.filters.base import Filter, match_all
from kawa.filters.cesql import cesql_filter
from kawa.filters.exact import exact_filter
from kawa.filters.prefix import prefix_filter
from kawa.filters.suffix import suffix_filter


def compile_trigger(trigger: Trigger) -> Filter:
    """The one filter deciding which events reach ``trigger``'s subscriber."""
    if trigger.filters:
        return compile_filters(trigger.filters)
    if trigger.filter_attributes:
        return attributes_filter(trigger.filter_attributes)
    return match_all


def compile_filters(filters: Sequence[Mapping[str, Any]], *, path: str = "spec.filters") -> Filter:
    """The AND of a list of filter dicts (an empty list matches everything)."""
    errors = trigger_filters.validate_filters(list(filters), path)
    if errors:
        raise ValidationError(errors)
    return all_.all_filter([_compile(spec) for spec in filters])


def compile_filter(spec: Mapping[str, Any], *, path: str = "filter") -> Filter:
    """One filter dict (exactly one dialect) as a :class:`Filter`."""
    errors = trigger_filters.validate_filter(spec, path)
    if errors:
        raise ValidationError(errors)
    return _compile(spec)


def _compile(spec: Mapping[str, Any]) -> Filter:
    """Compile a filter dict already validated by :mod:`kawa.apis.eventing.trigger_filters`."""
    if "exact" in spec:
        return exact_filter(spec["exact"])
    if "prefix" in spec:
        return prefix_filter(spec["prefix"])
    if "suffix" in spec:
        return suffix_filter(spec["suffix"])
    if "all" in spec:
        return all_.all_filter([_compile(member) for member in spec["all"]])
    if "any" in spec:
        return any_.any_filter([_compile(member) for member in spec["any"]])
    if "not" in spec:
        return not_.not_filter(_compile(spec["not"]))
    if "cesql" in spec:
        return cesql_filter(spec["cesql"])
    raise ValidationError.single("", f"cannot compile filter {dict(spec)!r}")  # pragma: no cover
