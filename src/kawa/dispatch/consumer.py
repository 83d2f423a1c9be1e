"""One consumer of a stream of the event log: from a durable cursor, filter, deliver.

Every Trigger (:mod:`kawa.broker.dataplane`) and every channel subscriber
(:mod:`kawa.channels.dataplane`) gets its own consumer, so a slow or failing subscriber only
ever holds up its own trigger or subscription. The consumer keeps up to ``max_in_flight``
deliveries running at once (unordered, the default), or delivers one event at a time per
``partitionkey`` extension value when the trigger asks for ordered delivery. The events it
holds count against the delivery memory budget all consumers share
(:mod:`kawa.dispatch.budget`), of which one consumer holds at most a quarter: it reads only
what the budget has room for, and waits (the events stay in the log) when it is spent.

It takes records through its :class:`~kawa.eventlog.feed.Feed` (the event log's durable
position of this consumer) and tells the feed when each one is finished (delivered,
dead-lettered, dropped or filtered out): after a restart delivery resumes with what was not
finished (at least once: events in flight at a crash are delivered again).

What differs between a trigger and a subscription comes in as plain values and two hooks: the
:class:`Target` (where to, which filter, which policy) and ``prepare`` (the broker strips its
TTL before delivery) and ``publish_reply`` (the broker puts a reply back into itself, a
channel sends it to the subscription's reply). Delivers through
:class:`kawa.delivery.sender.Dispatcher`. What becomes of each event goes to the
:class:`~kawa.dispatch.stats.ConsumerReport` of the consumer (metrics; none by default), and
with tracing on each filter evaluation, delivery, reply and dead letter is a span
(:mod:`kawa.dispatch.spans`); with lineage on (a trigger of a broker that keeps it), each
decision, attempt, outcome and reply is noted in the broker's lineage
(:mod:`kawa.dispatch.lineage`).
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
from kawa.cloudevents.event import CloudEvent
from kawa.delivery import tracing
from kawa.delivery.policy import RetryPolicy
from kawa.delivery.sender import Attempt, DeliveryResult, Dispatcher
from kawa.dispatch import envelope, stats
from kawa.dispatch.budget import DeliveryBudget
from kawa.dispatch.lineage import TriggerLineage
from kawa.dispatch.rates import Rates
from kawa.dispatch.spans import ConsumerSpans, ended, note, note_result
from kawa.errors import KawaError, ValidationError
from kawa.eventlog.base import EventLog, Record
from kawa.eventlog.feed import Feed
from kawa.filters.base import Filter, match_all

log = logging.getLogger(__name__)

ReplyPublisher = Callable[
    [CloudEvent, CloudEvent, dict[str, str], tracing.Span | None], Awaitable[None]
]
"""Where a subscriber's reply goes: called with the reply, the event it answered, that
event's forwarded headers (with tracing on, their trace context the reply span's) and the
reply span (``None``: tracing is off); raises
ValidationError to drop the reply (a loop guard), another KawaError when it could not be
stored or sent (the original event then goes to the dead-letter sink)."""
Prepare = Callable[[CloudEvent], CloudEvent]
"""What becomes of an event just before it is sent (the broker strips its TTL)."""


class ReplyFailed(KawaError):
    """A reply could not be delivered to ``url``: ``result`` says how (the dead letter of the
    original event describes the reply's attempt, as Knative's dispatcher does)."""

    def __init__(self, url: str, result: DeliveryResult) -> None:
        super().__init__(
            f"the reply could not be delivered to {url}: {result.error or result.status}"
        )
        self.url = url
        self.result = result


CONSUMER_SHARE: Final = 4
"""A consumer holds at most 1/CONSUMER_SHARE of the delivery budget, so a stuck subscriber with
large events leaves the rest to the other consumers."""
DLS_RETRY_FIRST: Final = 1.0
DLS_RETRY_MAX: Final = 60.0
"""Seconds before an event whose dead-letter send failed is tried again (doubling up to the
max): it is never dropped, so a dead-letter sink that is down holds its trigger's events."""
READ_SHARE: Final = 8
"""A consumer reserves at most 1/READ_SHARE of the delivery budget per read (and gives back at
once what its records do not need), so that one read never takes the whole budget."""


