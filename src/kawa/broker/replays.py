"""Replays: a Broker's archived events delivered again to one of its Triggers.

The reconciler of the kawa.dev ``Replay`` kind (:mod:`kawa.apis.replay.replay`), run on the
leader (one process delivers a Replay, whatever the number of kawa processes). For each
Replay:

1. **Ready** when the data plane knows its Broker and its Trigger, the Trigger is the
   Broker's and Ready (``BrokerReady`` and ``TriggerReady`` say which is missing, with the
   reason); a Replay that is not Ready waits (checked every second) and delivers nothing.
2. **The window** is fixed once, at the start: the seqs of the Broker's stream appended in
   ``[spec.from, min(spec.to, now)]`` (:func:`kawa.dispatch.replay_feed.find_window`), kept
   in ``status.window`` with the Broker's uid (a Broker re-created under the same name is
   another archive: the Replay then fails with ``ArchiveGone``).
3. **The run**: an ordinary :class:`~kawa.dispatch.consumer.Consumer` with the Trigger's
   target (subscriber, filters, delivery, rate and in-flight limits, ordering), the
   Replay's ``spec.filter`` ANDed to the Trigger's filters, each event marked with the
   ``kawareplay`` extension (the Replay's name), fed by a
   :class:`~kawa.dispatch.replay_feed.WindowFeed`. The Trigger's own cursor is never
   touched, so its other deliveries go on; the Broker's other Triggers see nothing. A
   subscriber's reply to a replayed event is not put back into the Broker (its other
   Triggers would see it).
4. **Progress**: every second the reconcile writes ``status.position`` (every event up to it
   is finished) and the counts. A Replay whose kawa restarts (or whose leader changes)
   starts again after ``status.position``: events finished after the last write are
   delivered again (at least once, as everywhere in kawa).
5. **The end**: ``Succeeded`` turns ``True`` once every event of the window is finished,
   ``False`` (reason ``Cancelled``) on ``spec.cancelled``; deleting the Replay stops it.

Built by :class:`Replays` for :mod:`kawa.runtime`'s leader.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis.conditions import Clock, format_time, get_condition, system_clock
from kawa.apis.replay import REPLAY
from kawa.apis.replay.replay import (
    ARCHIVE_GONE,
    BROKER_READY,
    CANCELLED,
    COMPLETED,
    EXTENSION,
    PENDING,
    REPLAY_CONDITIONS,
    RUNNING,
    SUCCEEDED,
    TRIGGER_READY,
    Replay,
    parse_replay,
)
from kawa.broker.dataplane import BrokerDataPlane, BrokerEntry
from kawa.cloudevents.event import CloudEvent
from kawa.cloudevents.timestamp import parse_timestamp
from kawa.dispatch.consumer import Consumer, Target
from kawa.dispatch.replay_feed import WindowFeed, find_window
from kawa.filters.base import Filter
from kawa.filters.cesql import cesql_filter
from kawa.reconciler.loop import Controller, LateRequeue, Requeue, own
from kawa.reconciler.status import Reconciling, StatusReconciler
from kawa.store.base import Obj, ResourceKey, ResourceStore

log = logging.getLogger(__name__)

REPLAYS: Final = REPLAY.resource
REFRESH: Final = 1.0
"""Seconds between two progress writes of a running Replay (and two looks at a waiting one)."""
COUNTS: Final = ("delivered", "filteredOut", "deadLettered", "dropped", "missed")


@dataclass
class _Run:
    """One Replay delivering in this process."""

    uid: str
    target: Target
    """The Trigger's target it started with (a change of the Trigger restarts it)."""
    first: int
    records: int
    feed: WindowFeed
    consumer: Consumer
    base: dict[str, int]
    """The counts of the status when it started (a resumed Replay counts on)."""
    task: asyncio.Task[None]

    def note(self, status: dict[str, Any]) -> None:
        """Write its position and counts into ``status``."""
        stats = self.consumer.stats
        now = {
            "delivered": stats.delivered,
            "filteredOut": stats.filtered_out,
            "deadLettered": stats.dead_lettered,
            "dropped": stats.dropped,
            "missed": self.feed.missed,
        }
        position = self.feed.position
        status["position"] = position
        progress = dict(status.get("progress") or {})
        progress.update({name: self.base.get(name, 0) + now[name] for name in COUNTS})
        progress["done"] = max(0, min(self.records, position - self.first + 1))
        status["progress"] = progress


