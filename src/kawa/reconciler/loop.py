"""The reconcile loop: watch -> per-key work queue -> reconcile, with requeue on failure.

A :class:`Controller` follows one or more resources of the store (list, then watch: the
informer of :mod:`.informer`), turns every change into the keys it affects (a ``mapper`` per
watched resource: a Trigger's change concerns that Trigger) and hands each key to
``reconcile``. With a :class:`~kawa.reconciler.tracker.Tracker`, a change of any object a key
resolved also concerns that key (Knative's tracker): the controller watches every resource its
tracker has seen and wraps each reconcile in the tracker's begin/end. Keys are deduplicated
while waiting; one key is never reconciled by two tasks at once; keys are reconciled by a few
workers in parallel. A reconcile that raises :class:`kawa.errors.TemporaryError` is retried
after its delay; any other error is logged and retried with exponential backoff (capped), as
Kubernetes controllers do. Everything is reconciled again every ``resync`` seconds, a safety
net for changes no watch reports. A store failing for a while (a NATS server of the JetStream
store died) stops nothing: the informers wait and resume, a resync that cannot list waits for
the next round.

Started by :mod:`kawa.runtime`; built by the controllers and the sources (see
:func:`own`, :func:`in_namespace` and :func:`every` for the usual mappers).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from kawa.errors import TemporaryError
from kawa.reconciler.informer import inform
from kawa.reconciler.tracker import Tracker
from kawa.store.base import ResourceKey, ResourceStore, WatchEvent

log = logging.getLogger(__name__)

Reconcile = Callable[[ResourceKey], Awaitable[None]]
Mapper = Callable[[WatchEvent], Awaitable[Iterable[ResourceKey]]]


@dataclass(frozen=True, slots=True)
class Watch:
    """Watch ``resource`` (all namespaces) and map each change to keys to reconcile."""

    resource: str
    mapper: Mapper


class WorkQueue:
    """A deduplicating queue of keys: a key waits at most once; one worker per key at a time."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[ResourceKey] = asyncio.Queue()
        self._dirty: set[ResourceKey] = set()
        self._processing: set[ResourceKey] = set()
        self._failures: dict[ResourceKey, int] = {}

    def add(self, key: ResourceKey) -> None:
        if key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.put_nowait(key)

    def add_after(self, key: ResourceKey, delay: float) -> None:
        asyncio.get_running_loop().call_later(delay, self.add, key)

    async def get(self) -> ResourceKey:
        key = await self._queue.get()
        self._dirty.discard(key)
        self._processing.add(key)
        return key

    def done(self, key: ResourceKey) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.put_nowait(key)

    def failures(self, key: ResourceKey) -> int:
        return self._failures.get(key, 0)

    def record(self, key: ResourceKey, *, failed: bool) -> int:
        if not failed:
            self._failures.pop(key, None)
            return 0
        self._failures[key] = self._failures.get(key, 0) + 1
        return self._failures[key]

    def idle(self) -> bool:
        return not self._dirty and not self._processing


