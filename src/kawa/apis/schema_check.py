"""Unknown fields against a kind's OpenAPI schema (generated from its declaration), for the
API server's ``fieldValidation`` modes.

:func:`unknown_fields` lists the fields a schema does not declare (``spec.brokr``, ``datta``),
for ``fieldValidation=Strict`` (an error) or ``Warn``/``Ignore`` (pruned with :func:`prune`,
at the places :func:`unknown_field_places` gives).
A level declares its fields with ``properties`` or ``additionalProperties``;
``x-kubernetes-preserve-unknown-fields`` keeps anything below it. Everything else about an
object is checked by its declaration (:mod:`kawa.apis.model`).

Pure functions on plain data; the API server calls them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

Schema = Mapping[str, Any]

_PRESERVE: Final = "x-kubernetes-preserve-unknown-fields"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _resolve(schema: Schema, refs: Mapping[str, Schema]) -> Schema:
    """Follow ``$ref`` / single ``allOf`` indirections (how OpenAPI points at ObjectMeta)."""
    for _ in range(8):
        if "$ref" in schema:
            schema = refs.get(str(schema["$ref"]).rsplit("/", 1)[-1], {})
        elif isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1:
            schema = schema["allOf"][0]
        else:
            break
    return schema


Part = str | int
"""One step of a field's place: a key of an object (a field or a map key), or a list index."""


def unknown_fields(
    value: Any, schema: Schema, path: str = "", refs: Mapping[str, Schema] | None = None
) -> list[str]:
    """The paths of fields in ``value`` that ``schema`` does not declare."""
    return [text for text, _ in unknown_field_places(value, schema, path, refs)]


def unknown_field_places(
    value: Any, schema: Schema, path: str = "", refs: Mapping[str, Schema] | None = None
) -> list[tuple[str, tuple[Part, ...]]]:
    """Each field of ``value`` that ``schema`` does not declare: its path as text (for
    messages) and its place as keys and indexes (for :func:`prune`, which must not read the
    text back: a key may be empty or hold ``.`` and ``[``)."""
    out: list[tuple[str, tuple[Part, ...]]] = []
    _walk(value, schema, path, (), refs or {}, out)
    return out


def _walk(
    value: Any,
    schema: Schema,
    path: str,
    place: tuple[Part, ...],
    refs: Mapping[str, Schema],
    out: list[tuple[str, tuple[Part, ...]]],
) -> None:
    schema = _resolve(schema, refs)
    if schema.get(_PRESERVE):
        return
    if isinstance(value, Mapping):
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        if properties is None and extra is None:
            return
        for key, item in value.items():
            if isinstance(properties, Mapping) and key in properties:
                _walk(item, properties[key], _join(path, key), (*place, key), refs, out)
            elif isinstance(extra, Mapping):
                _walk(item, extra, f"{path}[{key}]", (*place, key), refs, out)
            elif extra is True:
                continue
            else:
                out.append((_join(path, str(key)), (*place, key)))
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            _walk(item, schema["items"], f"{path}[{i}]", (*place, i), refs, out)


def prune(value: Any, places: list[tuple[Part, ...]]) -> None:
    """Remove the fields :func:`unknown_field_places` found (in place; list items included)."""
    for place in places:
        _remove(value, place)


_MISSING: Final = object()


def _child(value: Any, part: Part) -> Any:
    if isinstance(value, Mapping):
        return value.get(part, _MISSING)
    if isinstance(value, list) and isinstance(part, int) and part < len(value):
        return value[part]
    return _MISSING


def _remove(value: Any, place: tuple[Part, ...]) -> None:
    if not place:
        return
    for part in place[:-1]:
        value = _child(value, part)
        if value is _MISSING:
            return
    if isinstance(value, dict):
        value.pop(place[-1], None)


_TYPES: Final = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}
