"""Field sets: which fields of an object a field manager owns (pure functions).

A field set is a set of paths; a path is a tuple of elements, each one of Kubernetes'
four kinds (structured-merge-diff's ``PathElement``):

- ``("f", name)``: a field of a map (``f:spec``);
- ``("k", '{"name":"x"}')``: the item of an associative list whose key fields have these
  values (canonical JSON: sorted keys, no spaces);
- ``("v", '"x"')``: the item of a set (a list of scalars) with this value (JSON);
- ``("i", 3)``: the item at an index (only read from clients; kawa never writes it).

:func:`encode` and :func:`decode` convert a set to and from ``fieldsV1`` (the nested map
``{"f:spec": {"f:replicas": {}}}`` in which ``"."`` marks a path that is a member and has
children). :func:`fields_of` is the set an applied configuration owns, :func:`compare`
what changed between two objects, :func:`merge` the apply merge and :func:`remove` the
pruning of fields. Lists are typed by :class:`ListTypes` (associative by a merge key, sets
of scalars, atomic otherwise); maps are always granular.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

Element = tuple[str, Any]
Path = tuple[Element, ...]
FieldSet = frozenset[Path]

SET: Final = ""
"""The list type of a set of scalars (``x-kubernetes-list-type: set``): items are ``v:``."""

METADATA_LISTS: Final = {"metadata.ownerReferences": "uid", "metadata.finalizers": SET}
"""ObjectMeta's own list types (every kind has them)."""


@dataclass(frozen=True, slots=True)
class ListTypes:
    """How the lists of a kind merge, by kawa's path pattern (``spec.containers``, with
    ``[]`` for list items: ``spec.containers[].env``): a merge key, :data:`SET`, or atomic
    (not listed)."""

    keys: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, merge_keys: Mapping[str, str]) -> ListTypes:
        return cls({**METADATA_LISTS, **merge_keys})


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _child(pattern: str, name: str) -> str:
    return f"{pattern}.{name}" if pattern else name


def _scalar(value: Any) -> bool:
    return not isinstance(value, dict | list)


def _item_elements(items: list[Any], pattern: str, types: ListTypes) -> list[Element] | None:
    """The element naming each item of a granular list, or None for an atomic list (or one
    whose items cannot be told apart: a key missing or repeated, a set item not a scalar)."""
    kind = types.keys.get(pattern)
    if kind is None:
        return None
    if kind == SET:
        found: list[Element] = [("v", _json(i)) for i in items if _scalar(i)]
    else:
        found = [("k", _json({kind: i[kind]})) for i in items if isinstance(i, dict) and kind in i]
    if len(found) != len(items) or len(set(found)) != len(found):
        return None
    return found


# -- fieldsV1 ------------------------------------------------------------------------------------


def element_text(element: Element) -> str:
    kind, value = element
    return f"{kind}:{value}"


def parse_element(text: str) -> Element:
    """The element a ``fieldsV1`` key names; ValueError when it names none."""
    kind, sep, rest = text.partition(":")
    if not sep or kind not in ("f", "k", "v", "i"):
        raise ValueError(f"unknown field set key {text!r}")
    if kind == "f":
        return ("f", rest)
    if kind == "i":
        if not rest.lstrip("-").isdigit():
            raise ValueError(f"bad index in {text!r}")
        return ("i", int(rest))
    try:
        value = orjson.loads(rest)
    except orjson.JSONDecodeError:
        raise ValueError(f"bad JSON in {text!r}") from None
    if kind == "k" and not isinstance(value, dict):
        raise ValueError(f"a key must be a JSON object: {text!r}")
    return (kind, _json(value))


def _order(element: Element) -> tuple[int, str, int]:
    kind, value = element
    rank = "fkvi".index(kind)
    return (rank, "", value) if kind == "i" else (rank, value, 0)


