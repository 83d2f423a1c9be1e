"""AS_WRITTEN: a built-in part embedded in a custom resource keeps its defaults out of the
stored object and the schema, while the typed view still reads them."""

from __future__ import annotations

from typing import Annotated, Any

from kawa.apis.model import AS_WRITTEN, STORED, Model, doc
from kawa.apis.model.base import Context
from kawa.apis.model.defaults import apply_defaults
from kawa.apis.model.openapi import schema_of
from kawa.apis.model.parse import validate
from kawa.errors import FieldError


class Part(Model):
    """A built-in part with a default of its own."""

    policy: Annotated[str, doc("A policy."), STORED] = "Always"


class Holder(Model):
    """Holds the part twice: as the built-in kind would, and as a custom resource does."""

    own: Annotated[Part | None, doc("Defaulted as usual.")] = None
    embedded: Annotated[Part | None, doc("Kept as written."), AS_WRITTEN] = None
    many: Annotated[list[Part], doc("Kept as written, each."), AS_WRITTEN] = []
    name: Annotated[str, doc("Still defaulted."), STORED] = "n"


def test_defaults_are_not_written_into_an_as_written_part() -> None:
    data: dict[str, Any] = {"own": {}, "embedded": {}, "many": [{}]}
    apply_defaults(Holder, data, Context())
    assert data == {"own": {"policy": "Always"}, "embedded": {}, "many": [{}], "name": "n"}
    errors: list[FieldError] = []
    parsed = validate(Holder, data, errors, ctx=Context())
    assert errors == []
    assert parsed is not None
    assert parsed.embedded is not None
    assert parsed.embedded.policy == "Always"  # the typed view reads the declared default


def test_the_schema_shows_no_defaults_inside_an_as_written_part() -> None:
    properties = schema_of(Holder)["properties"]
    assert properties["own"]["properties"]["policy"]["default"] == "Always"
    assert "default" not in properties["embedded"]["properties"]["policy"]
    assert "default" not in properties["many"]["items"]["properties"]["policy"]
    assert properties["name"]["default"] == "n"