class ReplayReconciler(StatusReconciler[Replay]):
    """See the module docstring; :attr:`task_group` runs the Replays' deliveries."""

    conditions = REPLAY_CONDITIONS
    invalid_condition = TRIGGER_READY

    def __init__(
        self,
        store: ResourceStore,
        plane: BrokerDataPlane,
        requeue: Requeue,
        clock: Clock = system_clock,
    ) -> None:
        super().__init__(store, clock)
        self._plane = plane
        self._requeue = requeue
        self._runs: dict[ResourceKey, _Run] = {}
        self.task_group: asyncio.TaskGroup | None = None

    def parse(self, obj: Obj) -> Replay:
        return parse_replay(obj)

    async def prepare(self, key: ResourceKey, obj: Obj, status: dict[str, Any]) -> None:
        if get_condition(status, SUCCEEDED) is None:
            self._succeeded(status, None, PENDING, "waiting for its Broker and Trigger")

    async def observe_invalid(self, key: ResourceKey, obj: Obj) -> None:
        await self._stop(key)

    async def observe_deletion(self, key: ResourceKey) -> None:
        await self._stop(key)

    async def reconcile_kind(self, current: Reconciling[Replay]) -> None:
        key, status, replay = current.key, current.status, current.spec
        succeeded = get_condition(status, SUCCEEDED)
        if succeeded is not None and (succeeded.is_true or succeeded.is_false):
            await self._stop(key)  # finished for good
            return
        spec = replay.spec
        entry = self._plane.broker_entry(replay.namespace, spec.broker)
        trigger, target = self._plane.trigger(replay.namespace, spec.trigger)
        self._mark_sources(status, replay, entry, trigger, target)
        if spec.cancelled:
            self._save(await self._stop(key), replay, status)
            done = (status.get("progress") or {}).get("done", 0)
            self._finish(
                status, False, CANCELLED, f"cancelled by spec.cancelled after {done} events"
            )
            return
        if entry is None or target is None or not REPLAY_CONDITIONS.is_ready(status):
            self._save(await self._stop(key), replay, status)
            if status.get("window") is None:
                self._succeeded(status, None, PENDING, "waiting for its Broker and Trigger")
            else:
                self._succeeded(status, None, PENDING, "paused: its Broker or Trigger is gone")
            self._requeue(key, REFRESH)
            return
        window = status.get("window")
        if window is None:
            window = await self._fix_window(replay, entry, status)
        elif window.get("brokerUid") != entry.uid:
            self._save(await self._stop(key), replay, status)
            self._finish(
                status,
                False,
                ARCHIVE_GONE,
                f"broker {spec.broker} was re-created: the events of the window are gone",
            )
            return
        run = self._runs.get(key)
        if run is not None and (run.uid != replay.uid or run.target != target):
            self._save(await self._stop(key), replay, status)
            run = None
        if run is None:
            run = self._start(key, replay, entry, target, window, status)
        run.note(status)
        progress = status.get("progress") or {}
        if run.feed.finished.is_set():
            await self._stop(key)
            self._finish(
                status,
                True,
                COMPLETED,
                f"{progress.get('records', 0)} events of the window replayed to trigger "
                f"{spec.trigger}",
            )
            return
        self._succeeded(
            status,
            None,
            RUNNING,
            f"{progress.get('done', 0)} of {progress.get('records', 0)} events replayed",
        )
        self._requeue(key, REFRESH)

    # -- the steps ------------------------------------------------------------------------

    def _mark_sources(
        self,
        status: dict[str, Any],
        replay: Replay,
        entry: BrokerEntry | None,
        trigger: Obj | None,
        target: Target | None,
    ) -> None:
        """``BrokerReady`` and ``TriggerReady`` (so ``Ready``) from what the plane knows."""
        ns, spec, clock = replay.namespace, replay.spec, self.clock
        if entry is None:
            REPLAY_CONDITIONS.mark_false(
                status,
                BROKER_READY,
                "BrokerNotFound",
                f"broker {spec.broker} does not exist in namespace {ns}",
                clock=clock,
            )
        else:
            REPLAY_CONDITIONS.mark_true(status, BROKER_READY, clock=clock)
        of = str((trigger or {}).get("spec", {}).get("broker", ""))
        if trigger is None:
            reason, message = (
                "TriggerNotFound",
                f"trigger {spec.trigger} does not exist in namespace {ns}",
            )
        elif of != spec.broker:
            reason = "TriggerOfAnotherBroker"
            message = f"trigger {spec.trigger} subscribes to broker {of}, not {spec.broker}"
        elif target is None:
            reason = "TriggerNotReady"
            message = f"trigger {spec.trigger} is not Ready (nothing to deliver to yet)"
        else:
            REPLAY_CONDITIONS.mark_true(status, TRIGGER_READY, clock=clock)
            return
        REPLAY_CONDITIONS.mark_false(status, TRIGGER_READY, reason, message, clock=clock)

    async def _fix_window(
        self, replay: Replay, entry: BrokerEntry, status: dict[str, Any]
    ) -> dict[str, Any]:
        """The window's seqs, from its times (``to``: at most now), into ``status``."""
        spec = replay.spec
        start = parse_timestamp(spec.from_).timestamp()
        end = time.time()
        if spec.to is not None:
            end = min(end, parse_timestamp(spec.to).timestamp())
        first, last = await find_window(self._plane.event_log, entry.stream, start, end)
        window = {"brokerUid": entry.uid, "firstSeq": first, "lastSeq": last}
        status["window"] = window
        status["position"] = first - 1
        records = max(0, last - first + 1)
        status["progress"] = {"records": records, "done": 0, **dict.fromkeys(COUNTS, 0)}
        status["startTime"] = format_time(self.clock())
        return window

    def _start(
        self,
        key: ResourceKey,
        replay: Replay,
        entry: BrokerEntry,
        target: Target,
        window: Mapping[str, Any],
        status: dict[str, Any],
    ) -> _Run:
        """Start delivering after ``status.position``."""
        assert self.task_group is not None, "the Replays controller runs it"
        first, last = int(window["firstSeq"]), int(window["lastSeq"])
        position = int(status.get("position") or 0)
        feed = WindowFeed(self._plane.event_log, entry.stream, first, last, position)
        name = replay.name

        forward = self._plane.prepare_of(target.namespace, target.name)

        def prepare(event: CloudEvent) -> CloudEvent:
            return forward(event).with_attributes({EXTENSION: name})

        consumer = self._plane.replay_consumer(_replayed(target, replay), feed, prepare)
        progress = status.get("progress") or {}
        base = {name: int(progress.get(name, 0)) for name in COUNTS}
        task = self.task_group.create_task(
            self._drive(key, consumer, feed), name=f"replay-{key.namespace}-{key.name}"
        )
        run = _Run(replay.uid, target, first, max(0, last - first + 1), feed, consumer, base, task)
        self._runs[key] = run
        log.info(
            "replay %s/%s: seqs %d..%d of broker %s to trigger %s, after %d",
            key.namespace,
            key.name,
            first,
            last,
            replay.spec.broker,
            replay.spec.trigger,
            position,
        )
        return run

    async def _drive(self, key: ResourceKey, consumer: Consumer, feed: WindowFeed) -> None:
        """Run ``consumer`` until its feed is finished (again after a failure), then have the
        Replay reconciled at once."""
        failures = 0
        while not feed.finished.is_set():
            failed: Exception | None = None
            try:
                async with asyncio.TaskGroup() as tg:
                    running = tg.create_task(consumer.run(), name=f"replay-{key.name}-consumer")
                    await feed.finished.wait()
                    running.cancel()
            except* Exception as group:
                failed = group.exceptions[0]
            if failed is None:
                break
            failures += 1
            delay = min(30.0, 0.1 * 2**failures)
            log.warning(
                "replay %s/%s: delivery failed (%s); again in %.1fs",
                key.namespace,
                key.name,
                failed,
                delay,
            )
            await asyncio.sleep(delay)
        self._requeue(key, 0.0)

    async def _stop(self, key: ResourceKey) -> _Run | None:
        """Stop the run of ``key``; it, if there was one."""
        run = self._runs.pop(key, None)
        if run is not None:
            run.task.cancel()
            await asyncio.wait([run.task])
        return run

    @staticmethod
    def _save(run: _Run | None, replay: Replay, status: dict[str, Any]) -> None:
        """Keep what a stopped run of this Replay did."""
        if run is not None and run.uid == replay.uid:
            run.note(status)

    def _succeeded(
        self, status: dict[str, Any], value: bool | None, reason: str, message: str
    ) -> None:
        clock = self.clock
        if value is None:
            REPLAY_CONDITIONS.mark_unknown(status, SUCCEEDED, reason, message, clock=clock)
        elif value:
            REPLAY_CONDITIONS.mark_true(status, SUCCEEDED, reason, message, clock=clock)
        else:
            REPLAY_CONDITIONS.mark_false(status, SUCCEEDED, reason, message, clock=clock)

    def _finish(self, status: dict[str, Any], value: bool, reason: str, message: str) -> None:
        self._succeeded(status, value, reason, message)
        status["completionTime"] = format_time(self.clock())


