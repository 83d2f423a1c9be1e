"""The consumers a data plane runs, and the log trimming they share.

:class:`Consumers` keeps one supervised task per consumer, keyed as its data plane likes (a
trigger's ``(namespace, name)``, a subscriber's ``(namespace, channel, uid)``): a consumer
that fails is logged and started again from its durable cursor, so one target's trouble never
stops the data plane; :meth:`Consumers.stop` waits until the consumer has saved its last
watermark. :class:`Trimmer` trims the whole event log periodically (events every consumer of
their stream is past, older than the retention) and at once, at most once a second, when an
append finds the log full: trimming is what makes room again. The retention is the log's
(``kawa up --retention``) unless a stream has its own (a Broker's ``kawa.dev/retention``,
told by the data plane with :meth:`Trimmer.retain`). One Trimmer serves brokers and channels
alike (:mod:`kawa.runtime`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable, Coroutine, Hashable, Iterator
from typing import Any, Final, Generic, Protocol, TypeVar

from kawa.dispatch.consumer import Consumer
from kawa.dispatch.lineage import lineage_stream
from kawa.errors import InsufficientStorageError, KawaError, TemporaryError
from kawa.eventlog.base import EventLog

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)

TRIM_GAP: Final = 1.0
"""Seconds at least between two trims (a full log asks for one with every refused event)."""


class Gate(Protocol):
    """The exclusive rights among the nodes sharing the log: an ordered consumer runs under
    one when several processes share its durable consumer (per-key order holds within one
    puller only)."""

    async def hold(self, name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``run()`` only while this process holds the right ``name``, again each time it
        wins it back, until cancelled."""
        ...

    async def drop(self, name: str) -> None:
        """Forget the right ``name`` (its consumer is deleted)."""
        ...


class Consumers(Generic[K]):
    """Running consumers by key (see the module docstring); with a ``gate``, an ordered
    consumer runs only where its :data:`Gate` lets it."""

    def __init__(self, gate: Gate | None = None) -> None:
        self._running: dict[K, tuple[Consumer, asyncio.Task[None]]] = {}
        self._gate = gate

    def get(self, key: K) -> Consumer | None:
        found = self._running.get(key)
        return None if found is None else found[0]

    def items(self) -> Iterator[tuple[K, Consumer]]:
        for key, (consumer, _) in list(self._running.items()):
            yield key, consumer

    def started(self) -> list[Consumer]:
        """The consumers that have loaded their cursor and are reading."""
        return [c for c, _ in self._running.values() if c.started.is_set()]

    async def start(self, key: K, consumer: Consumer, task_group: asyncio.TaskGroup) -> None:
        """Run ``consumer`` under ``key`` (stop the one there first); returns once it has
        loaded its cursor (or failed)."""
        await self.stop(key)
        gate = self._gate if consumer.target.ordered else None
        work = _supervise(consumer) if gate is None else _gated(consumer, gate)
        task = task_group.create_task(work, name=f"{consumer.target.kind}-{consumer.target.label}")
        self._running[key] = (consumer, task)
        started = asyncio.ensure_future(consumer.started.wait())
        await asyncio.wait([started, task], return_when=asyncio.FIRST_COMPLETED)
        started.cancel()

    async def stop(self, key: K) -> Consumer | None:
        """Stop the consumer of ``key`` (its last watermark is saved); it, if one ran."""
        running = self._running.pop(key, None)
        if running is None:
            return None
        consumer, task = running
        task.cancel()
        # wait() does not re-raise the task's cancellation, so ours is never swallowed.
        await asyncio.wait([task])
        return consumer

    async def forget(self, consumer: Consumer) -> None:
        """``consumer`` (stopped) is deleted: drop its exclusive right, if it had one."""
        if self._gate is not None and consumer.target.ordered:
            await self._gate.drop(exclusive_name(consumer))

    async def stop_where(self, predicate: Callable[[K, Consumer], bool]) -> list[Consumer]:
        """Stop every consumer ``predicate`` picks; them."""
        stopped = []
        for key, consumer in self.items():
            if predicate(key, consumer):
                await self.stop(key)
                stopped.append(consumer)
        return stopped


