"""The hooks a kind's strategy offers the generic CRUD, and the rules every kind follows.

Like Kubernetes' registry strategies (``PrepareForUpdate``, ``Validate``,
``CheckGracefulDelete``) and its NamespaceLifecycle admission, a :class:`Strategy` holds what
one kind does differently on the way to the store; the CRUD handlers
(:mod:`kawa.apiserver.writes`, :mod:`kawa.apiserver.deletes`) call its hooks and know no kind
by name. :class:`Strategy` itself is the default, with the rules of every kind (Kubernetes'
``BeforeUpdate`` and ``ValidateObjectMetaUpdate``): an update never sets, moves or clears
``deletionTimestamp`` and ``deletionGracePeriodSeconds`` (only a delete does), and adds no
finalizer to an object being deleted. A kind with rules of its own subclasses it in its own
module of :mod:`kawa.apiserver.strategies`. Pure: hooks see plain objects and the time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from kawa.apis import meta
from kawa.errors import FieldError

DELETION_FIELDS: Final = ("deletionTimestamp", "deletionGracePeriodSeconds")
"""Set by a delete only (:meth:`Strategy.plan_deletion`), never by an update."""


@dataclass(frozen=True, slots=True)
class Deletion:
    """What a delete request does to an object.

    ``immediate``: remove the object now (with ``metadata``: after setting it, so that
    watchers see it first, such as the kubelet the grace period of 0 of a forced deletion);
    the store keeps an object with finalizers, marked deleting, until they are gone.
    Otherwise ``metadata`` holds the fields to set, and the object stays for someone else to
    remove (``None``: a pending deletion stays as it is); ``spec`` and ``status`` hold fields
    of those to set with them (a Namespace's ``finalizers`` and ``phase: Terminating``).
    """

    immediate: bool
    metadata: Mapping[str, Any] | None = None
    spec: Mapping[str, Any] | None = None
    status: Mapping[str, Any] | None = None


IMMEDIATE: Final = Deletion(immediate=True)


@dataclass(frozen=True, slots=True)
class Reference:
    """An object a write names that must exist (a Pod's node): ``resource`` (cluster-scoped)
    ``name``, else a field error at ``path`` saying ``message``."""

    path: str
    resource: str
    name: str
    message: str


class Strategy:
    """The generic rules; a kind with its own overrides the hooks it needs."""

    def prepare_for_update(self, old: Mapping[str, Any], new: dict[str, Any]) -> None:
        """Adjust ``new``, an admitted update of ``old``, before it is checked and stored
        (fields only the API server sets): the deletion fields stay those of ``old``."""
        keep_deletion(old, new)

    def validate(self, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[FieldError]:
        """The kind's rules for a write of ``new`` (a create when ``old`` is ``None``) beyond
        its declaration: by default, no new finalizer on an object being deleted."""
        return [] if old is None else no_new_finalizers(old, new)

    def references(self, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[Reference]:
        """The cluster-scoped objects a write of ``new`` (a create when ``old`` is ``None``)
        names that must exist; the CRUD looks them up (none by default)."""
        return []

    def forbids_deletion(self, name: str) -> str | None:
        """Why the object ``name`` may never be deleted (the message of a 403), ``None``
        when it may. A delete of the collection leaves such objects out."""
        return None

    def plan_deletion(
        self, obj: Mapping[str, Any], grace_period: int | None, now: datetime
    ) -> Deletion:
        """How a delete request removes ``obj`` at ``now``, given DeleteOptions'
        ``gracePeriodSeconds`` (``None`` when unset): at once by default."""
        return IMMEDIATE


def keep_deletion(old: Mapping[str, Any], new: dict[str, Any]) -> None:
    """Carry the deletion fields of ``old`` onto ``new`` (an update never sets or clears
    them, as in Kubernetes)."""
    old_meta = meta.metadata_of(old)
    new_meta = new.get("metadata")
    if not isinstance(new_meta, dict):
        return
    for key in DELETION_FIELDS:
        if key in old_meta:
            new_meta[key] = old_meta[key]
        else:
            new_meta.pop(key, None)


def _finalizers(obj: Mapping[str, Any]) -> list[str]:
    found = meta.metadata_of(obj).get("finalizers")
    return [f for f in found if isinstance(f, str)] if isinstance(found, list) else []


def no_new_finalizers(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[FieldError]:
    """Kubernetes' ``ValidateNoNewFinalizers``: once ``old`` is being deleted, an update may
    only take finalizers away."""
    if not meta.metadata_of(old).get("deletionTimestamp"):
        return []
    added = sorted(set(_finalizers(new)) - set(_finalizers(old)))
    if not added:
        return []
    listed = ", ".join(f'"{f}"' for f in added)
    return [
        FieldError(
            "metadata.finalizers",
            "Forbidden: no new finalizers can be added if the object is being deleted, "
            f"found new finalizers [{listed}]",
        )
    ]
