"""Unknown fields against a kind's OpenAPI schema (generated from its declaration), for the
API server's ``fieldValidation`` modes.

:func:`unknown_fields` lists the fields a schema does not declare (``spec.brokr``, ``datta``),
for ``fieldValidation=Strict`` (an error) or ``Warn``/``Ignore`` (pruned with :func:`prune`).
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


def unknown_fields(
    value: Any, schema: Schema, path: str = "", refs: Mapping[str, Schema] | None = None
) -> list[str]:
    """The paths of fields in ``value`` that ``schema`` does not declare."""
    refs = refs or {}
    schema = _resolve(schema, refs)
    if schema.get(_PRESERVE):
        return []
    out: list[str] = []
    if isinstance(value, Mapping):
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        if properties is None and extra is None:
            return []
        for key, item in value.items():
            if isinstance(properties, Mapping) and key in properties:
                out += unknown_fields(item, properties[key], _join(path, key), refs)
            elif isinstance(extra, Mapping):
                out += unknown_fields(item, extra, f"{path}[{key}]", refs)
            elif extra is True:
                continue
            else:
                out.append(_join(path, str(key)))
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            out += unknown_fields(item, schema["items"], f"{path}[{i}]", refs)
    return out


def prune(value: Any, paths: list[str]) -> None:
    """Remove the fields :func:`unknown_fields` found (in place; list items included)."""
    for path in paths:
        _remove(value, _split(path))


def _split(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for chunk in path.replace("]", "").split("."):
        head, *indexes = chunk.split("[")
        if head:
            parts.append(head)
        parts.extend(int(i) if i.isdigit() else i for i in indexes)
    return parts


_MISSING: Final = object()


def _child(value: Any, part: str | int) -> Any:
    if isinstance(value, Mapping):
        return value.get(part, _MISSING)
    if isinstance(value, list) and isinstance(part, int) and part < len(value):
        return value[part]
    return _MISSING


def _remove(value: Any, parts: list[str | int]) -> None:
    for part in parts[:-1]:
        value = _child(value, part)
        if value is _MISSING:
            return
    if isinstance(value, dict):
        value.pop(parts[-1], None)


_TYPES: Final = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}