def exclusive_name(consumer: Consumer) -> str:
    """The name of the right to run ``consumer`` alone (a DNS-1123 name, from its cursor)."""
    digest = hashlib.sha256(consumer.target.consumer_id.encode()).hexdigest()[:24]
    return f"kawa-ordered-{digest}"


async def _gated(consumer: Consumer, gate: Gate) -> None:
    """Run ``consumer`` (supervised) whenever ``gate`` lets this process. It counts as
    started at once: a process that does not hold the right has nothing to load."""
    consumer.started.set()
    failures = 0
    while True:
        try:
            await gate.hold(exclusive_name(consumer), lambda: _supervise(consumer))
            return
        except Exception as err:
            failures += 1
            delay = min(30.0, 0.1 * 2**failures)
            log.warning(
                "%s: holding the right to deliver in order failed (%s); again in %.1fs",
                consumer.target.label,
                err,
                delay,
            )
            await asyncio.sleep(delay)


async def _supervise(consumer: Consumer) -> None:
    """Run a consumer; if it fails, log it and start it again (its cursor is durable)."""
    failures = 0
    while True:
        try:
            await consumer.run()
            return
        except TemporaryError as err:  # the log is away for a while (a NATS failover)
            failures += 1
            delay = min(30.0, 0.1 * 2**failures)
            log.warning("%s: %s; restarting in %.1fs", consumer.target.label, err, delay)
            consumer.started.set()
            await asyncio.sleep(delay)
        except Exception:
            failures += 1
            delay = min(30.0, 0.1 * 2**failures)
            log.exception("%s: consumer failed; restarting in %.1fs", consumer.target.label, delay)
            consumer.started.set()
            await asyncio.sleep(delay)


class Trimmer:
    """Trims the event log (see the module docstring); :meth:`run` until cancelled."""

    def __init__(self, event_log: EventLog, *, retention: float, interval: float) -> None:
        self._log = event_log
        self._retention = retention
        self._interval = interval
        self._room_wanted = asyncio.Event()
        self._streams: dict[str, float] = {}

    def retain(self, stream: str, seconds: float | None) -> None:
        """Keep the records of ``stream``, and of its lineage (kept as long as its events),
        ``seconds`` (``kawa.dev/retention``; ``None``: the log's retention)."""
        for name in (stream, lineage_stream(stream)):
            if seconds is None:
                self._streams.pop(name, None)
            else:
                self._streams[name] = seconds

    async def trim(self) -> int:
        """Trim the log once now (each stream by its retention); how many records went."""
        return await self._log.trim(self._retention, streams=dict(self._streams))

    def want_room(self) -> None:
        """An append found the log full: trim soon."""
        self._room_wanted.set()

    @property
    def keeps_ids(self) -> bool:
        """Whether the log's appends look at their ids (:class:`~kawa.eventlog.base.EventLog`)."""
        return self._log.keeps_ids

    async def append(
        self, stream: str, payloads: list[bytes], ids: list[str] | None = None
    ) -> list[int]:
        """Append to the log (durably, when it returns; ``ids`` as
        :meth:`kawa.eventlog.base.EventLog.append`) and return the seqs; a full log asks for a
        trim and raises its InsufficientStorageError."""
        try:
            return await self._log.append(stream, payloads, ids=ids)
        except InsufficientStorageError:
            self.want_room()
            raise

    async def run(self) -> None:
        if self._interval <= 0:
            return
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._room_wanted.wait(), self._interval)
            self._room_wanted.clear()
            try:
                deleted = await self.trim()
                if deleted:
                    log.debug("event log: trimmed %d events", deleted)
            except KawaError as err:
                log.warning("event log trim failed: %s", err)
            await asyncio.sleep(TRIM_GAP)
