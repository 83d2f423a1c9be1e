"""A JSON Schema of events' ``data``, inferred from the events seen: what kawa adds to the
EventTypes it creates (``eventtype-auto-create``), so a consumer can see the shape of an
event type's data before writing a Trigger for it.

:func:`infer` gives the schema of one JSON value; :func:`merge` the schema both of two
schemas accept (types united, ``integer`` within ``number``; an object's ``properties`` united
and ``required`` only what every object had; an array's ``items`` merged). Both are bounded:
objects keep at most :data:`MAX_PROPERTIES` properties, nesting stops at :data:`MAX_DEPTH`
(deeper values are described by their type only), arrays are sampled on their first
:data:`MAX_ITEMS` items, so a large or hostile event costs a bounded amount of work and gives
a bounded schema; :func:`bounded` keeps a whole schema within :data:`MAX_NODES`, and
:func:`valid` says whether a schema read back has the shape kawa writes. :func:`document` adds
the ``$schema`` keyword (JSON Schema 2020-12). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

MAX_DEPTH: Final = 8
MAX_PROPERTIES: Final = 64
MAX_ITEMS: Final = 16
MAX_NODES: Final = 256
"""Schemas (sub-schemas counted) one whole schema holds at most: :func:`bounded` cuts deeper
levels off until it fits (64 properties at each of 8 levels would otherwise be unbounded)."""
DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"

Schema = dict[str, Any]


def _type_of(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return "string"  # nothing else comes out of a JSON parser


def infer(value: object, depth: int = 0) -> Schema:
    """The schema of one JSON value (see the module docstring for the bounds)."""
    kind = _type_of(value)
    schema: Schema = {"type": kind}
    if depth >= MAX_DEPTH:
        return schema
    if isinstance(value, list):
        items: Schema | None = None
        for item in value[:MAX_ITEMS]:
            one = infer(item, depth + 1)
            items = one if items is None else merge(items, one, depth + 1)
        if items is not None:
            schema["items"] = items
    elif isinstance(value, Mapping):
        properties: Schema = {}
        for key, item in value.items():
            if len(properties) >= MAX_PROPERTIES:
                break
            properties[str(key)] = infer(item, depth + 1)
        schema["properties"] = properties
        schema["required"] = sorted(properties)
    return schema


def _types(schema: Mapping[str, Any]) -> set[str]:
    given = schema.get("type")
    if isinstance(given, str):
        return {given}
    if isinstance(given, list):
        return {str(t) for t in given}
    return set()


def merge(a: Mapping[str, Any], b: Mapping[str, Any], depth: int = 0) -> Schema:
    """A schema that accepts what ``a`` or ``b`` accepts (see the module docstring)."""
    types = _types(a) | _types(b)
    if "number" in types:
        types.discard("integer")
    out: Schema = {"type": next(iter(types)) if len(types) == 1 else sorted(types)}
    if depth >= MAX_DEPTH:
        return out
    if "object" in types:
        objects = [s for s in (a, b) if "object" in _types(s)]
        properties: Schema = {}
        for side in objects:
            for key, sub in (side.get("properties") or {}).items():
                if key in properties:
                    properties[key] = merge(properties[key], sub, depth + 1)
                elif len(properties) < MAX_PROPERTIES:
                    properties[key] = dict(sub)
        required = set(properties)
        for side in objects:
            required &= set(side.get("required") or ())
        out["properties"] = properties
        out["required"] = sorted(required)
    if "array" in types:
        items = [s["items"] for s in (a, b) if "array" in _types(s) and "items" in s]
        if len(items) == 2:
            out["items"] = merge(items[0], items[1], depth + 1)
        elif items:
            out["items"] = dict(items[0])
    return out


def nodes(schema: Mapping[str, Any]) -> int:
    """How many schemas ``schema`` holds, itself included."""
    count = 1
    for sub in (schema.get("properties") or {}).values():
        count += nodes(sub) if isinstance(sub, Mapping) else 1
    items = schema.get("items")
    if isinstance(items, Mapping):
        count += nodes(items)
    return count


def _cut(schema: Mapping[str, Any], depth: int) -> Schema:
    out: Schema = {"type": schema.get("type", "object")}
    if depth <= 0:
        return out
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        kept: Schema = {
            k: _cut(v, depth - 1) if isinstance(v, Mapping) else {"type": "string"}
            for k, v in properties.items()
        }
        out["properties"] = kept
        out["required"] = [r for r in schema.get("required") or () if r in kept]
    items = schema.get("items")
    if isinstance(items, Mapping):
        out["items"] = _cut(items, depth - 1)
    return out


def bounded(schema: Mapping[str, Any]) -> Schema:
    """``schema`` with its deepest levels cut off until it holds at most :data:`MAX_NODES`
    schemas (a cut sub-schema keeps its type)."""
    depth = MAX_DEPTH
    out = _cut(schema, depth)
    while nodes(out) > MAX_NODES and depth > 0:
        depth -= 1
        out = _cut(schema, depth)
    return out


def valid(value: object, depth: int = 0) -> bool:
    """Whether ``value`` has the shape :func:`infer` and :func:`merge` make (a schema read back
    from an object anyone may write is merged only then)."""
    if not isinstance(value, Mapping) or depth > MAX_DEPTH + 1:
        return False
    given = value.get("type")
    if not (
        isinstance(given, str)
        or (isinstance(given, list) and given and all(isinstance(t, str) for t in given))
    ):
        return False
    properties = value.get("properties", {})
    if not isinstance(properties, Mapping) or not all(
        isinstance(k, str) and valid(v, depth + 1) for k, v in properties.items()
    ):
        return False
    required = value.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        return False
    return "items" not in value or valid(value["items"], depth + 1)


def document(schema: Mapping[str, Any]) -> Schema:
    """``schema`` as a whole JSON Schema document (with ``$schema``)."""
    return {"$schema": DIALECT, **schema}