@dataclass(frozen=True, slots=True)
class Target:
    """Everything a consumer needs to know about its trigger or subscription, resolved by the
    control plane. Two targets that compare equal need no restart of their consumer."""

    kind: str
    """``trigger`` or ``subscription`` (for logs)."""
    namespace: str
    name: str
    uid: str
    stream: str
    cursor: str
    """The name of the consumer's cursor in the event log (one per consumer and stream)."""
    subscriber_uri: str
    dead_letter_uri: str | None
    policy: RetryPolicy
    format: DeliveryFormat | None
    """``json`` (structured), ``binary``, or ``None``: the way the event came in."""
    parent: str = ""
    """The broker or channel whose stream it reads (for metrics)."""
    filter: Filter = field(default=match_all, compare=False)
    filter_spec: str = ""
    filter_type: str = ""
    """The ``type`` a trigger's ``filter.attributes`` asks for (a metrics label; "": any)."""
    ordered: bool = False
    reply_uri: str | None = None
    lineage: bool = False
    """Whether the consumer notes the lineage of its events (the broker keeps it)."""
    ready_since: float | None = field(default=None, compare=False)
    """When the trigger or subscriber became Ready (unix time): a new consumer delivers the
    events appended since then, even those that arrived before it started."""

    @property
    def consumer_id(self) -> str:
        """The name of this consumer's cursor in the event log."""
        return self.cursor

    @property
    def label(self) -> str:
        """``trigger ns/name`` (for logs)."""
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(slots=True)
class ConsumerStats:
    """Counters a consumer keeps (read by metrics and tests)."""

    matched: int = 0
    filtered_out: int = 0
    delivered: int = 0
    replies: int = 0
    dead_lettered: int = 0
    dead_letter_failures: int = 0
    """Times an event's delivery and then its dead-letter send failed (it is tried again)."""
    dropped: int = 0
    failed: int = 0
    """Deliveries whose every attempt failed (the event was then dead-lettered, dropped or
    kept to be tried again)."""
    retries: int = 0
    """Attempts after the first of each delivery (a delivery that succeeded at its third
    attempt counts two)."""
    last_error: str = ""

    def counts(self) -> dict[str, int]:
        """The counters by their names in the console's JSON."""
        return {
            "matched": self.matched,
            "filteredOut": self.filtered_out,
            "delivered": self.delivered,
            "failed": self.failed,
            "retries": self.retries,
            "deadLettered": self.dead_lettered,
            "dropped": self.dropped,
            "replies": self.replies,
        }


