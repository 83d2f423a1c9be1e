"""Readers and schema builders shared by the built-in Kubernetes kinds (core and rbac).

The readers append a :class:`~kawa.errors.FieldError` instead of raising, like those of
:mod:`kawa.apis.meta`, so a kind's parser reports every problem at once; the ``s_*``
builders write the OpenAPI v3 fragments of the kinds' ``SCHEMA`` values in one line each.
Called by :mod:`kawa.apis.core` and :mod:`kawa.apis.rbac` modules only.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from kawa.apis import meta
from kawa.errors import FieldError, ValidationError

read_bool = meta.read_bool
read_int = meta.read_int


Schema = dict[str, Any]


def copy_object(obj: Mapping[str, Any]) -> meta.Object:
    """A deep copy of ``obj`` as a plain dict (what every ``default_*`` starts from)."""
    return copy.deepcopy(dict(obj))


def check_header(
    obj: Mapping[str, Any],
    api_version: str,
    kind: str,
    errors: list[FieldError],
    *,
    namespaced: bool,
) -> None:
    """``apiVersion``, ``kind`` and ``metadata`` of a built-in kind."""
    if obj.get("apiVersion") != api_version:
        errors.append(
            FieldError("apiVersion", f"expected {api_version}, got {obj.get('apiVersion')!r}")
        )
    if obj.get("kind") != kind:
        errors.append(FieldError("kind", f"expected {kind}, got {obj.get('kind')!r}"))
    errors.extend(meta.validate_metadata(obj.get("metadata"), namespaced=namespaced))


def subject(kind: str, obj: Mapping[str, Any], *, namespaced: bool = True) -> str:
    """How an object is named in a ValidationError (``"Namespace dev"`` for cluster kinds)."""
    if namespaced:
        return meta.subject_of(kind, obj)
    name = meta.metadata_of(obj).get("name")
    return f"{kind} {name if isinstance(name, str) and name else '?'}"


def raise_if(
    errors: list[FieldError], kind: str, obj: Mapping[str, Any], *, namespaced: bool
) -> None:
    """Raise the aggregated :class:`ValidationError` when ``errors`` is not empty."""
    if errors:
        raise ValidationError(errors, subject=subject(kind, obj, namespaced=namespaced))


def name_of(obj: Mapping[str, Any]) -> str:
    name = meta.metadata_of(obj).get("name")
    return name if isinstance(name, str) else ""


def uid_of(obj: Mapping[str, Any]) -> str:
    uid = meta.metadata_of(obj).get("uid")
    return uid if isinstance(uid, str) else ""


def read_list(
    parent: Mapping[str, Any], key: str, path: str, errors: list[FieldError]
) -> list[Any] | None:
    """``parent[key]`` when it is a list; ``None`` when absent (or wrong, recorded)."""
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        errors.append(FieldError(path, f"expected a list, got {meta.type_name(value)}"))
        return None
    return value


def read_mappings(
    parent: Mapping[str, Any], key: str, path: str, errors: list[FieldError]
) -> list[tuple[str, Mapping[str, Any]]]:
    """The items of the list ``parent[key]`` that are mappings, each with its path."""
    items = read_list(parent, key, path, errors) or []
    out: list[tuple[str, Mapping[str, Any]]] = []
    for i, item in enumerate(items):
        if isinstance(item, Mapping):
            out.append((f"{path}[{i}]", item))
        else:
            errors.append(
                FieldError(f"{path}[{i}]", f"expected a mapping, got {meta.type_name(item)}")
            )
    return out


def read_str_list(
    parent: Mapping[str, Any], key: str, path: str, errors: list[FieldError]
) -> tuple[str, ...]:
    """``parent[key]`` as a tuple of strings; each non-string item is recorded."""
    items = read_list(parent, key, path, errors) or []
    out: list[str] = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            out.append(item)
        else:
            errors.append(
                FieldError(f"{path}[{i}]", f"expected a string, got {meta.type_name(item)}")
            )
    return tuple(out)


def read_enum(
    parent: Mapping[str, Any],
    key: str,
    path: str,
    errors: list[FieldError],
    allowed: Sequence[str],
) -> str | None:
    """``parent[key]`` when it is one of ``allowed``."""
    value = meta.read_str(parent, key, path, errors)
    if value is not None and value not in allowed:
        errors.append(
            FieldError(
                path,
                f"unsupported value {value!r}: supported values: "
                + ", ".join(f'"{a}"' for a in allowed),
            )
        )
        return None
    return value


def dns_label(value: str | None, path: str, errors: list[FieldError]) -> None:
    if value is not None:
        errors.extend(
            FieldError(path, f"invalid value {value!r}: {p}")
            for p in meta.dns1123_label_errors(value)
        )


def dns_subdomain(value: str | None, path: str, errors: list[FieldError]) -> None:
    if value is not None:
        errors.extend(
            FieldError(path, f"invalid value {value!r}: {p}")
            for p in meta.dns1123_subdomain_errors(value)
        )


def immutable(old: Any, new: Any, path: str, errors: list[FieldError]) -> None:
    """Record a change of an immutable field."""
    if old != new:
        errors.append(FieldError(path, "field is immutable"))


def first_differences(old: Any, new: Any, path: str, limit: int = 10) -> list[str]:
    """The paths (at most ``limit``) where ``old`` and ``new`` differ, deepest first found."""
    found: list[str] = []
    _diff(old, new, path, found, limit)
    return found


def _diff(old: Any, new: Any, path: str, found: list[str], limit: int) -> None:
    if len(found) >= limit or old == new:
        return
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted({*old, *new}, key=str):
            _diff(old.get(key), new.get(key), meta.join(path, str(key)), found, limit)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _diff(a, b, f"{path}[{i}]", found, limit)
    else:
        found.append(path)


# -- OpenAPI v3 schema fragments -------------------------------------------------------------


def s_str(description: str, *, enum: Sequence[str] = (), fmt: str = "") -> Schema:
    out: Schema = {"type": "string", "description": description}
    if enum:
        out["enum"] = list(enum)
    if fmt:
        out["format"] = fmt
    return out


def s_time(description: str) -> Schema:
    return s_str(description, fmt="date-time")


def s_int(description: str, *, minimum: int | None = None, maximum: int | None = None) -> Schema:
    out: Schema = {"type": "integer", "description": description}
    if minimum is not None:
        out["minimum"] = minimum
    if maximum is not None:
        out["maximum"] = maximum
    return out


def s_bool(description: str) -> Schema:
    return {"type": "boolean", "description": description}


def s_any(description: str) -> Schema:
    """An object kawa passes through untouched (Kubernetes fields kawa does not model)."""
    return {
        "type": "object",
        "description": description,
        "x-kubernetes-preserve-unknown-fields": True,
    }


def s_map(description: str, values: Schema | None = None) -> Schema:
    return {
        "type": "object",
        "description": description,
        "additionalProperties": values or {"type": "string"},
    }


def s_list(description: str, items: Schema) -> Schema:
    return {"type": "array", "description": description, "items": items}


def s_obj(
    description: str, properties: Mapping[str, Schema], *, required: Sequence[str] = ()
) -> Schema:
    out: Schema = {"type": "object", "description": description, "properties": dict(properties)}
    if required:
        out["required"] = list(required)
    return out


def s_strs(description: str) -> Schema:
    return s_list(description, {"type": "string"})
