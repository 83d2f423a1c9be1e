"""Compiled filters agree with a direct, naive evaluation of the filter dicts."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kawa.cloudevents import AttributeValue, CloudEvent
from kawa.filters import compile_filters, parse_filters
from kawa.filters.attributes import attributes_filter
from kawa.filters.exact import exact_filter
from kawa.filters.prefix import prefix_filter
from kawa.filters.suffix import suffix_filter

NAMES = st.sampled_from(["type", "source", "subject", "x", "ext1"])
TEXTS = st.sampled_from(["a", "ab", "abc", "b", "ba", "1", "12", "true", "false", "AQ=="])
VALUES: st.SearchStrategy[AttributeValue] = st.one_of(
    TEXTS,
    st.sampled_from(["", "bc", "c"]),
    st.integers(min_value=-3, max_value=130),
    st.booleans(),
    st.sampled_from([b"", b"\x01", b"ab"]),
)
ATTRIBUTE_SETS = st.dictionaries(NAMES, VALUES, max_size=5)


def reference_value(attrs: Mapping[str, AttributeValue], name: str) -> str | None:
    if name not in attrs:
        return None
    value = attrs[name]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def reference(spec: Mapping[str, Any], attrs: Mapping[str, AttributeValue]) -> bool:
    """The meaning of one filter dict, evaluated the slow, obvious way."""
    if "exact" in spec:
        return all(reference_value(attrs, k) == v for k, v in spec["exact"].items())
    if "prefix" in spec:
        return all(
            (got := reference_value(attrs, k)) is not None and got[: len(v)] == v
            for k, v in spec["prefix"].items()
        )
    if "suffix" in spec:
        return all(
            (got := reference_value(attrs, k)) is not None
            and len(got) >= len(v)
            and got[len(got) - len(v) :] == v
            for k, v in spec["suffix"].items()
        )
    if "all" in spec:
        return all(reference(member, attrs) for member in spec["all"])
    if "any" in spec:
        return any(reference(member, attrs) for member in spec["any"])
    if "not" in spec:
        return not reference(spec["not"], attrs)
    raise AssertionError(spec)


def reference_attributes(filter_: Mapping[str, str], attrs: Mapping[str, AttributeValue]) -> bool:
    for name, expected in filter_.items():
        got = reference_value(attrs, name)
        if not got or expected not in ("", got):
            return False
    return True


def single(dialect: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda k, v: {dialect: {k: v}}, NAMES, TEXTS)


LEAVES = st.one_of(single("exact"), single("prefix"), single("suffix"))
FILTERS = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda fs: {"all": fs}),
        st.lists(inner, min_size=1, max_size=3).map(lambda fs: {"any": fs}),
        inner.map(lambda f: {"not": f}),
    ),
    max_leaves=8,
)


def as_event(attrs: Mapping[str, AttributeValue]) -> CloudEvent:
    return CloudEvent({"specversion": "1.0", "id": "1", **attrs})


@settings(max_examples=300, deadline=None)
@given(st.lists(FILTERS, max_size=3), st.lists(ATTRIBUTE_SETS, min_size=1, max_size=8))
def test_compiled_filters_match_the_reference(
    filters: list[dict[str, Any]], attribute_sets: list[dict[str, AttributeValue]]
) -> None:
    compiled = compile_filters(parse_filters(filters))
    for attrs in attribute_sets:
        expected = all(reference(f, attrs) for f in filters)
        assert compiled(as_event(attrs)) is expected, (filters, attrs)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(NAMES, st.one_of(TEXTS, st.just("")), max_size=3),
    st.lists(ATTRIBUTE_SETS, min_size=1, max_size=8),
)
def test_attributes_filter_matches_the_reference(
    filter_: dict[str, str], attribute_sets: list[dict[str, AttributeValue]]
) -> None:
    compiled = attributes_filter(filter_)
    for attrs in attribute_sets:
        assert compiled(as_event(attrs)) is reference_attributes(filter_, attrs), (filter_, attrs)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["exact", "prefix", "suffix"]),
    st.dictionaries(NAMES, TEXTS, min_size=1, max_size=3),
    st.lists(ATTRIBUTE_SETS, min_size=1, max_size=8),
)
def test_multi_entry_maps_are_anded(
    dialect: str, entries: dict[str, str], attribute_sets: list[dict[str, AttributeValue]]
) -> None:
    make = {"exact": exact_filter, "prefix": prefix_filter, "suffix": suffix_filter}[dialect]
    compiled = make(entries)
    for attrs in attribute_sets:
        assert compiled(as_event(attrs)) is reference({dialect: entries}, attrs)
