"""``metadata.managedFields`` and server-side apply, as Kubernetes keeps them (pure).

Every write through the API records who set what: an ``Update`` entry for the write's field
manager (create, replace, patch; ``subresource: status`` for status writes) or an ``Apply``
entry (an ``apply-patch+yaml`` request). One entry per manager, operation, subresource and
(for updates) apiVersion; a write merges into its manager's entry. :func:`record` is an
update's bookkeeping: the writer gains what it added or changed, loses what it removed, and
other managers lose what the writer changed (an update always wins). :func:`apply` merges an
applied configuration into the live object: the applier owns exactly what it applied, a field
it applied last time and not now is removed unless another manager owns it, and a field
another manager owns with a different value is a conflict (:class:`ApplyConflictError`,
``409``) unless the apply is forced, which takes it over.

Field sets live in :mod:`kawa.apiserver.fieldsets`; the shell is :mod:`kawa.apiserver.writes`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from kawa.apiserver import fieldsets as fs
from kawa.apiserver.status import ApplyConflictError
from kawa.errors import FieldError, ValidationError

APPLY: Final = "Apply"
UPDATE: Final = "Update"
FIELDS_V1: Final = "FieldsV1"
MAX_UPDATE_MANAGERS: Final = 10
"""Update entries kept; older ones are merged into one ``ancient-changes`` entry."""
ANCIENT: Final = "ancient-changes"
LAST_APPLIED: Final = "kubectl.kubernetes.io/last-applied-configuration"
PATH: Final = "metadata.managedFields"

_SERVER_METADATA: Final = (
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "selfLink",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
"""Metadata no manager owns (Kubernetes strips them from every field set)."""
_METADATA: Final[frozenset[fs.Path]] = frozenset({(("f", "metadata"),)})
"""The bare ``metadata`` map: Kubernetes owns it, no manager does."""

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Entry:
    """One ``managedFields`` entry."""

    manager: str
    operation: str
    api_version: str
    fields: fs.FieldSet
    time: str = ""
    subresource: str = ""

    @property
    def ident(self) -> tuple[str, str, str, str]:
        """What makes two entries one (Kubernetes' manager identifier)."""
        version = self.api_version if self.operation == UPDATE else ""
        return (self.manager, self.operation, self.subresource, version)

    def describe(self) -> str:
        """The manager as a conflict names it (``"kubectl" using apps/v1``)."""
        text = _quote(self.manager)
        if self.subresource:
            text += f" with subresource {_quote(self.subresource)}"
        if self.operation == UPDATE:
            text += f" using {self.api_version}"
        return text


def _quote(text: str) -> str:
    return orjson.dumps(text).decode()


@dataclass(frozen=True, slots=True)
class Write:
    """Who writes, through which apiVersion and subresource, when."""

    manager: str
    api_version: str
    time: str
    subresource: str = ""


@dataclass(frozen=True, slots=True)
class Shape:
    """What the bookkeeping needs to know of a kind."""

    types: fs.ListTypes
    status_subresource: bool
    convert: Callable[[Obj, str], Obj]
    """An object (stored form) as another apiVersion; may raise for one not served."""


# -- entries -------------------------------------------------------------------------------------


def decode(raw: Any, *, strict: bool = True) -> list[Entry]:
    """The entries of a ``managedFields`` list; with ``strict``, a bad one is a
    ValidationError at its path (otherwise it is skipped)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        if strict:
            raise ValidationError.single(PATH, "expected a list")
        return []
    out: list[Entry] = []
    problems: list[FieldError] = []
    for i, item in enumerate(raw):
        try:
            out.append(_entry(item))
        except ValueError as err:
            problems.append(FieldError(f"{PATH}[{i}]", str(err)))
    if problems and strict:
        raise ValidationError(problems)
    return out


def _entry(item: Any) -> Entry:
    if not isinstance(item, Mapping):
        raise ValueError("expected an object")
    operation = item.get("operation")
    if operation not in (APPLY, UPDATE):
        raise ValueError(
            f'operation: Unsupported value: "{operation}": supported values: "Apply", "Update"'
        )
    if item.get("fieldsType") != FIELDS_V1:
        raise ValueError(
            f'fieldsType: Unsupported value: "{item.get("fieldsType")}": '
            'supported values: "FieldsV1"'
        )
    try:
        fields = fs.decode(item.get("fieldsV1", {}))
    except ValueError as err:
        raise ValueError(f"fieldsV1: {err}") from None
    texts = [item.get(k, "") for k in ("manager", "apiVersion", "time", "subresource")]
    if not all(isinstance(t, str) for t in texts):
        raise ValueError("manager, apiVersion, time and subresource must be strings")
    manager, api_version, time, subresource = texts
    return Entry(manager, str(operation), api_version, fields, time, subresource)


def _order(entry: Entry) -> tuple[str, str, str, str, str]:
    return (entry.operation, entry.time, entry.manager, entry.api_version, entry.subresource)


def encode(entries: Iterable[Entry]) -> list[dict[str, Any]]:
    """``entries`` as ``managedFields``, in Kubernetes' order (Apply first, then by time)."""
    out = []
    for e in sorted(entries, key=_order):
        item: dict[str, Any] = {"manager": e.manager, "operation": e.operation}
        item["apiVersion"] = e.api_version
        if e.time:
            item["time"] = e.time
        item["fieldsType"] = FIELDS_V1
        item["fieldsV1"] = fs.encode(e.fields)
        if e.subresource:
            item["subresource"] = e.subresource
        out.append(item)
    return out


def is_reset(raw: Any) -> bool:
    """``managedFields: [{}]``: the request that clears them."""
    return isinstance(raw, list) and len(raw) == 1 and raw[0] == {}


def _cap(entries: list[Entry]) -> list[Entry]:
    """At most :data:`MAX_UPDATE_MANAGERS` Update entries: the oldest become one."""
    updates = sorted((e for e in entries if e.operation == UPDATE), key=_order)
    if len(updates) <= MAX_UPDATE_MANAGERS:
        return entries
    old = updates[: len(updates) - MAX_UPDATE_MANAGERS + 1]
    merged: set[fs.Path] = set()
    for e in old:
        merged |= e.fields
    ancient = Entry(ANCIENT, UPDATE, old[-1].api_version, frozenset(merged), old[-1].time)
    return [e for e in entries if e not in old] + [ancient]


# -- comparing -----------------------------------------------------------------------------------


def _comparable(obj: Obj | None, subresource: str, shape: Shape) -> Obj:
    """The part of ``obj`` managers own: no server-set metadata; with a status subresource,
    only ``status`` for status writes and everything but it otherwise."""
    if not obj:
        return {}
    out = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    metadata = out.get("metadata")
    if isinstance(metadata, dict):
        out["metadata"] = {k: v for k, v in metadata.items() if k not in _SERVER_METADATA}
    if subresource == "status":
        return {"status": out["status"]} if "status" in out else {}
    if shape.status_subresource:
        out.pop("status", None)
    return out


class _Comparisons:
    """What a write changed, in each apiVersion a manager's fields are in."""

    def __init__(self, old: Obj | None, new: Obj, write: Write, shape: Shape) -> None:
        self._old, self._new, self._write, self._shape = old, new, write, shape
        self._found: dict[str, fs.Comparison] = {}

    def at(self, api_version: str) -> fs.Comparison:
        found = self._found.get(api_version)
        if found is not None:
            return found
        old, new = self._old, self._new
        if api_version != self._write.api_version:
            try:
                old = self._shape.convert(old, api_version) if old else old
                new = self._shape.convert(new, api_version)
            except Exception:  # a version no longer served: compare as written
                return self.at(self._write.api_version)
        sub, types = self._write.subresource, self._shape.types
        found = fs.compare(
            _comparable(old, sub, self._shape), _comparable(new, sub, self._shape), types
        ).without(_METADATA)
        self._found[api_version] = found
        return found


# -- updates -------------------------------------------------------------------------------------


def record(old: Obj | None, new: Obj, write: Write, shape: Shape) -> list[dict[str, Any]]:
    """The ``managedFields`` of ``new`` after an update (``old`` None: a create) by
    ``write.manager``; both objects as ``write.api_version`` shows them. ``new``'s own
    ``managedFields``, when it has some other than ``old``'s, are taken as the starting
    point (``[{}]`` clears them); a status write keeps ``old``'s.

    Every write pays for this, so entries the write does not touch are kept as they are
    (not decoded and encoded again)."""
    given = new.get("metadata", {}).get("managedFields")
    live = (old or {}).get("metadata", {}).get("managedFields")
    if is_reset(given) and not write.subresource:
        return []
    if given and given != live and not write.subresource:
        # checked, written the way kawa writes them, without empty entries
        items = encode(e for e in decode(given) if e.fields)
    else:
        items = [i for i in live if _header(i) is not None] if isinstance(live, list) else []
    changes = _Comparisons(old, new, write, shape)
    ident = Entry(write.manager, UPDATE, write.api_version, frozenset(), "", write.subresource)
    out: list[dict[str, Any]] = []
    mine: dict[str, Any] | None = None
    for item in items:
        if _header(item) == ident.ident:
            mine = item
            continue
        gone = changes.at(str(item.get("apiVersion", ""))).changed
        if not _owns_any(item.get("fieldsV1"), gone):
            out.append(item)
            continue
        tree = fs.edit(item.get("fieldsV1", {}), gone, ())
        if tree:
            out.append({**item, "fieldsV1": tree})
    c = changes.at(write.api_version)
    if mine is not None and c.empty():
        out.append(mine)
    elif mine is not None or not c.empty():
        if mine is None:  # a new entry (a create: everything is new)
            tree = fs.encode(c.added | c.modified)
        else:
            tree = fs.edit(mine.get("fieldsV1", {}), c.removed, c.added | c.modified)
        if tree:
            out.extend(encode([dataclasses.replace(ident, fields=frozenset(), time=write.time)]))
            out[-1]["fieldsV1"] = tree
    out.sort(key=_raw_order)
    if sum(1 for i in out if i.get("operation") == UPDATE) > MAX_UPDATE_MANAGERS:
        return encode(_cap(decode(out, strict=False)))
    return out


def _header(item: Any) -> tuple[str, str, str, str] | None:
    """The identity of a stored entry (None: not an entry kawa can read)."""
    if not isinstance(item, dict) or item.get("operation") not in (APPLY, UPDATE):
        return None
    texts = [item.get(k, "") for k in ("manager", "apiVersion", "subresource")]
    if not all(isinstance(t, str) for t in texts) or not isinstance(item.get("fieldsV1", {}), dict):
        return None
    manager, api_version, subresource = texts
    version = api_version if item["operation"] == UPDATE else ""
    return (manager, item["operation"], subresource, version)


def _owns_any(fields_v1: Any, paths: Iterable[fs.Path]) -> bool:
    """Whether the ``fieldsV1`` tree has one of ``paths`` as a member (without decoding it)."""
    for path in paths:
        node = fields_v1
        for element in path:
            node = node.get(fs.element_text(element)) if isinstance(node, dict) else None
            if node is None:
                break
        if isinstance(node, dict) and (not node or "." in node):
            return True
    return False


def _raw_order(item: dict[str, Any]) -> tuple[str, ...]:
    keys = ("operation", "time", "manager", "apiVersion", "subresource")
    return tuple(str(item.get(k, "")) for k in keys)


# -- apply ---------------------------------------------------------------------------------------


def apply(live: Obj | None, config: Obj, write: Write, shape: Shape, *, force: bool) -> Obj:
    """``config`` applied by ``write.manager`` to ``live`` (None: a create), both as
    ``write.api_version`` shows them: the merged object with its ``managedFields``.
    :class:`ApplyConflictError` for fields other managers own with other values, unless
    ``force`` (which takes them over)."""
    types = shape.types
    if not isinstance(config.get("metadata", {}), dict):
        raise ValidationError.single("metadata", "expected an object")
    entries = decode((live or {}).get("metadata", {}).get("managedFields"), strict=False)
    applied = fs.fields_of(_comparable(config, write.subresource, shape), types) - _METADATA
    ident = Entry(write.manager, APPLY, write.api_version, frozenset(), "", write.subresource)
    last = next((e for e in entries if e.ident == ident.ident), None)
    others = [e for e in entries if e.ident != ident.ident]
    merged: Obj = fs.merge(live or {}, config, types)
    if last is not None:
        owned = set(applied).union(*(e.fields for e in others))
        merged = fs.remove(merged, last.fields - owned, owned, types)
    changes = _Comparisons(live, merged, write, shape)
    conflicts: list[tuple[Entry, fs.Path]] = []
    kept: list[Entry] = []
    for e in others:
        c = changes.at(e.api_version)
        clash = e.fields & (c.added | c.modified)
        conflicts.extend((e, path) for path in sorted(clash, key=fs.path_text))
        rest = e.fields - clash - c.removed
        if rest:
            kept.append(dataclasses.replace(e, fields=rest))
    if conflicts and not force:
        raise ApplyConflictError(_conflict_message(conflicts), _causes(conflicts))
    if applied:
        unchanged = (
            last is not None and last.fields == applied and changes.at(write.api_version).empty()
        )
        when = last.time if unchanged and last is not None else write.time
        kept.append(dataclasses.replace(ident, fields=applied, time=when))
    metadata = merged.setdefault("metadata", {})
    metadata["managedFields"] = encode(_cap(kept))
    if not metadata["managedFields"]:
        del metadata["managedFields"]
    if write.manager == "kubectl":
        _sync_last_applied(metadata, config)
    return merged


def _sync_last_applied(metadata: dict[str, Any], config: Obj) -> None:
    """kubectl's server-side apply keeps an existing client-side apply annotation in step
    with what it applied (Kubernetes' ``lastAppliedUpdater``)."""
    annotations = metadata.get("annotations")
    if not isinstance(annotations, dict) or LAST_APPLIED not in annotations:
        return
    shown = dict(config)
    config_meta = shown.get("metadata")
    if isinstance(config_meta, dict) and isinstance(config_meta.get("annotations"), dict):
        rest = {k: v for k, v in config_meta["annotations"].items() if k != LAST_APPLIED}
        shown["metadata"] = {**config_meta, "annotations": rest}
        if not rest:
            del shown["metadata"]["annotations"]
    annotations[LAST_APPLIED] = orjson.dumps(shown).decode() + "\n"


def _conflict_message(conflicts: Sequence[tuple[Entry, fs.Path]]) -> str:
    """Kubernetes' wording of apply conflicts."""
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        return (
            f"Apply failed with 1 conflict: conflict with {entry.describe()}: {fs.path_text(path)}"
        )
    by_manager: dict[str, list[str]] = {}
    for entry, path in conflicts:
        by_manager.setdefault(entry.describe(), []).append(fs.path_text(path))
    lines: list[str] = []
    for manager in sorted(by_manager):
        lines.append(f"conflicts with {manager}:")
        lines.extend(f"- {p}" for p in by_manager[manager])
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)


def _causes(conflicts: Sequence[tuple[Entry, fs.Path]]) -> list[dict[str, str]]:
    return [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {entry.describe()}",
            "field": fs.path_text(path),
        }
        for entry, path in conflicts
    ]
