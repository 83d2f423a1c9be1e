"""The bookkeeping every resource store backend does alike, as pure functions over dicts.

What a create, an update and a delete make of the stored object (:mod:`kawa.store.base`):
``uid``, ``creationTimestamp`` and ``generation`` at create; the optimistic-concurrency check,
the fields an update keeps and the generation it bumps; what a delete of an object with
finalizers marks (:mod:`kawa.store.finalizers`). The backends (:mod:`kawa.store.sqlite`,
:mod:`kawa.store.jetstream`) only decide how a change is written, versioned and watched;
``resourceVersion`` is theirs to set.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Sequence
from typing import Any

import orjson

from kawa.errors import ConflictError, NotFoundError
from kawa.store import finalizers
from kawa.store.base import Obj, ResourceKey

_NON_SPEC_KEYS = frozenset({"metadata", "status", "apiVersion", "kind"})
_KEPT_BY_UPDATE = ("uid", "creationTimestamp", "generation", "name", "namespace", "resourceVersion")


def json_copy(obj: Obj) -> Obj:
    """A copy of ``obj`` as it will be stored (JSON), faster than ``deepcopy`` (objects carry
    their ``managedFields`` trees); values JSON cannot hold fail here as they would when
    the object is written."""
    copied: Obj = orjson.loads(orjson.dumps(obj))
    return copied


def now() -> str:
    """The current time as Kubernetes writes timestamps (RFC 3339, seconds, UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def not_found(key: ResourceKey) -> NotFoundError:
    return NotFoundError(f'{key.resource} "{key.name}" not found')


def spec_part(obj: Obj) -> Obj:
    """Everything but ``metadata``, ``status``, ``apiVersion`` and ``kind``: what, changed,
    moves the generation (a ConfigMap's ``data`` too)."""
    return {k: v for k, v in obj.items() if k not in _NON_SPEC_KEYS}


def for_create(key: ResourceKey, obj: Obj, uid: str | None) -> Obj:
    """The object a create stores (without a resourceVersion): name and namespace from
    ``key``, a new uid (or ``uid``), now, generation 1, no deletion fields."""
    new = json_copy(obj)
    meta = new.setdefault("metadata", {})
    meta.pop("resourceVersion", None)
    meta["name"] = key.name
    if key.namespace:
        meta["namespace"] = key.namespace
    meta["uid"] = uid or str(uuid.uuid4())
    meta["creationTimestamp"] = now()
    meta["generation"] = 1
    for field in finalizers.DELETION_FIELDS:
        meta.pop(field, None)
    return new


def check_version(key: ResourceKey, old: Obj, obj: Obj) -> None:
    """ConflictError unless ``obj`` names no resourceVersion or the stored one (``old``'s)."""
    given = obj.get("metadata", {}).get("resourceVersion")
    current = old["metadata"]["resourceVersion"]
    if given not in (None, "") and str(given) != current:
        raise ConflictError(
            f"{key}: the object has been modified (resourceVersion {given} is not "
            f"the current {current}); read it again and retry"
        )


def for_update(
    key: ResourceKey,
    old: Obj,
    obj: Obj,
    *,
    status_only: bool = False,
    managed_fields: Sequence[Any] | None = None,
) -> Obj:
    """The object an update of ``old`` (as stored, with its resourceVersion) with ``obj``
    stores (see :meth:`kawa.store.base.ResourceStore.update`); equal to ``old`` when the
    update changes nothing. ConflictError when ``obj``'s resourceVersion is stale."""
    check_version(key, old, obj)
    if status_only:
        new = json_copy(old)
        if "status" in obj:
            new["status"] = copy.deepcopy(obj["status"])
        else:
            new.pop("status", None)
        if managed_fields:
            new["metadata"]["managedFields"] = copy.deepcopy(managed_fields)
        elif managed_fields is not None:
            new["metadata"].pop("managedFields", None)
        return new
    new = json_copy(obj)
    old_meta = old["metadata"]
    meta = new.setdefault("metadata", {})
    for field in _KEPT_BY_UPDATE:
        if field in old_meta:
            meta[field] = old_meta[field]
    if "status" in old:
        new["status"] = old["status"]
    else:
        new.pop("status", None)
    if spec_part(new) != spec_part(old) or finalizers.starts_deletion(old, new):
        meta["generation"] = int(old_meta.get("generation", 1)) + 1
    return new


def marked_for_deletion(old: Obj) -> Obj | None:
    """What a delete of ``old`` leaves stored: ``old`` marked deleting when finalizers keep
    it (equal to ``old`` when it was marked already), None when it goes."""
    if not finalizers.pending(old):
        return None
    marked = copy.deepcopy(old)
    finalizers.mark_deleting(marked, now())
    return marked
