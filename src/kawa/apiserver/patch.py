"""PATCH bodies: JSON merge patch, JSON patch, strategic merge patch (pure functions).

- ``application/merge-patch+json`` (RFC 7386): maps merge recursively, ``null`` deletes,
  anything else (lists included) replaces. kubectl uses it for custom kinds and for
  ``label``/``annotate``.
- ``application/json-patch+json`` (RFC 6902): ``add``, ``remove``, ``replace``, ``move``,
  ``copy``, ``test`` on JSON pointers (RFC 6901).
- ``application/strategic-merge-patch+json``: a merge patch in which the lists a kind names
  (its ``strategic_merge_keys``, e.g. a Pod's ``spec.containers`` by ``name``) merge item by
  item on their key, with the directives kubectl sends: ``$patch: delete|replace|merge`` on a
  map or list item (any other ``$patch`` is refused), ``$setElementOrder/<list>`` (order of
  the merged list), ``$deleteFromPrimitiveList/<list>`` and ``$retainKeys``.

Every failure is a :class:`kawa.errors.ValidationError` (the API answers 422 or 400).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from kawa.errors import ValidationError


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 applied to a copy of ``target``."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# -- RFC 6902 ------------------------------------------------------------------------------------


def _pointer(path: Any, index: int) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise ValidationError.single(f"[{index}].path", f"expected a JSON pointer, got {path!r}")
    if path == "":
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], index: int) -> tuple[Any, str]:
    current = doc
    for part in parts[:-1]:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise ValidationError.single(f"[{index}].path", f"no such location: /{'/'.join(parts)}")
    return current, parts[-1]


def _get(doc: Any, parts: list[str], index: int) -> Any:
    if not parts:
        return doc
    parent, last = _parent(doc, parts, index)
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent[int(last)]
    raise ValidationError.single(f"[{index}].path", f"no such location: /{'/'.join(parts)}")


def _add(doc: Any, parts: list[str], value: Any, index: int) -> Any:
    if not parts:
        return value
    parent, last = _parent(doc, parts, index)
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent):
            parent.insert(int(last), value)
        else:
            raise ValidationError.single(f"[{index}].path", f"list index {last!r} out of range")
    else:
        raise ValidationError.single(f"[{index}].path", "the parent is not an object or list")
    return doc


def _remove(doc: Any, parts: list[str], index: int) -> Any:
    if not parts:
        raise ValidationError.single(f"[{index}].path", "cannot remove the whole object")
    parent, last = _parent(doc, parts, index)
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent.pop(int(last))
    raise ValidationError.single(f"[{index}].path", f"no such location: /{'/'.join(parts)}")


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 applied to a copy of ``target``."""
    if not isinstance(operations, list):
        raise ValidationError.single("", "a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for i, op in enumerate(operations):
        if not isinstance(op, Mapping):
            raise ValidationError.single(f"[{i}]", "expected an operation object")
        kind = op.get("op")
        parts = _pointer(op.get("path"), i)
        if kind == "add":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")), i)
        elif kind == "remove":
            _remove(doc, parts, i)
        elif kind == "replace":
            _get(doc, parts, i)
            if parts:
                parent, last = _parent(doc, parts, i)
                if isinstance(parent, list):
                    parent[int(last)] = copy.deepcopy(op.get("value"))
                else:
                    parent[last] = copy.deepcopy(op.get("value"))
            else:
                doc = copy.deepcopy(op.get("value"))
        elif kind in ("move", "copy"):
            source = _pointer(op.get("from"), i)
            value = _get(doc, source, i)
            if kind == "move":
                _remove(doc, source, i)
            doc = _add(doc, parts, copy.deepcopy(value), i)
        elif kind == "test":
            if _get(doc, parts, i) != op.get("value"):
                raise ValidationError.single(f"[{i}]", f"test failed at {op.get('path')}")
        else:
            raise ValidationError.single(
                f"[{i}].op", f"expected add, remove, replace, move, copy or test, got {kind!r}"
            )
    return doc


# -- strategic merge patch -----------------------------------------------------------------------

_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVES = "$deleteFromPrimitiveList/"
_DIRECTIVES = ("replace", "delete", "merge")


def strategic_merge_patch(target: Any, patch: Any, merge_keys: Mapping[str, str]) -> Any:
    """A strategic merge patch applied to a copy of ``target`` (see the module docstring)."""
    return _smp(target, patch, merge_keys, "")


def _smp(target: Any, patch: Any, keys: Mapping[str, str], path: str) -> Any:
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    if "$patch" in patch and patch["$patch"] not in _DIRECTIVES:
        raise ValidationError.single(
            f"{path}.$patch" if path else "$patch",
            f"unknown patch type {patch['$patch']!r}: expected "
            + ", ".join(f'"{d}"' for d in _DIRECTIVES),
        )
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = dict(target) if isinstance(target, Mapping) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith(_ORDER):
            continue
        child = f"{path}.{key}" if path else key
        if key.startswith(_DELETE_PRIMITIVES):
            field = key[len(_DELETE_PRIMITIVES) :]
            current = result.get(field)
            if not isinstance(value, list | None) or not isinstance(current, list | None):
                raise ValidationError.single(
                    child, f"invalid strategic merge patch: {field} and this must be lists"
                )
            result[field] = [v for v in current or [] if v not in (value or [])]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and child in keys:
            order = patch.get(f"{_ORDER}{key}")
            result[key] = _merge_list(result.get(key), value, keys[child], keys, child, order)
        elif isinstance(value, list):
            result[key] = copy.deepcopy(value)
        else:
            merged = _smp(result.get(key), value, keys, child)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(
    target: Any,
    patch: list[Any],
    merge_key: str,
    keys: Mapping[str, str],
    path: str,
    order: Any,
) -> list[Any]:
    items = [copy.deepcopy(i) for i in target] if isinstance(target, list) else []
    if any(isinstance(p, Mapping) and p.get("$patch") == "replace" for p in patch):
        return [dict(p) for p in patch if isinstance(p, Mapping) and p.get("$patch") != "replace"]
    item_path = f"{path}[]"
    for entry in patch:
        if not isinstance(entry, Mapping):
            items.append(copy.deepcopy(entry))
            continue
        key_value = entry.get(merge_key)
        found = next(
            (
                i
                for i, item in enumerate(items)
                if isinstance(item, Mapping) and item.get(merge_key) == key_value
            ),
            None,
        )
        if entry.get("$patch") == "delete":
            if found is not None:
                items.pop(found)
            continue
        if found is None:
            items.append(_smp({}, entry, keys, item_path))
        else:
            items[found] = _smp(items[found], entry, keys, item_path)
    if isinstance(order, list):
        wanted = [o.get(merge_key) for o in order if isinstance(o, Mapping)]

        def rank(item: Any) -> int:
            """The item's place in ``$setElementOrder`` (keys may be any JSON value)."""
            value = item.get(merge_key) if isinstance(item, Mapping) else None
            return next((i for i, w in enumerate(wanted) if w == value), len(wanted))

        items.sort(key=rank)
    return items