class Consumer:
    """Runs until cancelled (see the module docstring)."""

    def __init__(
        self,
        target: Target,
        event_log: EventLog,
        dispatcher: Dispatcher,
        publish_reply: ReplyPublisher,
        *,
        prepare: Prepare | None = None,
        budget: DeliveryBudget | None = None,
        max_in_flight: int = 100,
        batch: int = 256,
        reporter: stats.Reporter = stats.NO_REPORTER,
        tracer: tracing.Tracer = tracing.NO_TRACER,
        lineage: TriggerLineage | None = None,
    ) -> None:
        self.target = target
        self._lineage = lineage
        self.stats = ConsumerStats()
        self.rates = Rates(self.stats.counts)
        """The counters' rates over the last minute (sampled as records finish)."""
        name = target.uid if target.kind == "subscription" else target.name
        self._report = reporter.consumer(
            target.kind, target.namespace, target.parent, name, target.filter_type
        )
        self._spans = (
            ConsumerSpans(tracer, target.kind, target.namespace, target.parent, name)
            if tracer.enabled
            else None
        )
        self._log = event_log
        self._dispatcher = dispatcher
        self._publish_reply = publish_reply
        self._prepare: Prepare = prepare if prepare is not None else _unchanged
        self._budget = budget if budget is not None else DeliveryBudget()
        self._own = self._own_budget()
        self._max_in_flight = max_in_flight
        self._batch = batch
        self._slots = asyncio.Semaphore(max_in_flight)
        self._in_flight = 0
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._feed: Feed | None = None
        self._taken: dict[int, float] = {}
        """Records taken and not finished: seq -> appended_at (for metrics)."""
        self.started = asyncio.Event()

    @property
    def stream(self) -> str:
        """The stream this consumer reads."""
        return self.target.stream

    @property
    def fetched(self) -> int:
        """The seq of the last record taken from the log (to deliver or to skip)."""
        return self._feed.fetched if self._feed is not None else 0

    @property
    def unfinished(self) -> int:
        """Records taken from the log and not finished yet (in delivery, or waiting for it)."""
        return len(self._taken)

    def oldest_unfinished(self) -> float | None:
        """When the oldest record taken and not finished was appended (unix time)."""
        return min(self._taken.values()) if self._taken else None

    async def run(self) -> None:
        target = self.target
        feed = self._feed = self._log.feed(target.consumer_id, target.stream)
        # A new consumer sees the events that arrive after it is Ready, not the backlog: from
        # the moment it became Ready, not from the moment this consumer started.
        await feed.start(target.ready_since, in_order=target.ordered)
        self._in_flight = 0
        self._tails = {}
        self._taken = {}
        self._slots = asyncio.Semaphore(self._max_in_flight)
        self._own = self._own_budget()
        self.started.set()
        try:
            while True:
                if self._slots.locked():  # every place is taken: wait for one before reading
                    async with self._slots:
                        pass
                if not await feed.wait(1.0):
                    continue
                records, held = await self._read(feed)
                if not records:
                    continue
                await self._dispatch_all(feed, records, held)
                # from here on an event lives in its delivery only: no payload stays in memory,
                # unaccounted, once its delivery has given its bytes back
                del records
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            # Deliveries cut short are not done: the feed hands them out again.
            await feed.stop()

    async def _read(self, feed: Feed) -> tuple[list[Record], int]:
        """The next records, as many as free delivery places and the budget's bytes allow,
        and the bytes of the budget they hold (the sum of their payloads)."""
        free = self._max_in_flight - self._in_flight
        own, shared = self._own, self._budget
        mine = await own.reserve(shared.capacity // READ_SHARE)
        try:
            reserved = await shared.reserve(mine)
        except BaseException:
            own.release(mine)
            raise
        own.release(mine - reserved)
        try:
            records = await feed.read(max(1, min(self._batch, free)), max_bytes=reserved)
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
        return DeliveryBudget(max(1, self._budget.capacity // CONSUMER_SHARE))

    def _give_back(self, size: int) -> None:
        """Return ``size`` bytes to this consumer's share and to the shared budget."""
        self._own.release(size)
        self._budget.release(size)

    async def _dispatch_all(self, feed: Feed, records: list[Record], held: int) -> None:
        """Start the deliveries of ``records``, which hold ``held`` bytes of the budget."""
        try:
            for record in records:
                self._taken[record.seq] = record.appended_at
                size = len(record.payload)
                await self._dispatch(feed, record, size)
                held -= size
        finally:
            self._give_back(held)  # records a stop left undispatched

    async def _dispatch(self, feed: Feed, record: Record, size: int) -> None:
        """Start the delivery of ``record``, which holds ``size`` bytes of the budget: the
        delivery gives them back when it ends; a record not delivered gives them back now."""
        try:
            event, headers = envelope.unwrap(record.payload)
        except (KawaError, ValueError) as err:
            log.error("%s: unreadable record %d: %s", self.target.label, record.seq, err)
            self.stats.dropped += 1
            self._report.dropped()
            self._give_back(size)
            await self._done(feed, record.seq)
            return
        if self._spans is not None and self.target.kind == "trigger":
            passed = self._spans.filter(event, headers, self.target.filter)
        else:
            passed = self.target.filter(event)
        if self._lineage is not None:
            self._lineage.decided(record.seq, passed)
        if not passed:
            self.stats.filtered_out += 1
            self._report.filtered_out()
            self._give_back(size)
            await self._done(feed, record.seq)
            return
        self.stats.matched += 1
        self._report.matched(time.time() - record.appended_at)
        await self._slots.acquire()
        self._in_flight += 1
        previous: asyncio.Task[None] | None = None
        key = ""
        if self.target.ordered:
            key = str(event.attributes.get("partitionkey", ""))
            previous = self._tails.get(key)
        task = asyncio.create_task(self._deliver(feed, record.seq, size, event, headers, previous))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if self.target.ordered:
            self._tails[key] = task
            task.add_done_callback(functools.partial(self._forget_tail, key))

    async def _done(self, feed: Feed, seq: int) -> None:
        self._taken.pop(seq, None)
        self.rates.changed()
        await feed.done(seq)

    def _forget_tail(self, key: str, task: asyncio.Task[None]) -> None:
        if self._tails.get(key) is task:
            del self._tails[key]

    async def _deliver(
        self,
        feed: Feed,
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
            pause = DLS_RETRY_FIRST
            while not await self._deliver_one(seq, event, dict(headers)):
                # The dead-letter sink failed too: the event is neither delivered nor kept
                # anywhere else, so it stays in the log (not done) and is tried again.
                await asyncio.sleep(pause)
                pause = min(pause * 2, DLS_RETRY_MAX)
            finished = True
        finally:
            self._in_flight -= 1
            self._slots.release()
            self._give_back(size)
        # A delivery cut short (the consumer stopping) is not finished: the feed keeps it.
        if finished:
            await self._done(feed, seq)

    async def _deliver_one(self, seq: int, event: CloudEvent, headers: dict[str, str]) -> bool:
        """Deliver (with retries, reply and dead letter); ``False`` when the event is neither
        delivered nor dead-lettered and must be tried again."""
        if self._spans is None:
            return await self._deliver_in(None, seq, event, headers)
        with ended(self._spans.delivery(event, headers)) as span:
            return await self._deliver_in(span, seq, event, headers)

    async def _deliver_in(
        self, span: tracing.Span | None, seq: int, event: CloudEvent, headers: dict[str, str]
    ) -> bool:
        """:meth:`_deliver_one` in the delivery ``span`` (``None``: tracing is off)."""
        target = self.target
        structured = headers.pop(envelope.STRUCTURED_KEY, None) is not None
        format: DeliveryFormat = target.format or ("json" if structured else "binary")
        lineage = self._lineage
        trail: list[Attempt] | None = None if lineage is None else []
        start = time.perf_counter()
        try:
            result = await self._dispatcher.send(
                self._prepare(event),
                target.subscriber_uri,
                policy=target.policy,
                format=format,
                headers=headers,
                namespace=target.namespace,
                span=span,
                trail=trail,
            )
        except asyncio.CancelledError:
            raise
        except Exception as err:  # a bug must not lose the event: dead-letter it
            log.exception("%s: delivering event %d failed", target.label, seq)
            result = DeliveryResult(ok=False, status=None, attempts=1, error=repr(err))
        # the delivery's wall time, every attempt and the waits between them included
        self._report.dispatched(result.status, time.perf_counter() - start, result.attempts)
        self.stats.retries += max(0, result.attempts - 1)
        if not result.ok:
            self.stats.failed += 1
        if lineage is not None and trail is not None:
            lineage.attempts(seq, "delivery", target.subscriber_uri, trail)
        if span is not None:
            note_result(span, result)
        failed_url = target.subscriber_uri
        if result.ok:
            self.stats.delivered += 1
            failed = None
            if result.reply is not None:
                failed = await self._reply(seq, result, event, headers, span)
            if failed is None:
                note(span, "delivered")
                if lineage is not None:
                    lineage.outcome(seq, "delivered")
                return True
            result, failed_url = failed
            if span is not None:
                span.fail(result.error or f"status {result.status}")
        self.stats.last_error = result.error or f"status {result.status}"
        if target.dead_letter_uri:
            dls_span = None if span is None else ConsumerSpans.dead_letter(span, result)
            dls_trail: list[Attempt] | None = None if lineage is None else []
            try:
                dls = await self._dispatcher.dead_letter(
                    self._prepare(event),
                    target.dead_letter_uri,
                    result,
                    failed_url,
                    policy=target.policy,
                    format=format,
                    headers=headers,
                    namespace=target.namespace,
                    span=dls_span,
                    trail=dls_trail,
                )
            except asyncio.CancelledError:
                if dls_span is not None:
                    dls_span.end()
                raise
            except Exception as err:
                log.exception("%s: dead-lettering event %d failed", target.label, seq)
                dls = DeliveryResult(ok=False, status=None, attempts=1, error=repr(err))
            if dls_span is not None:
                note_result(dls_span, dls)
                dls_span.end()
            if lineage is not None and dls_trail is not None:
                lineage.attempts(seq, "dead-letter", target.dead_letter_uri, dls_trail)
                lineage.outcome(seq, "dead-lettered" if dls.ok else "kept", self.stats.last_error)
            if dls.ok:
                self.stats.dead_lettered += 1
                self._report.dead_lettered()
                note(span, "dead-lettered")
                return True
            self.stats.dead_letter_failures += 1
            note(span, "kept")
            log.warning(
                "%s: event %s kept: delivery failed (%s) and so did the dead-letter sink (%s);"
                " it is tried again",
                target.label,
                event.id,
                self.stats.last_error,
                dls.error or dls.status,
            )
            return False
        else:
            log.warning(
                "%s: event %s dropped after %d attempt(s): %s (no dead-letter sink)",
                target.label,
                event.id,
                result.attempts,
                self.stats.last_error,
            )
        self.stats.dropped += 1
        self._report.dropped()
        note(span, "dropped")
        if lineage is not None:
            lineage.outcome(seq, "dropped", self.stats.last_error)
        return True

    async def _reply(
        self,
        seq: int,
        result: DeliveryResult,
        event: CloudEvent,
        headers: dict[str, str],
        span: tracing.Span | None,
    ) -> tuple[DeliveryResult, str] | None:
        """Hand the subscriber's reply on; ``None`` when that is done (or the reply is
        dropped), else the failed result and the URL it failed at, for the dead letter."""
        assert result.reply is not None
        if span is None:
            return await self._hand_on(seq, result, event, headers, None)
        reply_span, headers = ConsumerSpans.reply(span, result.reply, headers)
        with ended(reply_span):
            failed = await self._hand_on(seq, result, event, headers, reply_span)
            if failed is not None:
                note_result(reply_span, failed[0])
            return failed

    async def _hand_on(
        self,
        seq: int,
        result: DeliveryResult,
        event: CloudEvent,
        headers: dict[str, str],
        span: tracing.Span | None,
    ) -> tuple[DeliveryResult, str] | None:
        assert result.reply is not None
        label = self.target.label
        try:
            await self._publish_reply(result.reply, event, headers, span)
            self.stats.replies += 1
            self._report.replied()
            if self._lineage is not None:
                self._lineage.reply(seq, result.reply.id)
            return None
        except asyncio.CancelledError:
            raise
        except ValidationError as err:
            # An exhausted TTL ends a reply loop: the reply is dropped, the delivery is done.
            log.info("%s: reply dropped: %s", label, err)
            self.stats.dropped += 1
            self._report.dropped()
            if self._lineage is not None:
                self._lineage.reply(seq, result.reply.id, str(err))
            return None
        except ReplyFailed as err:
            return err.result, err.url
        except KawaError as err:
            error = f"the reply could not be stored: {err}"
        except Exception as err:  # a bug must not hold the watermark: dead-letter the event
            log.exception("%s: handing on the reply to event %d failed", label, seq)
            error = f"the reply could not be handed on: {err!r}"
        failed = DeliveryResult(
            ok=False,
            status=result.status,
            attempts=result.attempts,
            response_body=result.response_body,
            error=error,
        )
        return failed, self.target.subscriber_uri


def _unchanged(event: CloudEvent) -> CloudEvent:
    return event
