"""The parser's edges: nulls are absent fields, and nesting has a bound that answers with a
field error (never a RecursionError or the JSON parser's own message)."""

from __future__ import annotations

import itertools
from typing import Annotated, Any

from kawa.apis.model.base import Context, Model, doc
from kawa.apis.model.parse import MAX_DEPTH, validate
from kawa.apis.model.types import FreeForm
from kawa.errors import FieldError


class Holder(Model):
    """A made-up object with a free-form field."""

    name: Annotated[str, doc("A name.")] = "x"
    free: Annotated[FreeForm | None, doc("Anything.")] = None


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": True}
    for _ in range(depth):
        value = {"x": value}
    return value


def test_null_fields_are_absent() -> None:
    errors: list[FieldError] = []
    parsed = validate(Holder, {"name": None, "free": {"a": None}}, errors, ctx=Context())
    assert errors == []
    assert parsed == Holder(name="x", free={})


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