class Controller:
    """Runs watches and workers for one reconciler until cancelled."""

    def __init__(
        self,
        name: str,
        store: ResourceStore,
        reconcile: Reconcile,
        watches: Iterable[Watch],
        *,
        tracker: Tracker | None = None,
        workers: int = 4,
        max_backoff: float = 300.0,
        resync: float | None = 10.0,
    ) -> None:
        self.name = name
        self._store = store
        self._reconcile = reconcile
        self._watches = tuple(watches)
        self._mappers: dict[str, list[Mapper]] = {}
        for watch in self._watches:
            self._mappers.setdefault(watch.resource, []).append(watch.mapper)
        self.tracker = tracker
        self._workers = workers
        self._max_backoff = max_backoff
        self._resync = resync
        self._task_group: asyncio.TaskGroup | None = None
        self._watching: set[str] = set()
        self.queue = WorkQueue()
        if tracker is not None:
            tracker.subscribe(self._follow)

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                self._task_group = tg
                tracked = self.tracker.resources() if self.tracker is not None else frozenset()
                for resource in (*self._mappers, *sorted(tracked)):
                    self._follow(resource)
                for i in range(self._workers):
                    tg.create_task(self._work(), name=f"{self.name}-worker-{i}")
                if self._resync:
                    tg.create_task(self._resync_forever(self._resync), name=f"{self.name}-resync")
        finally:
            self._task_group = None
            self._watching.clear()

    def enqueue(self, resource: str, namespace: str, name: str) -> None:
        """Reconcile the object ``namespace/name`` of ``resource`` soon."""
        self.queue.add(ResourceKey(resource, namespace, name))

    def _follow(self, resource: str) -> None:
        """Watch ``resource`` (once), when running; :meth:`run` starts the others."""
        if self._task_group is None or resource in self._watching:
            return
        self._watching.add(resource)
        self._task_group.create_task(self._watch(resource), name=f"{self.name}-watch-{resource}")

    async def _resync_forever(self, interval: float) -> None:
        """Reconcile everything again now and then, as informers resync: a safety net for a
        change no watch reports (what a key depends on is tracked and reported at once)."""
        while True:
            await asyncio.sleep(interval)
            for watch in self._watches:
                try:
                    listed = await self._store.list(watch.resource)
                    for obj in listed.items:
                        event = WatchEvent("ADDED", obj, listed.resource_version)
                        for key in await watch.mapper(event):
                            self.queue.add(key)
                except TemporaryError as err:  # the store fails for now: the next round
                    log.warning("%s: resync of %s: %s", self.name, watch.resource, err)

    async def _watch(self, resource: str) -> None:
        mappers = self._mappers.get(resource, [])

        async def changed(event: WatchEvent) -> None:
            for mapper in mappers:
                for key in await mapper(event):
                    self.queue.add(key)
            if self.tracker is not None:
                for key in self.tracker.keys_for(own_key(event, resource)):
                    self.queue.add(key)

        await inform(self._store, resource, changed)

    async def _work(self) -> None:
        while True:
            key = await self.queue.get()
            if self.tracker is not None:
                self.tracker.begin(key)
            completed = False
            try:
                await self._reconcile(key)
                completed = True
            except TemporaryError as err:
                count = self.queue.record(key, failed=True)
                delay = err.delay if err.delay is not None else self._backoff(count)
                log.info("%s: %s: %s (retry in %.1fs)", self.name, key, err, delay)
                self.queue.add_after(key, delay)
            except Exception:
                count = self.queue.record(key, failed=True)
                delay = self._backoff(count)
                log.exception("%s: reconciling %s failed (retry in %.1fs)", self.name, key, delay)
                self.queue.add_after(key, delay)
            else:
                self.queue.record(key, failed=False)
            finally:
                if self.tracker is not None:
                    self.tracker.end(key, completed=completed)
                self.queue.done(key)

    def _backoff(self, failures: int) -> float:
        return float(min(self._max_backoff, 0.05 * 2 ** min(failures, 20)))


def own_key(event: WatchEvent, resource: str) -> ResourceKey:
    """The key of the object a watch event is about."""
    meta = event.object["metadata"]
    return ResourceKey(resource, meta.get("namespace", "") or "", meta["name"])


def own(resource: str) -> Watch:
    """Watch ``resource``: a change of an object concerns that object."""

    async def keys(event: WatchEvent) -> Iterable[ResourceKey]:
        return [own_key(event, resource)]

    return Watch(resource, keys)


def in_namespace(store: ResourceStore, resource: str) -> Mapper:
    """A change concerns every object of ``resource`` in the changed object's namespace."""

    async def keys(event: WatchEvent) -> Iterable[ResourceKey]:
        namespace = str(event.object["metadata"].get("namespace", "") or "")
        listed = await store.list(resource, namespace)
        return [ResourceKey(resource, namespace, i["metadata"]["name"]) for i in listed.items]

    return keys


def every(store: ResourceStore, resource: str) -> Mapper:
    """A change concerns every object of ``resource``."""

    async def keys(event: WatchEvent) -> Iterable[ResourceKey]:
        listed = await store.list(resource)
        return [
            ResourceKey(
                resource, str(i["metadata"].get("namespace", "") or ""), i["metadata"]["name"]
            )
            for i in listed.items
        ]

    return keys


Requeue = Callable[[ResourceKey, float], None]
"""``requeue(key, delay)``: reconcile ``key`` again after ``delay`` seconds."""


class LateRequeue:
    """A :data:`Requeue` for a reconciler built before its :class:`Controller`: it does
    nothing until ``controller`` is set, then adds to that controller's queue."""

    __slots__ = ("controller",)

    def __init__(self) -> None:
        self.controller: Controller | None = None

    def __call__(self, key: ResourceKey, delay: float) -> None:
        if self.controller is not None:
            self.controller.queue.add_after(key, delay)
