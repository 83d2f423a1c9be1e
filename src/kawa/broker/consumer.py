"""One trigger's consumer: reads its broker's log from a durable cursor, filters, delivers.

Each Trigger gets its own consumer, so a slow or failing subscriber only ever holds up its
own trigger. The consumer keeps up to ``max_in_flight`` deliveries running at once
(unordered, the default), or delivers one event at a time per ``partitionkey`` extension
value when the trigger asks for ordered delivery. The events it holds count against the
delivery memory budget all consumers share (:mod:`kawa.broker.budget`), of which one trigger
holds at most a quarter: it reads only what the budget has room for, and waits (the events
stay in the log) when it is spent.

Its progress is the highest sequence below which every event is finished (delivered,
dead-lettered, dropped or filtered out); that watermark is saved to the log as the trigger's
cursor, so after a restart delivery resumes there (at least once: events in flight at a crash
are delivered again).

Created and stopped by :mod:`kawa.broker.dataplane`; delivers through
:class:`kawa.delivery.sender.Dispatcher`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

from kawa.apis.duck import DeliveryFormat
from kawa.broker import envelope, ttl
from kawa.broker.budget import DeliveryBudget
from kawa.cloudevents.event import CloudEvent
from kawa.delivery.policy import RetryPolicy
from kawa.delivery.sender import DeliveryResult, Dispatcher
from kawa.errors import KawaError, ValidationError
from kawa.eventlog.base import EventLog, Record
from kawa.filters.base import Filter

log = logging.getLogger(__name__)

ReplyPublisher = Callable[[CloudEvent], Awaitable[None]]

TRIGGER_SHARE: Final = 4
"""A consumer holds at most 1/TRIGGER_SHARE of the delivery budget, so a stuck subscriber with
large events leaves the rest to the other triggers."""
READ_SHARE: Final = 8
"""A consumer reserves at most 1/READ_SHARE of the delivery budget per read (and gives back at
once what its records do not need), so that one read never takes the whole budget."""


@dataclass(frozen=True, slots=True)
class TriggerTarget:
    """Everything a consumer needs to know about its trigger, resolved by the control plane."""

    namespace: str
    name: str
    uid: str
    stream: str
    subscriber_uri: str
    dead_letter_uri: str | None
    policy: RetryPolicy
    format: DeliveryFormat
    filter: Filter = field(compare=False)
    filter_spec: str = ""
    ordered: bool = False
    ready_since: float | None = field(default=None, compare=False)
    """When the trigger became Ready (unix time, to the second): a new trigger's consumer
    delivers the events appended since then, even those that arrived before it started."""

    @property
    def consumer_id(self) -> str:
        """The name of this trigger's cursor in the event log (:func:`trigger_cursor`)."""
        return trigger_cursor(self.uid, self.stream)


async def start_after(log: EventLog, stream: str, since: float | None) -> int:
    """Where a new trigger's consumer starts: after the last record appended before
    ``since`` (when the trigger became Ready), so that an event sent the moment the trigger
    shows Ready is delivered however late the consumer starts; the stream's end when
    ``since`` is unknown. Reads back from the end in growing steps (usually one read)."""
    last = await log.last_seq(stream)
    if since is None:
        return last
    position, step = last, 64
    while position > 0:
        lower = max(0, position - step)
        records = await log.read(stream, lower, position - lower)
        if not records:
            return lower  # trimmed away: nothing older is left to skip
        older = [r.seq for r in records if r.appended_at < since]
        if older:
            return max(older)  # appended_at never decreases within a stream
        position, step = records[0].seq - 1, step * 2
    return 0


def trigger_cursor(trigger_uid: str, stream: str) -> str:
    """The event-log cursor of a trigger reading a broker's stream: ``trigger:<uid>@<stream>``.

    The one place the name is made. It names the stream too: a re-created broker is a new
    stream, so a cursor never applies to the wrong one.
    """
    return f"trigger:{trigger_uid}@{stream}"


@dataclass(slots=True)
class ConsumerStats:
    """Counters a consumer keeps (read by metrics and tests)."""

    matched: int = 0
    filtered_out: int = 0
    delivered: int = 0
    replies: int = 0
    dead_lettered: int = 0
    dropped: int = 0
    last_error: str = ""