def encode(fields: Iterable[Path]) -> dict[str, Any]:
    """``fields`` as ``fieldsV1`` (keys in Kubernetes' order: fields, keys, values, indexes)."""
    root: dict[Element, Any] = {}
    members: set[Path] = set()
    for path in fields:
        node = root
        for element in path:
            node = node.setdefault(element, {})
        members.add(path)

    def render(node: dict[Element, Any], path: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if node and path and path in members:
            out["."] = {}
        for element in sorted(node, key=_order):
            out[element_text(element)] = render(node[element], (*path, element))
        return out

    return render(root, ())


def decode(fields_v1: Any) -> FieldSet:
    """The set a ``fieldsV1`` map holds; ValueError for anything else."""
    found: set[Path] = set()

    def walk(node: Any, path: Path) -> None:
        if not isinstance(node, dict):
            raise ValueError("a field set must be a map")
        if not node and path:
            found.add(path)
        for key, child in node.items():
            if key == ".":
                if child != {}:
                    raise ValueError('"." must be empty')
                found.add(path)
                continue
            walk(child, (*path, parse_element(key)))

    walk(fields_v1, ())
    found.discard(())
    return frozenset(found)


def _text_order(text: str) -> tuple[int, str, int]:
    """:func:`_order` of a ``fieldsV1`` key (``"."`` first)."""
    if text == ".":
        return (-1, "", 0)
    rank = "fkvi".index(text[0])
    return (rank, "", int(text[2:])) if text[0] == "i" else (rank, text[2:], 0)


def edit(fields_v1: dict[str, Any], remove: Iterable[Path], add: Iterable[Path]) -> dict[str, Any]:
    """The ``fieldsV1`` of ``(decode(fields_v1) - remove) | add``, worked out on the tree: a
    write that touches a few fields of a big entry does not decode and encode all of it.
    ``fields_v1`` is not changed (the nodes on the edited paths are copied)."""
    root = dict(fields_v1)
    for path in remove:
        _drop(root, [element_text(e) for e in path])
    for path in add:
        _put(root, [element_text(e) for e in path])
    return root


def _descend(node: dict[str, Any], text: str) -> dict[str, Any] | None:
    child = node.get(text)
    if not isinstance(child, dict):
        return None
    child = node[text] = dict(child)
    return child


def _drop(root: dict[str, Any], texts: list[str]) -> None:
    trail = [root]
    for text in texts:
        child = _descend(trail[-1], text)
        if child is None:
            return
        trail.append(child)
    node = trail[-1]
    if any(k != "." for k in node):
        node.pop(".", None)
        return
    for depth in range(len(texts), 0, -1):
        parent = trail[depth - 1]
        del parent[texts[depth - 1]]
        if depth == 1 or any(k != "." for k in parent):
            return
        if "." in parent:  # a member left without children: a leaf
            parent.clear()
            return


def _put(root: dict[str, Any], texts: list[str]) -> None:
    node, created = root, True  # the root is never a member
    for i, text in enumerate(texts):
        child = _descend(node, text)
        if child is None:
            if not created and not node:
                node["."] = {}  # a leaf member gets a child: it stays a member
            child = node[text] = {}
            _sort(node)
            created = True
        else:
            if i == len(texts) - 1 and child and "." not in child:
                child["."] = {}
                _sort(child)
            created = False
        node = child


def _sort(node: dict[str, Any]) -> None:
    ordered = sorted(node.items(), key=lambda kv: _text_order(kv[0]))
    node.clear()
    node.update(ordered)


def path_text(path: Path) -> str:
    """A path as Kubernetes prints it in conflicts: ``.spec.containers[name="app"].image``."""
    parts: list[str] = []
    for kind, value in path:
        if kind == "f":
            parts.append(f".{value}")
        elif kind == "k":
            pairs = orjson.loads(value)
            parts.append("[" + ",".join(f"{k}={_json(v)}" for k, v in pairs.items()) + "]")
        elif kind == "v":
            parts.append(f"[={value}]")
        else:
            parts.append(f"[{value}]")
    return "".join(parts)


# -- sets of objects -----------------------------------------------------------------------------


def fields_of(obj: Any, types: ListTypes) -> FieldSet:
    """The fields an applied configuration sets (structured-merge-diff's ``ToFieldSet``):
    scalars, atomic lists, empty maps and the items of granular lists; a map with fields is
    owned through them."""
    out: set[Path] = set()
    _own(obj, (), "", types, out)
    return frozenset(out)


def _own(value: Any, path: Path, pattern: str, types: ListTypes, out: set[Path]) -> None:
    if isinstance(value, dict):
        if not value and path:
            out.add(path)
        for key, child in value.items():
            _own(child, (*path, ("f", key)), _child(pattern, key), types, out)
        return
    if isinstance(value, list):
        elements = _item_elements(value, pattern, types)
        if elements is None or not value:
            out.add(path)
            return
        for element, item in zip(elements, value, strict=True):
            out.add((*path, element))
            if element[0] == "k":
                _own(item, (*path, element), f"{pattern}[]", types, out)
        return
    out.add(path)


def _every(value: Any, path: Path, pattern: str, types: ListTypes, out: set[Path]) -> None:
    """Every path of ``value`` at ``path``, maps included (a subtree added or removed whole)."""
    out.add(path)
    if isinstance(value, dict):
        for key, child in value.items():
            _every(child, (*path, ("f", key)), _child(pattern, key), types, out)
    elif isinstance(value, list):
        elements = _item_elements(value, pattern, types)
        for element, item in zip(elements or (), value, strict=False):
            if element[0] == "k":
                _every(item, (*path, element), f"{pattern}[]", types, out)
            else:
                out.add((*path, element))


@dataclass(slots=True)
class Comparison:
    """What an update changed: fields added, modified (a new value) and removed."""

    added: set[Path] = field(default_factory=set)
    modified: set[Path] = field(default_factory=set)
    removed: set[Path] = field(default_factory=set)

    def empty(self) -> bool:
        return not (self.added or self.modified or self.removed)

    @property
    def changed(self) -> set[Path]:
        """Everything the update touched."""
        return self.added | self.modified | self.removed

    def without(self, skip: Iterable[Path]) -> Comparison:
        gone = set(skip)
        return Comparison(self.added - gone, self.modified - gone, self.removed - gone)


def compare(old: Any, new: Any, types: ListTypes) -> Comparison:
    """What changed from ``old`` to ``new`` (structured-merge-diff's ``Compare``)."""
    out = Comparison()
    _compare(old, new, (), "", types, out)
    out.added.discard(())
    out.removed.discard(())
    out.modified.discard(())
    return out


def _compare(
    old: Any, new: Any, path: Path, pattern: str, types: ListTypes, out: Comparison
) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in old.keys() | new.keys():
            here, sub = (*path, ("f", key)), _child(pattern, key)
            if key not in old:
                _every(new[key], here, sub, types, out.added)
            elif key not in new:
                _every(old[key], here, sub, types, out.removed)
            else:
                _compare(old[key], new[key], here, sub, types, out)
        return
    if isinstance(old, list) and isinstance(new, list):
        old_elements = _item_elements(old, pattern, types)
        new_elements = _item_elements(new, pattern, types)
        if old_elements is not None and new_elements is not None:
            before = dict(zip(old_elements, old, strict=True))
            after = dict(zip(new_elements, new, strict=True))
            for element in before.keys() | after.keys():
                here = (*path, element)
                if element not in before:
                    _every(after[element], here, f"{pattern}[]", types, out.added)
                elif element not in after:
                    _every(before[element], here, f"{pattern}[]", types, out.removed)
                elif element[0] == "k":
                    _compare(before[element], after[element], here, f"{pattern}[]", types, out)
            return
    if old != new:
        out.modified.add(path)


# -- apply ---------------------------------------------------------------------------------------


def merge(live: Any, config: Any, types: ListTypes) -> Any:
    """``config`` merged into a copy of ``live`` (sharing nothing with either): maps field
    by field, granular lists item by item (live order, new items appended), anything else
    replaced by ``config``'s value; a ``null`` in ``config`` removes the field."""
    return _merge(copy.deepcopy(live), config, "", types)


def _merge(live: Any, config: Any, pattern: str, types: ListTypes) -> Any:
    if isinstance(config, dict):
        out = dict(live) if isinstance(live, dict) else {}
        for key, value in config.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = _merge(out.get(key), value, _child(pattern, key), types)
        return out
    if isinstance(config, list) and isinstance(live, list):
        live_elements = _item_elements(live, pattern, types)
        config_elements = _item_elements(config, pattern, types)
        if live_elements is not None and config_elements is not None:
            merged = dict(zip(live_elements, live, strict=True))
            for element, item in zip(config_elements, config, strict=True):
                if element[0] == "k":
                    merged[element] = _merge(merged.get(element), item, f"{pattern}[]", types)
                else:
                    merged[element] = copy.deepcopy(item)
            return list(merged.values())
    return copy.deepcopy(config)


def remove(obj: Any, paths: Iterable[Path], keep: Iterable[Path], types: ListTypes) -> Any:
    """A copy of ``obj`` without ``paths`` (with what is under them), except that a path with
    something of ``keep`` under it stays (only what is removable under it goes); a map left
    empty by a removal goes too unless ``keep`` holds it."""
    kept = set(keep)
    under: set[Path] = {path[:i] for path in kept for i in range(1, len(path))}
    out = copy.deepcopy(obj)
    for path in sorted(set(paths), key=len, reverse=True):
        if path in kept or path in under or not path:
            continue
        _remove_one(out, path, types)
        parent = path[:-1]
        while parent and parent not in kept and _at(out, parent, types) == {}:
            _remove_one(out, parent, types)
            parent = parent[:-1]
    return out


def _locate(obj: Any, element: Element, pattern: str, types: ListTypes) -> Iterator[int | str]:
    """Where ``element`` is in the container ``obj`` (its key or index), if it is there."""
    kind, value = element
    named = kind == "f" and isinstance(obj, dict) and value in obj
    if named or (kind == "i" and isinstance(obj, list) and 0 <= value < len(obj)):
        yield value
    elif kind in ("k", "v") and isinstance(obj, list):
        elements = _item_elements(obj, pattern, types)
        if elements is not None and element in elements:
            yield elements.index(element)


def _walk(obj: Any, path: Path, types: ListTypes) -> tuple[Any, str] | None:
    """The container holding the last element of ``path``, and its pattern."""
    node, pattern = obj, ""
    for element in path[:-1]:
        where = next(_locate(node, element, pattern, types), None)
        if where is None:
            return None
        node = node[where]
        pattern = _child(pattern, element[1]) if element[0] == "f" else f"{pattern}[]"
    return node, pattern


def _at(obj: Any, path: Path, types: ListTypes) -> Any:
    found = _walk(obj, path, types)
    if found is None:
        return None
    where = next(_locate(found[0], path[-1], found[1], types), None)
    return None if where is None else found[0][where]


def _remove_one(obj: Any, path: Path, types: ListTypes) -> None:
    found = _walk(obj, path, types)
    if found is None:
        return
    container, pattern = found
    if pattern.endswith("[]") and path[-1] == ("f", types.keys.get(pattern[:-2])):
        return  # the key of an item that stays (the item itself goes by its own path)
    where = next(_locate(container, path[-1], pattern, types), None)
    if where is not None:
        del container[where]
