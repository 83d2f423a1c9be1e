"""The JSON Schema kawa infers from events' data (kawa.cloudevents.data_schema): a schema
inferred from values accepts each of them (checked with the ``jsonschema`` validator, for
generated JSON values), merging keeps only what every object had as required, integers fold
into numbers, and the bounds hold for large and deep values."""

from __future__ import annotations

from typing import Any

import jsonschema
from hypothesis import given
from hypothesis import strategies as st

from kawa.cloudevents import data_schema

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


def accepts(schema: dict[str, Any], value: object) -> bool:
    try:
        jsonschema.validate(value, data_schema.document(schema))
    except jsonschema.ValidationError:
        return False
    return True


@given(JSON, JSON)
def test_a_merged_schema_accepts_every_value_it_was_made_from(a: object, b: object) -> None:
    one, other = data_schema.infer(a), data_schema.infer(b)
    assert accepts(one, a)
    merged = data_schema.merge(one, other)
    assert accepts(merged, a)
    assert accepts(merged, b)
    jsonschema.Draft202012Validator.check_schema(data_schema.document(merged))


def test_objects_merge_their_properties_and_keep_what_all_of_them_required() -> None:
    first = data_schema.infer({"id": 1, "total": 2, "tags": ["a"]})
    second = data_schema.infer({"id": 2, "total": 2.5, "note": None})
    merged = data_schema.merge(first, second)
    assert merged == {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "total": {"type": "number"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "note": {"type": "null"},
        },
        "required": ["id", "total"],
    }
    assert not accepts(merged, {"total": 1})  # id was in every event
    assert not accepts(merged, {"id": "x", "total": 1})


def test_different_types_become_a_union() -> None:
    merged = data_schema.merge(data_schema.infer("a"), data_schema.infer({"k": 1}))
    assert merged["type"] == ["object", "string"]
    assert merged["required"] == ["k"]
    assert accepts(merged, "b")
    assert not accepts(merged, 3)


def test_large_and_deep_values_give_a_bounded_schema() -> None:
    wide = {f"p{i}": i for i in range(1000)}
    assert len(data_schema.infer(wide)["properties"]) == data_schema.MAX_PROPERTIES
    deep: object = 1
    for _ in range(100):
        deep = {"d": deep}
    schema = data_schema.infer(deep)
    levels = 0
    while "properties" in schema:
        schema = schema["properties"]["d"]
        levels += 1
    assert levels == data_schema.MAX_DEPTH
    long = data_schema.infer([*range(10_000), "x"])
    assert long["items"] == {"type": "integer"}  # sampled on the first items only
