"""The Triggers' ``LoopFree`` condition: which Triggers of a namespace are on an event loop.

:class:`LoopVerdicts` keeps, per namespace, the loop each Trigger is on (the message of
:func:`kawa.loops.message`), computed from the store when first asked for
(:mod:`kawa.reconciler.loops`) and forgotten when an object the analysis reads changes in a
way that matters to it (its spec, its ``kawa.dev/reply-types``, its owners, its address or
its deletion: a status write of a Trigger changes nothing). A change enqueues the Triggers
that were on a loop (they may be no longer); the next reconcile analyses the namespace again
and enqueues the Triggers newly found on a loop. So one change costs one analysis, however
many Triggers are reconciled after it, and the resync's unchanged objects cost none.

Used by :mod:`kawa.controllers.eventing` (the Trigger reconciler and its watches).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from kawa import loops
from kawa.apis.registry import TRIGGER
from kawa.apis.reply_types import ANNOTATION
from kawa.reconciler.loop import LateRequeue, Watch
from kawa.reconciler.loops import namespace_loops
from kawa.store.base import ResourceKey, ResourceStore, WatchEvent


def _fingerprint(event: WatchEvent) -> bytes | None:
    """What of an object the analysis reads (``None``: deleted)."""
    if event.type == "DELETED":
        return None
    obj = event.object
    metadata = obj.get("metadata") or {}
    status = obj.get("status") or {}
    address = status.get("address") if isinstance(status, dict) else None
    return orjson.dumps(
        [
            obj.get("spec"),
            (metadata.get("annotations") or {}).get(ANNOTATION),
            metadata.get("ownerReferences"),
            bool(metadata.get("deletionTimestamp")),
            address.get("url") if isinstance(address, dict) else None,
        ],
        option=orjson.OPT_SORT_KEYS,
    )


class LoopVerdicts:
    """The loop each Trigger is on, per namespace (see the module docstring)."""

    def __init__(self, store: ResourceStore) -> None:
        self._store = store
        self._verdicts: dict[str, dict[str, str]] = {}
        """namespace -> Trigger name -> the loop it is on."""
        self._prints: dict[tuple[str, str, str], bytes] = {}
        self._trigger_names: dict[str, set[str]] = {}
        """The Triggers of each namespace, as the watches saw them."""
        self._changes: dict[str, int] = {}
        """namespace -> changes seen (an analysis a change overtook is not kept)."""
        self.requeue = LateRequeue()
        """Reconciles a Trigger found on a loop (its controller is set once built)."""

    async def loop_of(self, namespace: str, name: str) -> str | None:
        """The loop Trigger ``namespace/name`` is on, ``None`` when it is on none."""
        verdicts = self._verdicts.get(namespace)
        if verdicts is None:
            verdicts = {}
            changes = self._changes.get(namespace, 0)
            for loop in await namespace_loops(self._store, namespace):
                for trigger in loop.triggers:
                    verdicts.setdefault(trigger, loops.message(loop))
            if self._changes.get(namespace, 0) == changes:
                self._verdicts[namespace] = verdicts
            for trigger in verdicts:
                if trigger != name:
                    self.requeue(ResourceKey(TRIGGER.resource, namespace, trigger), 0.0)
        return verdicts.get(name)

    def watches(self) -> list[Watch]:
        """A watch of every kind the analysis reads."""
        return [Watch(rk.resource, self._mapper(rk.resource)) for rk in loops.RESOURCE_KINDS]

    def _mapper(self, resource: str) -> Any:
        async def keys(event: WatchEvent) -> Iterable[ResourceKey]:
            metadata = event.object["metadata"]
            namespace = str(metadata.get("namespace") or "")
            key = (resource, namespace, str(metadata["name"]))
            fingerprint = _fingerprint(event)
            if self._prints.get(key) == fingerprint:
                return []
            if fingerprint is None:
                self._prints.pop(key, None)
            else:
                self._prints[key] = fingerprint
            if resource == TRIGGER.resource:
                names = self._trigger_names.setdefault(namespace, set())
                if fingerprint is None:
                    names.discard(key[2])
                    if not names:
                        del self._trigger_names[namespace]
                else:
                    names.add(key[2])
            self._changes[namespace] = self._changes.get(namespace, 0) + 1
            before = self._verdicts.pop(namespace, None)
            if before:
                return [ResourceKey(TRIGGER.resource, namespace, name) for name in before]
            # no Trigger was on a loop (or the verdicts were being made): one of the
            # namespace's Triggers, reconciled, finds a loop the change closed and requeues
            # the others on it
            for name in self._trigger_names.get(namespace, ()):
                return [ResourceKey(TRIGGER.resource, namespace, name)]
            return []

        return keys
