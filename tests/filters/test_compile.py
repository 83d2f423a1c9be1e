from __future__ import annotations

from typing import Any

import pytest

from kawa.apis.eventing import Trigger, parse_trigger, trigger_filters
from kawa.errors import ValidationError
from kawa.filters import (
    compile,
    compile_filter,
    compile_filters,
    compile_trigger,
    match_all,
    parse_filters,
)

from .events import event


def trigger(**spec: Any) -> Trigger:
    return parse_trigger(
        {
            "apiVersion": "eventing.knative.dev/v1",
            "kind": "Trigger",
            "metadata": {"name": "t", "namespace": "default"},
            "spec": {"broker": "default", "subscriber": {"uri": "http://s.example/"}, **spec},
        }
    )


def test_no_filter_matches_everything() -> None:
    assert compile_trigger(trigger()) is match_all
    assert compile_trigger(trigger(filter={})) is match_all
    assert compile_trigger(trigger(filter={"attributes": {}})) is match_all


def test_attributes_filter() -> None:
    f = compile_trigger(trigger(filter={"attributes": {"type": "dev.knative.example"}}))
    assert f(event())
    assert not f(event(type="other"))


def test_non_empty_filters_override_filter() -> None:
    f = compile_trigger(
        trigger(
            filter={"attributes": {"type": "never.matches"}},
            filters=[{"prefix": {"type": "dev."}}],
        )
    )
    assert f(event())


def test_empty_filters_do_not_override_filter() -> None:
    f = compile_trigger(trigger(filter={"attributes": {"type": "never.matches"}}, filters=[]))
    assert not f(event())


def test_filters_are_anded() -> None:
    f = compile_trigger(
        trigger(filters=[{"prefix": {"type": "dev."}}, {"suffix": {"source": "/other"}}])
    )
    assert not f(event())
    assert f(event(source="/the/other"))


def test_nested_dialects() -> None:
    f = compile_trigger(
        trigger(
            filters=[
                {
                    "any": [
                        {"exact": {"type": "order.created"}},
                        {
                            "all": [
                                {"prefix": {"type": "order."}},
                                {"not": {"suffix": {"type": ".deleted"}}},
                                {"exact": {"priority": "1"}},
                            ]
                        },
                    ]
                },
                {"not": {"exact": {"source": "/test"}}},
            ]
        )
    )
    assert f(event(type="order.created"))
    assert not f(event(type="order.created", source="/test"))
    assert f(event(type="order.updated", priority=1))
    assert not f(event(type="order.updated", priority=2))
    assert not f(event(type="order.updated"))
    assert not f(event(type="order.deleted", priority=1))
    assert not f(event(type="invoice.created", priority=1))


def test_cesql_filters_match_and_invalid_ones_are_refused() -> None:
    f = compile_filters(parse_filters([{"cesql": "type LIKE 'order.%' AND priority > 1"}]))
    assert f(event(type="order.created", priority=2))
    assert not f(event(type="order.created", priority=1))
    assert not f(event(type="order.created"))  # missing attribute: an error, so no match
    assert not f(event(type="invoice", priority=5))
    nested = compile_filters(parse_filters([{"not": {"cesql": "subject = 'x'"}}]))
    assert nested(event(subject="y"))
    with pytest.raises(ValidationError) as info:
        parse_filters([{"cesql": "type = = 'x'"}], path="spec.filters")
    ((path, message),) = [(e.path, e.message) for e in info.value.errors]
    assert path == "spec.filters[0].cesql"
    assert message.startswith("invalid CloudEvents SQL expression: ")
    assert "1:" in message  # the position of the parse error


def test_compile_filter_validates_its_input() -> None:
    assert compile_filter({"exact": {"type": "dev.knative.example"}})(event())
    with pytest.raises(ValidationError) as info:
        compile_filter({"exact": {"type": "a"}, "suffix": {"type": "b"}})
    assert info.value.errors[0].path == "filter"
    with pytest.raises(ValidationError):
        compile_filter({"nope": {}})


def test_every_declared_dialect_has_a_compiler() -> None:
    """Adding a dialect is one field of the declaration plus one compiler."""
    assert set(compile.COMPILERS) == set(trigger_filters.DIALECTS)