class TriggerConsumer:
    """Runs until cancelled (see the module docstring)."""

    def __init__(
        self,
        target: TriggerTarget,
        event_log: EventLog,
        dispatcher: Dispatcher,
        publish_reply: ReplyPublisher,
        *,
        budget: DeliveryBudget | None = None,
        max_in_flight: int = 100,
        batch: int = 256,
        commit_interval: float = 0.05,
    ) -> None:
        self.target = target
        self.stats = ConsumerStats()
        self._log = event_log
        self._dispatcher = dispatcher
        self._publish_reply = publish_reply
        self._budget = budget if budget is not None else DeliveryBudget()
        self._own = self._own_budget()
        self._max_in_flight = max_in_flight
        self._batch = batch
        self._commit_interval = commit_interval
        self._slots = asyncio.Semaphore(max_in_flight)
        self._pending: set[int] = set()
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._fetched = 0
        self._committed = 0
        self._last_commit = 0.0
        self._saving: asyncio.Task[None] | None = None
        self.started = asyncio.Event()

    @property
    def stream(self) -> str:
        """The broker's stream this consumer reads."""
        return self.target.stream

    @property
    def fetched(self) -> int:
        """The seq of the last record taken from the log (to deliver or to skip)."""
        return self._fetched

    async def run(self) -> None:
        target = self.target
        cursor = await self._log.load_cursor(target.consumer_id)
        if cursor is None:
            # A new trigger sees the events that arrive after it is Ready, not the backlog:
            # from the moment it became Ready, not from the moment this consumer started.
            cursor = await start_after(self._log, target.stream, target.ready_since)
            await self._log.save_cursor(target.consumer_id, target.stream, cursor)
        self._fetched = self._committed = cursor
        self._pending = set()
        self._tails = {}
        self._slots = asyncio.Semaphore(self._max_in_flight)
        self._own = self._own_budget()
        self.started.set()
        try:
            while True:
                if not await self._log.wait(target.stream, self._fetched, 0):
                    self._commit(force=True)
                    await self._log.wait(target.stream, self._fetched, 1.0)
                    continue
                if self._slots.locked():  # every place is taken: wait for one before reading
                    async with self._slots:
                        pass
                records, held = await self._read()
                if not records:
                    self._commit(force=True)
                    await self._log.wait(target.stream, self._fetched, 1.0)
                    continue
                await self._dispatch_all(records, held)
                # from here on an event lives in its delivery only: no payload stays in memory,
                # unaccounted, once its delivery has given its bytes back
                del records
                self._commit()
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            # Deliveries cut short stay pending, so the last watermark saved stops before them.
            if self._saving is not None and not self._saving.done():
                await asyncio.gather(self._saving, return_exceptions=True)
            self._commit(force=True)
            if self._saving is not None:
                await asyncio.gather(self._saving, return_exceptions=True)

    async def _read(self) -> tuple[list[Record], int]:
        """The next records, as many as free delivery places and the budget's bytes allow,
        and the bytes of the budget they hold (the sum of their payloads)."""
        free = self._max_in_flight - len(self._pending)
        own, shared = self._own, self._budget
        mine = await own.reserve(shared.capacity // READ_SHARE)
        try:
            reserved = await shared.reserve(mine)
        except BaseException:
            own.release(mine)
            raise
        own.release(mine - reserved)
        try:
            records = await self._log.read(
                self.target.stream,
                self._fetched,
                max(1, min(self._batch, free)),
                max_bytes=reserved,
            )
        except BaseException:
            self._give_back(reserved)
            raise
        size = sum(len(record.payload) for record in records)
        if size <= reserved:
            self._give_back(reserved - size)
        else:  # one record larger than what was free: wait for its bytes (alone if need be)
            self._give_back(reserved)
            await own.acquire(size)
            try:
                await shared.acquire(size)
            except BaseException:
                own.release(size)
                raise
        return records, size

    def _own_budget(self) -> DeliveryBudget:
        return DeliveryBudget(max(1, self._budget.capacity // TRIGGER_SHARE))

    def _give_back(self, size: int) -> None:
        """Return ``size`` bytes to this trigger's share and to the shared budget."""
        self._own.release(size)
        self._budget.release(size)

    async def _dispatch_all(self, records: list[Record], held: int) -> None:
        """Start the deliveries of ``records``, which hold ``held`` bytes of the budget."""
        try:
            for record in records:
                size = len(record.payload)
                await self._dispatch(record, size)
                held -= size
        finally:
            self._give_back(held)  # records a stop left undispatched

    async def _dispatch(self, record: Record, size: int) -> None:
        """Start the delivery of ``record``, which holds ``size`` bytes of the budget: the
        delivery gives them back when it ends; a record not delivered gives them back now."""
        try:
            event, headers = envelope.unwrap(record.payload)
        except (KawaError, ValueError) as err:
            log.error("trigger %s: unreadable record %d: %s", self.target.name, record.seq, err)
            self.stats.dropped += 1
            self._fetched = record.seq
            self._give_back(size)
            return
        if not self.target.filter(event):
            self.stats.filtered_out += 1
            self._fetched = record.seq
            self._give_back(size)
            return
        self.stats.matched += 1
        # Take a slot before the record counts as fetched: a stop while waiting here must not
        # let the watermark pass an event that was never delivered.
        await self._slots.acquire()
        self._pending.add(record.seq)
        self._fetched = record.seq
        previous: asyncio.Task[None] | None = None
        key = ""
        if self.target.ordered:
            key = str(event.attributes.get("partitionkey", ""))
            previous = self._tails.get(key)
        task = asyncio.create_task(self._deliver(record.seq, size, event, headers, previous))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if self.target.ordered:
            self._tails[key] = task
            task.add_done_callback(functools.partial(self._forget_tail, key))

    def _forget_tail(self, key: str, task: asyncio.Task[None]) -> None:
        if self._tails.get(key) is task:
            del self._tails[key]

    async def _deliver(
        self,
        seq: int,
        size: int,
        event: CloudEvent,
        headers: dict[str, str],
        previous: asyncio.Task[None] | None,
    ) -> None:
        finished = False
        try:
            if previous is not None and not previous.done():
                await asyncio.wait([previous])
            await self._deliver_one(seq, event, headers)
            finished = True
        finally:
            # A delivery cut short (the consumer stopping) stays pending: it is not finished.
            if finished:
                self._pending.discard(seq)
            self._slots.release()
            self._give_back(size)

    async def _deliver_one(self, seq: int, event: CloudEvent, headers: dict[str, str]) -> None:
        target = self.target
        try:
            result = await self._dispatcher.send(
                ttl.strip(event),
                target.subscriber_uri,
                policy=target.policy,
                format=target.format,
                headers=headers,
                namespace=target.namespace,
            )
        except asyncio.CancelledError:
            raise
        except Exception as err:  # a bug must not lose the event: dead-letter it
            log.exception("trigger %s: delivering event %d failed", target.name, seq)
            result = DeliveryResult(ok=False, status=None, attempts=1, error=repr(err))
        if result.ok:
            self.stats.delivered += 1
            if result.reply is None:
                return
            try:
                await self._publish_reply(ttl.carry(result.reply, event))
                self.stats.replies += 1
                return
            except ValidationError as err:
                # An exhausted TTL ends a reply loop: the reply is dropped, the delivery is done.
                log.info("trigger %s: reply dropped: %s", target.name, err)
                self.stats.dropped += 1
                return
            except KawaError as err:
                result = DeliveryResult(
                    ok=False,
                    status=result.status,
                    attempts=result.attempts,
                    reply=None,
                    response_body=result.response_body,
                    error=f"the reply could not be stored: {err}",
                )
        self.stats.last_error = result.error or f"status {result.status}"
        if target.dead_letter_uri:
            try:
                dls = await self._dispatcher.dead_letter(
                    ttl.strip(event),
                    target.dead_letter_uri,
                    result,
                    target.subscriber_uri,
                    policy=target.policy,
                    format=target.format,
                    headers=headers,
                    namespace=target.namespace,
                )
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.exception("trigger %s: dead-lettering event %d failed", target.name, seq)
                dls = DeliveryResult(ok=False, status=None, attempts=1, error=repr(err))
            if dls.ok:
                self.stats.dead_lettered += 1
                return
            log.warning(
                "trigger %s: event %s dropped: delivery failed (%s) and so did the dead-letter "
                "sink (%s)",
                target.name,
                event.id,
                self.stats.last_error,
                dls.error or dls.status,
            )
        else:
            log.warning(
                "trigger %s: event %s dropped after %d attempt(s): %s (no dead-letter sink)",
                target.name,
                event.id,
                result.attempts,
                self.stats.last_error,
            )
        self.stats.dropped += 1

    def _commit(self, *, force: bool = False) -> None:
        """Save the watermark in the background (at most one save in flight, at most one per
        ``commit_interval`` unless forced): the read loop never waits for the cursor's commit.
        A cursor that lags only means redelivery after a crash (at least once)."""
        if self._saving is not None and not self._saving.done():
            return
        watermark = (min(self._pending) - 1) if self._pending else self._fetched
        if watermark <= self._committed:
            return
        now = time.monotonic()
        if not force and now - self._last_commit < self._commit_interval:
            return
        self._last_commit = now
        self._saving = asyncio.create_task(self._save(watermark))

    async def _save(self, watermark: int) -> None:
        try:
            await self._log.save_cursor(self.target.consumer_id, self.target.stream, watermark)
        except KawaError as err:
            log.warning("trigger %s: could not save its cursor: %s", self.target.name, err)
            return
        self._committed = max(self._committed, watermark)
