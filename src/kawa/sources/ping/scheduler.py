"""The ping adapter: one timer per PingSource that sends its event on every tick.

Knative runs PingSources in one shared adapter (``mt-ping``); so does kawa, in-process. The
:class:`PingScheduler` watches PingSources in the store (list, then watch) and keeps one task
per valid source:

- on each tick it resolves ``spec.sink`` (so a changed sink counts at once; an unresolvable
  sink skips the tick, the reconciler reports why), builds the event
  (:func:`~kawa.sources.ping.ticks.ping_event`) and sends it with the
  :class:`~kawa.sources.sink.SinkSender`;
- a new ``schedule`` or ``timezone`` applies at once (the timer is woken up and restarts from
  now); new data, content type, overrides or sink apply from the next tick;
- a deleted source's task is cancelled and its state removed; the states of sources deleted
  while no scheduler ran are swept when it starts.

The restart rule (``docs/sources-ping.md``): before an event is sent its tick is *claimed* in
the source's state (:mod:`.state`, in the resource store every node shares) with the event's
id; after the send the tick is recorded as fired. On start, a claimed tick is sent again with
the same id (at-least-once; a receiver can drop the duplicate by ``id``), then every tick
missed while no scheduler ran (kawa down, or no leader) fires once, if it is at most
:data:`~kawa.sources.ping.ticks.CATCH_UP_WINDOW` seconds old; older ticks are skipped, as
Knative's mt-ping never catches up. Only the elected leader runs the scheduler (ADR 0044);
a timer that starts claims its source's state, and one whose save finds that another process
claimed it since (:class:`~kawa.sources.adapter_state.StateTaken`: this node no longer leads
and does not know it yet) stops, and loads the state again after :data:`RETAKE` seconds.

The outcome of the last delivery per source is kept for the reconciler (a sink that refuses
events makes the source not Ready); ``on_delivery`` is called when it changes.
Built by :func:`kawa.sources.ping.ping_sources`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

from kawa import cron as firing
from kawa.apis import sources as sources_api
from kawa.apis.conditions import Clock
from kawa.apis.sources import pingsource
from kawa.errors import KawaError, TemporaryError
from kawa.reconciler.informer import inform
from kawa.reconciler.resolver import Unresolvable
from kawa.sources import adapter_state, sink
from kawa.sources.ping import ticks
from kawa.sources.ping.state import Pending, SourceTicks, TickState, TickStore
from kawa.store.base import Obj, ResourceStore, WatchEvent

log = logging.getLogger(__name__)

PINGSOURCES: Final = sources_api.PINGSOURCE.resource
MAX_SLEEP: Final = 30.0
"""Seconds a timer sleeps at most before looking at the clock again (the wall clock may jump)."""
RETAKE: Final = 10.0
"""Seconds a timer whose state another process took waits before loading it again (as an
ApiServerSource adapter is started again by its source's next resync): by then a node that
lost its lease has stopped leading."""

Key = tuple[str, str]


class _Timer:
    """The task of one PingSource: sleeps until its next tick, fires, repeats."""

    def __init__(self, scheduler: PingScheduler, source: pingsource.PingSource, obj: Obj) -> None:
        self.scheduler = scheduler
        self.source = source
        self.obj = obj
        self.changed = asyncio.Event()
        self.skipping = ""
        """Why ticks are being skipped (the sink does not resolve); "" while they are sent."""

    def update(self, source: pingsource.PingSource, obj: Obj) -> None:
        timing = (source.spec.schedule, source.spec.timezone)
        old_timing = (self.source.spec.schedule, self.source.spec.timezone)
        self.source, self.obj = source, obj
        if timing != old_timing:
            self.changed.set()

    async def run(self) -> None:
        s = self.scheduler
        claimed = await s.ticks.load(self.source.namespace, self.source.uid)
        state = await self._initial_state(claimed)
        while True:
            if self.changed.is_set():
                self.changed.clear()
                state = await self._retime(claimed, state)
            source = self.source
            tz = firing.zone(source.spec.timezone)
            now = s.clock()
            if state.pending is not None:
                pending = state.pending
                if (now - pending.tick).total_seconds() <= s.window:
                    state = await self._fire(claimed, state, pending.tick, pending.id)
                else:
                    state = await claimed.record(state.fired(pending.tick))
            try:
                due = ticks.due_ticks(
                    source.spec.cron_schedule, tz, state.last, now, window=s.window
                )
            except ValueError as err:  # no tick within the years cron looks ahead
                log.warning("pingsource %s: %s", source.key, err)
                due = []
            for tick in due:
                if self.changed.is_set():
                    break
                state = await self._fire(claimed, state, tick, str(uuid.uuid4()))
            if self.changed.is_set():
                continue
            try:
                upcoming = firing.next_tick(source.spec.cron_schedule, tz, max(state.last, now))
            except ValueError:
                upcoming = now + timedelta(seconds=MAX_SLEEP)
            await self._sleep_until(upcoming)

    async def _initial_state(self, claimed: SourceTicks) -> TickState:
        source, state = self.source, claimed.state
        if state is None or (state.schedule, state.timezone) != (
            source.spec.schedule,
            source.spec.timezone,
        ):
            # New source, or rescheduled while no scheduler ran: ticks count from now.
            now = self.scheduler.clock()
            state = TickState(source.key, source.spec.schedule, source.spec.timezone, now)
            await claimed.record(state)
        return state

    async def _retime(self, claimed: SourceTicks, state: TickState) -> TickState:
        source = self.source
        if (state.schedule, state.timezone) == (source.spec.schedule, source.spec.timezone):
            return state
        now = self.scheduler.clock()
        state = await claimed.record(
            TickState(source.key, source.spec.schedule, source.spec.timezone, max(state.last, now))
        )
        log.info("pingsource %s: schedule %r applies from now", source.key, source.spec.schedule)
        return state

    async def _fire(
        self, claimed: SourceTicks, state: TickState, tick: datetime, event_id: str
    ) -> TickState:
        s, source, obj = self.scheduler, self.source, self.obj
        try:
            address = await sink.resolve_sink_address(s.store, obj)
        except Unresolvable as err:
            why = f"{err.reason}: {err.message}"
            if why != self.skipping:  # said once, not on every tick
                log.info(
                    "pingsource %s: ticks skipped while the sink is missing: %s", source.key, why
                )
            self.skipping = why
            return await claimed.record(state.fired(tick))
        self.skipping = ""
        state = await claimed.record(state.claimed(Pending(event_id, tick)))
        url = address.url
        result = await s.sender.send(
            ticks.ping_event(source, tick, event_id),
            url,
            identity=sink.sender_identity(obj),
            audience=address.audience,
            ca_certs=address.ca_certs,
        )
        state = await claimed.record(state.fired(tick))
        s.deliveries.record((source.namespace, source.name), sink.LastDelivery(url, result))
        return state

    async def _sleep_until(self, when: datetime) -> None:
        delay = (when - self.scheduler.clock()).total_seconds()
        if delay <= 0:
            return
        try:
            async with asyncio.timeout(min(delay, MAX_SLEEP)):
                await self.changed.wait()
        except TimeoutError:
            pass


class PingScheduler:
    """Runs the timers of every PingSource (see the module docstring)."""

    name = "ping-scheduler"

    def __init__(
        self,
        store: ResourceStore,
        sender: sink.SinkSender,
        tick_store: TickStore,
        *,
        clock: Clock,
        window: float = ticks.CATCH_UP_WINDOW,
        on_delivery: Callable[[str, str], None] | None = None,
    ) -> None:
        self.store = store
        self.sender = sender
        self.ticks = tick_store
        self.clock = clock
        self.window = window
        self.deliveries = sink.Deliveries(on_delivery)
        """The last delivery of each source (its reconciler reports it)."""
        self.ready = asyncio.Event()
        """Set once every existing source has its timer."""
        self._timers: dict[Key, tuple[_Timer, asyncio.Task[None]]] = {}
        self._task_group: asyncio.TaskGroup | None = None

    def scheduled(self) -> set[Key]:
        """The sources that have a running timer."""
        return set(self._timers)

    async def run(self) -> None:
        """Sweep the states of sources deleted while no scheduler ran, then run a timer per
        source until cancelled (a timer cancelled mid-save finishes the save first)."""
        await self.ticks.sweep_logged()
        try:
            async with asyncio.TaskGroup() as tg:
                self._task_group = tg
                await self._watch()
        finally:
            self._task_group = None
            for _, task in self._timers.values():
                task.cancel()
            self._timers.clear()

    async def _watch(self) -> None:
        async def listed(items: list[Obj]) -> None:
            self.ready.set()

        await inform(self.store, PINGSOURCES, self._on_event, on_listed=listed)

    async def _on_event(self, event: WatchEvent) -> None:
        obj = event.object
        meta: dict[str, Any] = obj["metadata"]
        key: Key = (str(meta.get("namespace", "")), str(meta["name"]))
        if event.type == "DELETED":
            await self._stop(key)
            self.deliveries.forget(key)
            await self.ticks.remove(key[0], str(meta.get("uid", "")))
            return
        try:
            source = pingsource.parse_pingsource(obj)
        except KawaError as err:
            log.warning("pingsource %s/%s is not scheduled: %s", *key, err)
            await self._stop(key)
            return
        running = self._timers.get(key)
        if running is not None and running[0].source.uid == source.uid:
            running[0].update(source, obj)
            return
        if running is not None:  # deleted and created again while the watch was away
            old_uid = running[0].source.uid
            await self._stop(key)
            await self.ticks.remove(key[0], old_uid)
        self._start(key, source, obj)

    def _start(self, key: Key, source: pingsource.PingSource, obj: Obj) -> None:
        if self._task_group is None:
            return
        timer = _Timer(self, source, obj)
        task = self._task_group.create_task(self._supervise(timer), name=f"ping-{key[0]}-{key[1]}")
        self._timers[key] = (timer, task)

    async def _stop(self, key: Key) -> None:
        running = self._timers.pop(key, None)
        if running is None:
            return
        running[1].cancel()
        # wait() does not re-raise the task's cancellation, so ours is never swallowed.
        await asyncio.wait([running[1]])

    @staticmethod
    async def _supervise(timer: _Timer) -> None:
        """Run a timer; if it fails (the store unreachable, say), log it and start it again,
        so one source's trouble never stops the others. A timer whose state another process
        took stops, and starts again (loading the state) after :data:`RETAKE` seconds."""
        failures, key = 0, timer.source.key
        while True:
            try:
                await timer.run()
                return
            except adapter_state.StateTaken as err:
                failures, delay = 0, RETAKE
                log.warning(
                    "pingsource %s: another kawa process schedules it now (%s); "
                    "loading its state again in %.0fs",
                    key,
                    err,
                    delay,
                )
            except Exception as err:
                failures += 1
                delay = min(30.0, 0.1 * 2**failures)
                if isinstance(err, TemporaryError):  # the store unreachable: no traceback
                    log.warning("pingsource %s: %s; restarting in %.1fs", key, err, delay)
                else:
                    log.exception("pingsource %s: timer failed; restarting in %.1fs", key, delay)
            await asyncio.sleep(delay)
