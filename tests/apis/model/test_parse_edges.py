"""The parser's edges: nulls are absent fields, and nesting has a bound that answers with a
field error (never a RecursionError or the JSON parser's own message)."""

from __future__ import annotations

import itertools
import time
from typing import Annotated, Any

import pytest

from kawa.apis.model.base import Context, Model, doc
from kawa.apis.model.parse import MAX_DEPTH, validate
from kawa.apis.model.types import FreeForm, StringMap
from kawa.apis.registry import SCHEME, TRIGGER
from kawa.errors import FieldError, ValidationError


class Holder(Model):
    """A made-up object with a free-form field."""

    name: Annotated[str, doc("A name.")] = "x"
    free: Annotated[FreeForm | None, doc("Anything.")] = None


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": True}
    for _ in range(depth):
        value = {"x": value}
    return value


class Labelled(Model):
    """A made-up object with a map."""

    labels: Annotated[StringMap | None, doc("Labels.")] = None


def test_null_fields_are_absent_but_free_form_content_is_kept() -> None:
    errors: list[FieldError] = []
    parsed = validate(Holder, {"name": None, "free": {"a": None}}, errors, ctx=Context())
    assert errors == []
    assert parsed == Holder(name="x", free={"a": None})


def test_a_null_map_value_is_refused_not_read_as_absent() -> None:
    errors: list[FieldError] = []
    assert validate(Labelled, {"labels": {"type": None}}, errors, ctx=Context()) is None
    assert errors == [FieldError("labels[type]", "expected a string, got null")]


def test_stored_objects_lose_their_null_fields() -> None:
    trigger: dict[str, Any] = {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Trigger",
        "metadata": {"name": "t", "namespace": "default", "labels": None},
        "spec": {"broker": "b", "subscriber": {"uri": "http://x/", "ref": None}, "delivery": None},
    }
    stored = TRIGGER.default(trigger)
    assert "delivery" not in stored["spec"]
    assert stored["spec"]["subscriber"] == {"uri": "http://x/"}
    assert stored["metadata"]["labels"] == {"eventing.knative.dev/broker": "b"}
    TRIGGER.validate(stored)
    bad = dict(trigger, spec={**trigger["spec"], "filter": {"attributes": {"type": None}}})
    with pytest.raises(ValidationError) as info:
        TRIGGER.validate(bad)
    assert [(e.path, e.message) for e in info.value.errors] == [
        ("spec.filter.attributes[type]", "expected a string, got null")
    ]


def test_many_errors_cost_linear_time() -> None:
    configmap = SCHEME.resolve("configmaps")
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "default"},
        "data": {f"k{i}": i for i in range(30_000)},
    }
    started = time.monotonic()
    with pytest.raises(ValidationError) as info:
        configmap.parse(obj)
    assert len(info.value.errors) == 30_000
    assert time.monotonic() - started < 5.0  # ~0.3 s here; quadratic was minutes


def test_values_up_to_the_bound_are_accepted_with_or_without_nulls() -> None:
    for extra in ({}, {"gone": None}):
        errors: list[FieldError] = []
        value = {"free": nested(MAX_DEPTH - 1), **extra}  # the leaf object is at MAX_DEPTH
        assert validate(Holder, value, errors, ctx=Context()) is not None
        assert errors == []


def test_too_deep_values_get_a_field_error_at_their_path() -> None:
    for depth, extra in itertools.product((MAX_DEPTH, 300, 2000), ({}, {"gone": None})):
        errors: list[FieldError] = []
        value = {"free": nested(depth), **extra}
        assert validate(Holder, value, errors, path="spec", ctx=Context()) is None
        ((error),) = errors
        assert error.path.startswith("spec.free.x.x.x")
        assert error.message == f"nested too deeply (more than {MAX_DEPTH} levels)"
