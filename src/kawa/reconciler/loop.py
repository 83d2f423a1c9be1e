"""The reconcile loop: watch -> per-key work queue -> reconcile, with requeue on failure.

A :class:`Controller` watches one or more resources of the store, turns every change into the
keys it affects (a ``mapper`` per watched resource: a Trigger's change concerns that Trigger;
a Broker's change concerns the Broker and every Trigger bound to it) and hands each key to
``reconcile``. Keys are deduplicated while waiting; one key is never reconciled by two tasks
at once; keys are reconciled by a few workers in parallel. A reconcile that raises
:class:`kawa.errors.TemporaryError` is retried after its delay; any other error is logged and
retried with exponential backoff (capped), as Kubernetes controllers do.

Started by :mod:`kawa.runtime`; reconcilers live beside this module.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from kawa.errors import GoneError, TemporaryError
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
        workers: int = 4,
        max_backoff: float = 300.0,
        resync: float | None = 10.0,
    ) -> None:
        self.name = name
        self._store = store
        self._reconcile = reconcile
        self._watches = tuple(watches)
        self._workers = workers
        self._max_backoff = max_backoff
        self._resync = resync
        self.queue = WorkQueue()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for watch in self._watches:
                tg.create_task(self._watch(watch), name=f"{self.name}-watch-{watch.resource}")
            for i in range(self._workers):
                tg.create_task(self._work(), name=f"{self.name}-worker-{i}")
            if self._resync:
                tg.create_task(self._resync_forever(self._resync), name=f"{self.name}-resync")

    async def _resync_forever(self, interval: float) -> None:
        """Reconcile everything again now and then, as informers resync: what an object
        depends on may change without a watch event this controller sees (a dead-letter sink
        in another namespace becoming addressable, say)."""
        while True:
            await asyncio.sleep(interval)
            for watch in self._watches:
                listed = await self._store.list(watch.resource)
                for obj in listed.items:
                    event = WatchEvent("ADDED", obj, listed.resource_version)
                    for key in await watch.mapper(event):
                        self.queue.add(key)

    async def _watch(self, watch: Watch) -> None:
        since: int | None = None
        while True:
            try:
                if since is None:
                    # List, then watch from the list's resourceVersion (Kubernetes' informer).
                    listed = await self._store.list(watch.resource)
                    for obj in listed.items:
                        event = WatchEvent("ADDED", obj, listed.resource_version)
                        for key in await watch.mapper(event):
                            self.queue.add(key)
                    since = listed.resource_version
                async for event in self._store.watch(watch.resource, since=since):
                    since = event.resource_version
                    for key in await watch.mapper(event):
                        self.queue.add(key)
                return
            except GoneError:
                since = None

    async def _work(self) -> None:
        while True:
            key = await self.queue.get()
            try:
                await self._reconcile(key)
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
                self.queue.done(key)

    def _backoff(self, failures: int) -> float:
        return float(min(self._max_backoff, 0.05 * 2 ** min(failures, 20)))


def own_key(event: WatchEvent, resource: str) -> ResourceKey:
    """The key of the object a watch event is about."""
    meta = event.object["metadata"]
    return ResourceKey(resource, meta.get("namespace", ""), meta["name"])
