"""Finalizers: what keeps a deleted object in the store until the parties named clean up.

As in the Kubernetes API server's registry (``genericregistry.Store``), the store, not its
callers, keeps these rules, so that no controller, kubelet or API handler can bypass them:

- A delete of an object with finalizers (:func:`pending`: ``metadata.finalizers``, and a
  Namespace's ``spec.finalizers``) does not remove it: it is marked deleting
  (:func:`mark_deleting`: ``metadata.deletionTimestamp`` now, unless an earlier one is set,
  ``metadata.deletionGracePeriodSeconds`` 0, ``generation`` + 1 when the deletion starts) and
  stays, visible to every reader and watch, until its finalizers are gone.
- An update that leaves a deleting object without finalizers removes it (:func:`finished`:
  Kubernetes' ``ShouldDeleteDuringUpdate``), when no grace period is pending (a Pod being
  stopped by its kubelet keeps its grace period until the kubelet deletes it).
- The deletion fields never survive a create.
- A delete's propagation policy is kept as a finalizer (:func:`for_propagation`, Kubernetes'
  ``deletionFinalizersForGarbageCollection``): ``Foreground`` adds :data:`FOREGROUND`,
  ``Orphan`` (or ``orphanDependents``) :data:`ORPHAN`, ``Background`` neither; the garbage
  collector (:mod:`kawa.controllers.garbage_collector`) carries them out and takes them away.

Pure functions over stored dicts; called by every backend of :mod:`kawa.store.base`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from kawa.apis import meta

DELETION_FIELDS: Final = ("deletionTimestamp", "deletionGracePeriodSeconds")
ORPHAN: Final = "orphan"
"""The finalizer of an owner whose dependents lose their reference to it (``Orphan``)."""
FOREGROUND: Final = "foregroundDeletion"
"""The finalizer of an owner that waits for its blocking dependents (``Foreground``)."""
BACKGROUND_POLICY: Final = "Background"
FOREGROUND_POLICY: Final = "Foreground"
ORPHAN_POLICY: Final = "Orphan"


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def pending(obj: Mapping[str, Any]) -> list[str]:
    """The finalizers keeping ``obj`` from removal: its ``metadata.finalizers`` and, for a
    Namespace, ``spec.finalizers`` (``kubernetes``: the namespace controller's)."""
    found = _strings(meta.metadata_of(obj).get("finalizers"))
    spec = obj.get("spec")
    if obj.get("kind") == "Namespace" and isinstance(spec, Mapping):
        found += _strings(spec.get("finalizers"))
    return found


def deleting(obj: Mapping[str, Any]) -> bool:
    """Whether a deletion of ``obj`` has started (it has a ``deletionTimestamp``)."""
    return bool(meta.metadata_of(obj).get("deletionTimestamp"))


def _time(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def mark_deleting(obj: dict[str, Any], now: str) -> None:
    """Mark ``obj`` (a stored dict, changed in place) as being deleted at ``now`` (RFC 3339),
    as Kubernetes' ``markAsDeleting``: ``deletionTimestamp`` now unless one is set that is not
    later, ``deletionGracePeriodSeconds`` 0, ``generation`` + 1 when the deletion starts."""
    metadata = obj.setdefault("metadata", {})
    existing = metadata.get("deletionTimestamp")
    if not existing:
        generation = metadata.get("generation")
        if isinstance(generation, int) and generation > 0:
            metadata["generation"] = generation + 1
    when, current = _time(existing), _time(now)
    if not existing or when is None or (current is not None and when > current):
        metadata["deletionTimestamp"] = now
    metadata["deletionGracePeriodSeconds"] = 0


def starts_deletion(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether the update of ``old`` to ``new`` starts a deletion (sets the first
    ``deletionTimestamp``): the generation moves, as Kubernetes' graceful deletion moves it."""
    return deleting(new) and not deleting(old)


def finished(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether the update of ``old`` (being deleted, no grace period pending) to ``new``
    removes the object: ``new`` has no finalizers left."""
    if not deleting(old) or pending(new):
        return False
    grace = meta.metadata_of(old).get("deletionGracePeriodSeconds")
    return grace is None or grace == 0


def for_propagation(
    obj: Mapping[str, Any], policy: str | None, orphan_dependents: bool | None
) -> list[str] | None:
    """The ``metadata.finalizers`` a delete of ``obj`` with DeleteOptions' ``policy``
    (``propagationPolicy``) and ``orphan_dependents`` leaves it, ``None`` when unchanged: an
    explicit option decides, else the object's own :data:`ORPHAN` / :data:`FOREGROUND` stays
    (Kubernetes' ``shouldOrphanDependents`` and ``shouldDeleteDependents``)."""
    current = _strings(meta.metadata_of(obj).get("finalizers"))
    if orphan_dependents is not None:
        orphan, foreground = orphan_dependents, False
    elif policy is not None:
        orphan, foreground = policy == ORPHAN_POLICY, policy == FOREGROUND_POLICY
    else:
        orphan, foreground = ORPHAN in current, FOREGROUND in current and ORPHAN not in current
    wanted = [f for f in current if f not in (ORPHAN, FOREGROUND)]
    wanted += [ORPHAN] if orphan else []
    wanted += [FOREGROUND] if foreground else []
    return None if set(wanted) == set(current) else wanted
