"""The framework pieces the built-in kinds need: rules on the raw value reported together with
type errors (:class:`RawChecked`), Kubernetes' scalar types, and merge keys of a status."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any

import pytest

from kawa.apis.kinds import ResourceKind
from kawa.apis.model import KubeObject, MergeKey, Model, RawChecked, doc
from kawa.apis.model.base import Context
from kawa.apis.model.openapi import schema_of
from kawa.apis.model.parse import validate
from kawa.apis.model.types import Base64Bytes, DnsLabel, IntOrString, Quantity
from kawa.errors import FieldError


class Item(Model):
    """An item."""

    name: Annotated[DnsLabel, doc("The item's name.")]
    size: Annotated[int, doc("A size.", ge=0)] = 0


class Box(RawChecked):
    """Items, and the name of one of them."""

    items: Annotated[list[Item], doc("The items.")] = []
    pick: Annotated[str, doc("The name of an item.")] = ""

    @classmethod
    def check_raw(cls, data: Mapping[str, Any]) -> Iterable[FieldError]:
        items = data.get("items")
        names = (
            {i.get("name") for i in items if isinstance(i, Mapping)}
            if isinstance(items, list)
            else set()
        )
        if isinstance(data.get("pick"), str) and data["pick"] not in names:
            yield FieldError("pick", f"no item is called {data['pick']!r}")
        if isinstance(items, list) and len(items) > 1:
            yield FieldError("items[1].name", "only one item fits")


def errors_of(value: Any) -> list[tuple[str, str]]:
    errors: list[FieldError] = []
    validate(Box, value, errors, ctx=Context(), path="spec")
    return [(e.path, e.message) for e in errors]


def test_raw_rules_are_reported_with_the_type_errors() -> None:
    found = errors_of({"items": [{"name": "a", "size": -1}, {"name": "B"}], "pick": "c"})
    assert found == [
        ("spec.items[0].size", "invalid value -1: must be greater than or equal to 0"),
        (
            "spec.items[1].name",
            "invalid value 'B': a lowercase RFC 1123 label must consist of lower case "
            "alphanumeric characters or '-', and must start and end with an alphanumeric "
            "character (e.g. 'my-name' or '123-abc')",
        ),
        ("spec.pick", "no item is called 'c'"),
        ("spec.items[1].name", "only one item fits"),
    ]


def test_raw_rules_alone_and_a_valid_value() -> None:
    assert errors_of({"items": [{"name": "a"}], "pick": "z"}) == [
        ("spec.pick", "no item is called 'z'")
    ]
    errors: list[FieldError] = []
    box = validate(Box, {"items": [{"name": "a"}], "pick": "a"}, errors, ctx=Context())
    assert errors == []
    assert box is not None
    assert box.items[0].name == "a"
    # a typed view built in code is not checked (as Model.check is not)
    assert Box(items=[Item(name="a")], pick="b").pick == "b"


class Scalars(Model):
    """Kubernetes' scalar types."""

    port: Annotated[IntOrString | None, doc("A port.")] = None
    amount: Annotated[Quantity | None, doc("An amount.")] = None
    blob: Annotated[Base64Bytes | None, doc("Some bytes.")] = None
    blobs: Annotated[dict[str, Base64Bytes] | None, doc("Bytes by key.")] = None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"port": 8080, "amount": "100m", "blob": "AAE="}, (8080, "100m", b"\x00\x01")),
        ({"port": "http", "amount": 2}, ("http", 2, None)),
    ],
)
def test_scalars_accept(value: dict[str, Any], expected: tuple[Any, ...]) -> None:
    errors: list[FieldError] = []
    parsed = validate(Scalars, value, errors, ctx=Context())
    assert parsed is not None, errors
    assert (parsed.port, parsed.amount, parsed.blob) == expected


def test_scalars_refuse() -> None:
    errors: list[FieldError] = []
    validate(Scalars, {"port": True, "amount": [1], "blob": "%%"}, errors, ctx=Context())
    assert {e.path: e.message for e in errors} == {
        "port": "expected an integer or a string, got a boolean",
        "amount": "expected a quantity (a number or a string), got a list",
        "blob": "invalid value: expected base64-encoded data",
    }


def test_scalars_schemas() -> None:
    properties = schema_of(Scalars)["properties"]
    assert properties["port"]["format"] == "int-or-string"
    assert properties["blob"] == {
        "type": "string",
        "format": "byte",
        "description": "Some bytes.",
    }
    assert properties["blobs"]["additionalProperties"]["format"] == "byte"


class Condition(Model):
    """A condition."""

    type: Annotated[str, doc("Its type.")]


class ThingStatus(Model):
    """A status."""

    conditions: Annotated[list[Condition], doc("Conditions."), MergeKey("type")] = []


class Thing(KubeObject):
    """A thing."""

    items: Annotated[list[Item], doc("Items."), MergeKey("name")] = []
    owner: Annotated[str, doc("Who owns the thing.")]


def test_a_kind_s_merge_keys_and_required_fields() -> None:
    rk = ResourceKind(
        group="example.com",
        versions=("v1",),
        kind="Thing",
        plural="things",
        singular="thing",
        namespaced=True,
        model=Thing,
        status=ThingStatus,
    )
    assert rk.strategic_merge_keys == {"items": "name", "status.conditions": "type"}
    # the kind's schema keeps its required top-level fields (not the header's metadata)
    assert rk.schema is not None
    assert rk.schema["required"] == ["owner"]