def _replayed(target: Target, replay: Replay) -> Target:
    """The Trigger's target as the Replay delivers to it: named for the Replay (logs), the
    Replay's filter ANDed to the Trigger's, no lineage (the Broker's record of the event's
    first life stays as it was)."""
    filter_ = target.filter
    if replay.spec.filter is not None:
        filter_ = _both(filter_, cesql_filter(replay.spec.filter))
    return dataclasses.replace(
        target,
        kind="replay",
        name=replay.name,
        uid=replay.uid,
        replay_of=(target.name, target.uid),
        cursor=f"replay:{replay.uid}@{target.stream}",
        filter=filter_,
        filter_spec=f"{target.filter_spec}+{replay.spec.filter or ''}",
        lineage=False,
        ready_since=None,
    )


def _both(first: Filter, second: Filter) -> Filter:
    def both(event: CloudEvent, /) -> bool:
        return first(event) and second(event)

    return both


class Replays:
    """The Replay controller and the deliveries it runs; :meth:`run` until cancelled."""

    name = "replays"

    def __init__(self, store: ResourceStore, plane: BrokerDataPlane) -> None:
        requeue = LateRequeue()
        self.reconciler = ReplayReconciler(store, plane, requeue)
        self.controller = Controller(
            "replays", store, self.reconciler.reconcile, [own(REPLAYS)], workers=2
        )
        requeue.controller = self.controller

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                self.reconciler.task_group = tg
                await self.controller.run()
        finally:
            self.reconciler.task_group = None
