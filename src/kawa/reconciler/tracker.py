"""Dependency tracking (Knative's tracker): which reconciled keys resolved which objects, so
that a change of any of those objects reconciles the keys again at once.

A reconciler records every object it looks up on behalf of the key it reconciles (a Trigger's
Broker, its subscriber, a dead-letter sink, a source's sink), found or not: the creation of an
object that was missing matters as much as a change of one that exists. The
:class:`~kawa.reconciler.loop.Controller` wraps each reconcile in :meth:`Tracker.begin` /
:meth:`Tracker.end`: what the reconcile tracked replaces what the key tracked before (a key
whose object is gone tracks nothing afterwards), and while it runs the old references still
count, so no change slips between two reconciles. The controller watches every resource
that some key tracks (it is told of new ones through :meth:`Tracker.subscribe`) and enqueues
:meth:`Tracker.keys_for` of each changed object.

Pure bookkeeping, no I/O; used by :mod:`.loop`, :mod:`.resolver` and the reconcilers.
"""

from __future__ import annotations

from collections.abc import Callable

from kawa.store.base import ResourceKey

Track = Callable[[ResourceKey], None]
"""Records one reference on behalf of the key being reconciled (see :meth:`Tracker.track_for`)."""
NewResource = Callable[[str], None]


class Tracker:
    """References (objects, as store keys) tracked by keys, both ways."""

    def __init__(self) -> None:
        self._refs: dict[ResourceKey, set[ResourceKey]] = {}
        """key -> the references it tracks."""
        self._keys: dict[ResourceKey, set[ResourceKey]] = {}
        """reference -> the keys tracking it."""
        self._round: dict[ResourceKey, set[ResourceKey]] = {}
        """key -> what its reconcile under way has tracked so far."""
        self._resources: set[str] = set()
        self._listeners: list[NewResource] = []

    def track(self, ref: ResourceKey, key: ResourceKey) -> None:
        """``key`` depends on the object ``ref`` (which may not exist yet)."""
        self._refs.setdefault(key, set()).add(ref)
        self._keys.setdefault(ref, set()).add(key)
        current = self._round.get(key)
        if current is not None:
            current.add(ref)
        if ref.resource not in self._resources:
            self._resources.add(ref.resource)
            for listener in self._listeners:
                listener(ref.resource)

    def track_for(self, key: ResourceKey) -> Track:
        """A :data:`Track` recording references on behalf of ``key``."""
        return lambda ref: self.track(ref, key)

    def begin(self, key: ResourceKey) -> None:
        """A reconcile of ``key`` starts: what it tracks will replace the key's references."""
        self._round[key] = set()

    def end(self, key: ResourceKey, *, completed: bool = True) -> None:
        """The reconcile of ``key`` is over. When it ``completed``, the references it did not
        track again are forgotten; after a failure all are kept (it will run again)."""
        tracked = self._round.pop(key, None)
        if tracked is None or not completed:
            return
        for ref in self._refs.get(key, set()) - tracked:
            self._untrack(ref, key)

    def forget(self, key: ResourceKey) -> None:
        """``key`` tracks nothing any more."""
        self._round.pop(key, None)
        for ref in set(self._refs.get(key, ())):
            self._untrack(ref, key)

    def keys_for(self, ref: ResourceKey) -> frozenset[ResourceKey]:
        """The keys that track the object ``ref``."""
        return frozenset(self._keys.get(ref, ()))

    def references(self, key: ResourceKey) -> frozenset[ResourceKey]:
        """The objects ``key`` tracks."""
        return frozenset(self._refs.get(key, ()))

    def resources(self) -> frozenset[str]:
        """Every resource ever tracked (the ones a controller must watch)."""
        return frozenset(self._resources)

    def subscribe(self, listener: NewResource) -> None:
        """Call ``listener(resource)`` the first time a reference of ``resource`` is tracked."""
        self._listeners.append(listener)

    def _untrack(self, ref: ResourceKey, key: ResourceKey) -> None:
        refs = self._refs.get(key)
        if refs is not None:
            refs.discard(ref)
            if not refs:
                del self._refs[key]
        keys = self._keys.get(ref)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._keys[ref]
