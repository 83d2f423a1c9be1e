"""One consumer of a stream of the event log: from a durable cursor, filter, deliver.

Every Trigger (:mod:`kawa.broker.dataplane`) and every channel subscriber
(:mod:`kawa.channels.dataplane`) gets its own consumer, so a slow or failing subscriber only
ever holds up its own trigger or subscription. The consumer keeps up to ``max_in_flight``
deliveries running at once (unordered, the default), or delivers one event at a time per
``partitionkey`` extension value when the trigger asks for ordered delivery; the target's
limits (:mod:`kawa.apis.limits`) lower ``max_in_flight`` and pace the starts, and a Knative
Service subscriber's 429 and 503 hold its deliveries back instead of failing them
(:mod:`kawa.dispatch.pacing`). The events it holds count against the delivery memory budget
all consumers share (:mod:`kawa.dispatch.budget`), of which one consumer holds at most a
quarter: it reads only what the budget has room for, and waits (the events stay in the log)
when it is spent.

It takes records through its :class:`~kawa.eventlog.feed.Feed` (the event log's durable
position of this consumer, or the feed it is given: a replay's window,
:mod:`kawa.dispatch.replay_feed`) and tells the feed when each one is finished (delivered,
dead-lettered, dropped or filtered out): after a restart delivery resumes with what was not
finished (at least once: events in flight at a crash are delivered again).

What differs between a trigger and a subscription comes in as plain values and hooks
(:mod:`kawa.dispatch.hooks`): the :class:`Target` (where to, which filter, which policy),
``prepare`` (the broker strips its TTL before delivery) and ``publish_reply`` (the broker
puts a reply back into itself, a channel sends it to the subscription's reply). Delivers through
:class:`kawa.delivery.sender.Dispatcher`. What becomes of each event goes to the
:class:`~kawa.dispatch.stats.ConsumerReport` of the consumer (metrics; none by default), and
with tracing on each filter evaluation, delivery, reply and dead letter is a span
(:mod:`kawa.dispatch.spans`); with lineage on (a trigger of a broker that keeps it), each
decision, attempt, outcome and reply is noted in the broker's lineage
(:mod:`kawa.dispatch.lineage`). What becomes of an event given up (its dead-letter sink, the
dead-letter store, or a drop; finished only once durable) is :mod:`kawa.dispatch.giving_up`'s.
An event a loop guard ends (``prepare`` or ``publish_reply`` raising ValidationError: its TTL
ran out) is dropped and told to ``loop_ended`` (the broker reports the loop it went round).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Final

from kawa.apis.duck import DeliveryFormat
from kawa.cloudevents.event import CloudEvent
from kawa.delivery import tracing
from kawa.delivery.sender import Attempt, DeliveryResult, Dispatcher, Identity
from kawa.dispatch import envelope, stats
from kawa.dispatch.budget import DeliveryBudget
from kawa.dispatch.deadletter_store import DeadLetterStore
from kawa.dispatch.giving_up import GivingUp
from kawa.dispatch.hooks import LoopEnded, Prepare, ReplyFailed, ReplyPublisher
from kawa.dispatch.lineage import TriggerLineage
from kawa.dispatch.pacing import Backpressure, Pacer
from kawa.dispatch.rates import Rates
from kawa.dispatch.spans import ConsumerSpans, ended, note, note_result
from kawa.dispatch.target import ConsumerStats, Target
from kawa.errors import KawaError, ValidationError
from kawa.eventlog.base import EventLog, Record
from kawa.eventlog.feed import Feed

log = logging.getLogger(__name__)

__all__ = ["CONSUMER_SHARE", "Consumer", "ConsumerStats", "Target"]

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


class Consumer:
    """Runs until cancelled (see the module docstring)."""

    _loop: asyncio.AbstractEventLoop
    """The loop :meth:`run` runs on (set there): deliveries are its tasks
    (``asyncio.create_task`` asks for the running loop each time, and Python 3.11 checks its
    process id with a ``getpid`` system call: one per delivery)."""

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
        dead_letters: DeadLetterStore | None = None,
        loop_ended: LoopEnded | None = None,
        feed: Feed | None = None,
    ) -> None:
        self.target = target
        self._loop_ended = loop_ended
        self._given_feed = feed
        self._identity = Identity(target.namespace, target.identity) if target.identity else None
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
        self._giving_up = GivingUp(
            target,
            dispatcher,
            self._prepare,
            self._identity,
            dead_letters,
            self.stats,
            self._report,
            lineage,
        )
        self._budget = budget if budget is not None else DeliveryBudget()
        self._own = self._own_budget()
        self._max_in_flight = max_in_flight
        self._batch = batch
        self._slots = asyncio.Semaphore(max_in_flight)
        self._in_flight = 0
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._pacer: Pacer | None = None
        self.backpressure: Backpressure | None = None
        """Set while the subscriber is a Knative Service (it holds back on 429 and 503)."""
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
        feed = self._feed = self._given_feed or self._log.feed(target.consumer_id, target.stream)
        # A new consumer sees the events that arrive after it is Ready, not the backlog: from
        # the moment it became Ready, not from the moment this consumer started.
        await feed.start(target.ready_since, in_order=target.ordered)
        self._in_flight = 0
        self._tails = {}
        self._taken = {}
        self._loop = asyncio.get_running_loop()
        limits = target.limits
        limit = limits.in_flight
        if limit is not None:  # kawa.dev/max-in-flight, or what a Knative Service can take:
            self._max_in_flight = min(self._max_in_flight, limit)  # never above the process's
        self._slots = asyncio.Semaphore(self._max_in_flight)
        self._pacer = Pacer(limits.max_rate) if limits.max_rate is not None else None
        scales = limits.subscriber_max_in_flight is not None
        self.backpressure = Backpressure() if scales else None
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
        if self._pacer is not None:  # kawa.dev/max-rate: starts spaced evenly
            await self._pacer.take()
        if self.backpressure is not None:  # a Knative Service full for now: wait
            await self.backpressure.wait()
        await self._slots.acquire()
        self._in_flight += 1
        previous: asyncio.Task[None] | None = None
        key = ""
        if self.target.ordered:
            key = str(event.attributes.get("partitionkey", ""))
            previous = self._tails.get(key)
        delivery = self._deliver(feed, record.seq, size, event, headers, previous)
        task = self._loop.create_task(delivery)
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
        backpressure = self.backpressure
        try:
            prepared = self._prepare(event)
        except ValidationError as err:  # a loop guard: the event ends here
            log.info("%s: event %s dropped: %s", target.label, event.id, err)
            await self._tell_loop_ended(event, replied=False)
            return self._giving_up.dropped(seq, span, str(err))
        start = time.perf_counter()
        try:
            result = await self._dispatcher.send(
                prepared,
                target.subscriber_uri,
                policy=target.policy,
                format=format,
                headers=headers,
                namespace=target.namespace,
                span=span,
                trail=trail,
                identity=self._identity,
                audience=target.audience,
                ca_certs=target.ca_certs,
                overload=None if backpressure is None else backpressure.overloaded,
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
            if backpressure is not None:
                backpressure.delivered()
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
        return await self._giving_up.give_up(
            seq, event, headers, structured, format, result, failed_url, span
        )

    async def _tell_loop_ended(self, event: CloudEvent, *, replied: bool) -> None:
        """Tell ``loop_ended`` (a report's failure never holds the delivery)."""
        if self._loop_ended is None:
            return
        try:
            await self._loop_ended(event, replied)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: reporting the end of a loop failed", self.target.label)

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
            await self._tell_loop_ended(result.reply, replied=True)
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
