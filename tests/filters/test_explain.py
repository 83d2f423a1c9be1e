"""Explaining a Trigger's filters: which filter rejected an event, where it is, and why.

The property tests hold the explanation's verdict to the compiled filter the data plane runs,
over random filter trees (every dialect, CESQL included), ``filter.attributes`` maps and
events.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import event as observe
from hypothesis import strategies as st

from kawa.apis.eventing import Trigger, parse_trigger
from kawa.cloudevents import AttributeValue, CloudEvent
from kawa.filters import compile_trigger
from kawa.filters.explain import Rejection, explain_trigger

from ..cesql.test_properties import EXPRESSIONS
from .events import event
from .test_reference import ATTRIBUTE_SETS, NAMES, TEXTS, as_event


def trigger(**spec: Any) -> Trigger:
    return parse_trigger(
        {
            "apiVersion": "eventing.knative.dev/v1",
            "kind": "Trigger",
            "metadata": {"name": "t", "namespace": "default"},
            "spec": {"broker": "default", "subscriber": {"uri": "http://s.example/"}, **spec},
        }
    )


def rejection(spec: dict[str, Any], ev: CloudEvent) -> Rejection:
    explained = explain_trigger(trigger(**spec), ev)
    assert not explained.matched
    assert explained.rejection is not None
    return explained.rejection


ORDER = event(source="/orders/7", type="com.example.order.updated", subject="x", amount="abc")


def test_no_filters_match_every_event() -> None:
    explained = explain_trigger(trigger(), ORDER)
    assert (explained.matched, explained.filters, explained.rejection) == (True, "", None)
    assert explained.to_json() == {"matched": True, "filters": ""}


def test_the_failing_filter_is_named_with_its_path_attribute_and_values() -> None:
    spec = {"filters": [{"prefix": {"source": "/orders/"}}, {"exact": {"type": "com.x"}}]}
    found = rejection(spec, ORDER)
    assert found.path == "spec.filters[1].exact.type"
    assert (found.dialect, found.attribute, found.expected, found.actual) == (
        "exact",
        "type",
        "com.x",
        "com.example.order.updated",
    )
    assert found.reason == 'type "com.example.order.updated" is not "com.x"'
    suffix = rejection({"filters": [{"suffix": {"type": ".created"}}]}, ORDER)
    assert suffix.reason == 'type "com.example.order.updated" does not end with ".created"'
    absent = rejection({"filters": [{"prefix": {"region": "eu-"}}]}, ORDER)
    assert (absent.path, absent.actual) == ("spec.filters[0].prefix.region", None)
    assert absent.reason == 'the event has no "region" attribute (prefix wants "eu-")'


def test_filter_attributes() -> None:
    spec = {"filter": {"attributes": {"source": "/orders/7", "type": "com.example.order.paid"}}}
    found = rejection(spec, ORDER)
    assert found.path == "spec.filter.attributes.type"
    assert found.dialect == "attributes"
    assert found.expected == "com.example.order.paid"
    anything = rejection({"filter": {"attributes": {"region": ""}}}, ORDER)
    assert anything.reason == 'the event has no "region" attribute ("" wants any non-empty value)'
    empty = rejection({"filter": {"attributes": {"region": ""}}}, ORDER.with_attributes(region=""))
    assert (
        empty.reason == 'the event has an empty "region" attribute ("" wants any non-empty value)'
    )
    explained = explain_trigger(trigger(filter={"attributes": {"subject": ""}}), ORDER)
    assert (explained.matched, explained.filters) == (True, "spec.filter.attributes")


def test_non_empty_filters_replace_filter_attributes() -> None:
    spec = {
        "filter": {"attributes": {"type": "never"}},
        "filters": [{"exact": {"subject": "x"}}],
    }
    explained = explain_trigger(trigger(**spec), ORDER)
    assert (explained.matched, explained.filters) == (True, "spec.filters")


def test_nested_all_any_not_paths() -> None:
    spec = {
        "filters": [
            {"prefix": {"source": "/orders/"}},
            {
                "all": [
                    {"exact": {"subject": "x"}},
                    {
                        "any": [
                            {"exact": {"type": "com.example.order.created"}},
                            {"not": {"prefix": {"type": "com.example."}}},
                            {"all": [{"suffix": {"source": "/7"}}, {"cesql": "subject = 'y'"}]},
                        ]
                    },
                ]
            },
        ]
    }
    found = rejection(spec, ORDER)
    assert found.path == "spec.filters[1].all[1].any"
    assert found.reason == "none of its 3 alternatives matched"
    paths = [a.path for a in found.alternatives]
    assert paths == [
        "spec.filters[1].all[1].any[0].exact.type",
        "spec.filters[1].all[1].any[1].not",
        "spec.filters[1].all[1].any[2].all[1].cesql",
    ]
    negated = found.alternatives[1]
    assert negated.reads == (("type", "com.example.order.updated"),)
    assert negated.reason == (
        'the filter under not matches the event (type "com.example.order.updated")'
    )
    cesql = found.alternatives[2]
    assert cesql.reason == "`subject = 'y'` is false (subject = 'x')"
    as_json = found.to_json()
    assert as_json["alternatives"][2]["cesql"] == {
        "expression": "subject = 'y'",
        "value": False,
        "error": None,
        "part": "subject = 'y'",
        "partValue": False,
        "reads": [{"name": "subject", "value": "x"}],
    }


def test_a_cesql_error_shows_the_error() -> None:
    spec = {"filters": [{"cesql": "source LIKE '/orders/%' AND INT(amount) >= 100"}]}
    found = rejection(spec, ORDER)
    assert found.path == "spec.filters[0].cesql"
    assert found.cesql is not None
    assert found.cesql.error is not None
    assert found.cesql.error.kind == "cast"
    assert found.reason == (
        "cast error in `INT(amount)`: cannot cast String 'abc' to Integer (amount = 'abc')"
    )
    assert found.to_json()["cesql"]["error"] == {
        "kind": "cast",
        "message": "cannot cast String 'abc' to Integer",
    }
    missing = rejection({"filters": [{"cesql": "region = 'eu'"}]}, ORDER)
    assert missing.reason == (
        "missingAttribute error in `region = 'eu'`: the event has no attribute 'region' (no region)"
    )


def test_aliases_are_read_as_the_data_plane_reads_them() -> None:
    ev = ORDER.with_attributes(dataschema="http://s/1", datacontenttype="text/plain; q=1")
    spec = {"filters": [{"exact": {"schemaurl": "http://s/1"}}, {"exact": {"datamediatype": "x"}}]}
    found = rejection(spec, ev)
    assert (found.path, found.actual) == ("spec.filters[1].exact.datamediatype", "text/plain")


# -- the explanation agrees with the compiled filters ------------------------------------

CESQL = st.one_of(
    st.sampled_from(
        [
            "type = 'a'",
            "source LIKE 'a%'",
            "EXISTS subject AND x = 'b'",
            "INT(x) > 10",
            "ext1 IN ('a', 'ab', 1)",
            "NOT (subject = 'ab')",
            "LENGTH(type) = 2 OR x",
        ]
    ),
    EXPRESSIONS,
)


def _leaf(dialect: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda k, v: {dialect: {k: v}}, NAMES, TEXTS)


LEAVES = st.one_of(
    _leaf("exact"), _leaf("prefix"), _leaf("suffix"), CESQL.map(lambda e: {"cesql": e})
)
FILTERS = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda fs: {"all": fs}),
        st.lists(inner, min_size=1, max_size=3).map(lambda fs: {"any": fs}),
        inner.map(lambda f: {"not": f}),
    ),
    max_leaves=8,
)
SPECS = st.one_of(
    st.lists(FILTERS, max_size=3).map(lambda fs: {"filters": fs}),
    CESQL.map(lambda e: {"filters": [{"cesql": e}]}),
    st.dictionaries(NAMES, st.one_of(TEXTS, st.just("")), max_size=3).map(
        lambda a: {"filter": {"attributes": a}}
    ),
    st.tuples(st.dictionaries(NAMES, TEXTS, max_size=2), st.lists(FILTERS, max_size=2)).map(
        lambda t: {"filter": {"attributes": t[0]}, "filters": t[1]}
    ),
)


def _valid(spec: dict[str, Any]) -> Trigger | None:
    from kawa.errors import ValidationError

    try:
        return trigger(**spec)
    except ValidationError:
        return None  # an expression from the grammar that admission refuses (too deep)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SPECS, st.lists(ATTRIBUTE_SETS, min_size=1, max_size=6))
def test_the_explanation_agrees_with_the_compiled_filter(
    spec: dict[str, Any], attribute_sets: list[dict[str, AttributeValue]]
) -> None:
    parsed = _valid(spec)
    if parsed is None:
        return
    compiled = compile_trigger(parsed)
    for attrs in attribute_sets:
        ev = as_event(attrs)
        explained = explain_trigger(parsed, ev)
        assert explained.matched is compiled(ev), (spec, attrs, explained)
        assert (explained.rejection is None) is explained.matched
        if explained.rejection is not None:
            _check_rejection(explained.rejection, parsed, ev)
            observe(f"rejected by {explained.rejection.dialect}")
        else:
            observe(f"matched ({explained.filters or 'no filters'})")


def _check_rejection(found: Rejection, parsed: Trigger, ev: CloudEvent) -> None:
    """The path leads to a filter in the Trigger; its values are the filter's and the event's."""
    node: Any = parsed.spec.model_dump(by_alias=True, exclude_none=True)
    for step in found.path.removeprefix("spec.").replace("[", ".").replace("]", "").split("."):
        node = node[int(step)] if step.isdigit() else node[step]
    if found.attribute is not None:
        assert node == found.expected
        assert found.path.endswith(f".{found.attribute}")
        raw = ev.attributes.get(found.attribute)
        assert (raw is None) is (found.actual is None) or found.attribute in ("datamediatype",)
    if found.dialect == "cesql":
        assert found.cesql is not None
        assert node == found.cesql.expression
        assert not found.cesql.matched
    for alternative in found.alternatives:
        _check_rejection(alternative, parsed, ev)
