"""The hooks a kind's strategy offers the generic CRUD, and the rules every kind follows.

Like Kubernetes' registry strategies (``PrepareForUpdate``, ``CheckGracefulDelete``) and its
NamespaceLifecycle admission, a :class:`Strategy` holds what one kind does differently on
the way to the store; the CRUD handlers (:mod:`kawa.apiserver.writes`,
:mod:`kawa.apiserver.deletes`) call its hooks and know no kind by name. :class:`Strategy`
itself is the default (no rules of its own); a kind with rules subclasses it in its own
module of :mod:`kawa.apiserver.strategies`. Pure: hooks see plain objects and the time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final


@dataclass(frozen=True, slots=True)
class Deletion:
    """What a delete request does to an object.

    ``immediate``: remove the object now (with ``metadata``: after setting it, so that
    watchers see it first, such as the kubelet the grace period of 0 of a forced deletion).
    Otherwise ``metadata`` holds the fields to set, and the object stays for someone else to
    remove (``None``: a pending graceful deletion stays as it is).
    """

    immediate: bool
    metadata: Mapping[str, Any] | None = None


IMMEDIATE: Final = Deletion(immediate=True)


class Strategy:
    """The generic rules; a kind with its own overrides the hooks it needs."""

    def prepare_for_update(self, old: Mapping[str, Any], new: dict[str, Any]) -> None:
        """Adjust ``new``, an admitted update of ``old``, before it is checked and stored
        (fields only the API server sets). Nothing by default."""

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
