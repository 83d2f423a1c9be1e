"""The timers of IntegrationSources: kawa's own timer connector, one task per source.

Knative runs an IntegrationSource's ``spec.timer`` as a ContainerSource of Apache Camel's
timer-source Kamelet; kawa runs it in process, on the elected leader only (as PingSources).
:class:`TimerSources` follows IntegrationSources with an informer and keeps one task per
valid source with a timer:

- every ``period`` milliseconds it resolves ``spec.sink`` (a changed sink counts at once; an
  unresolvable one skips the tick, the reconciler says why), builds the event
  (:func:`timer_event`: type ``dev.knative.eventing.timer``, source
  ``dev.knative.eventing.timer-source``, subject ``timer-source``, data the message with its
  content type, then ``ceOverrides``) and sends it with the
  :class:`~kawa.sources.sink.SinkSender`, presenting the source's identity with
  authentication-oidc (``status.auth``);
- after ``repeatCount`` events sent (when > 0) it stops, as Camel's timer does; the count
  lives in memory, so a new leader, a restart of kawa or a change of ``spec.timer`` starts it
  again (as a new Pod of Knative's connector would);
- a change of ``spec.timer`` restarts the task; other changes (sink, overrides) apply from
  the next tick; a deleted source's task is cancelled.

The outcome of the last delivery per source is kept for the reconciler (``on_delivery`` is
called when it changes), as the ping scheduler does. Built by
:func:`kawa.sources.integration.integration_sources`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from kawa.apis.integration import INTEGRATIONSOURCE
from kawa.apis.integration import integrationsource as api
from kawa.cloudevents.event import AttributeValue, CloudEvent
from kawa.errors import KawaError
from kawa.reconciler.informer import inform
from kawa.reconciler.resolver import Unresolvable
from kawa.sources import sink
from kawa.store.base import Obj, ResourceStore, WatchEvent

log = logging.getLogger(__name__)

INTEGRATIONSOURCES: Final = INTEGRATIONSOURCE.resource

Key = tuple[str, str]


def timer_event(source: api.IntegrationSource, event_id: str, now: datetime) -> CloudEvent:
    """One event of ``source``'s timer, as Knative's timer connector sends it."""
    timer = source.spec.timer
    if timer is None:
        raise ValueError(f"IntegrationSource {source.key} has no timer")
    attributes: dict[str, AttributeValue] = {
        "specversion": "1.0",
        "id": event_id,
        "source": api.TIMER_EVENT_SOURCE,
        "type": api.TIMER_EVENT_TYPE,
        "subject": api.TIMER_SUBJECT,
        "time": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    if timer.content_type:
        attributes["datacontenttype"] = timer.content_type
    event = CloudEvent(attributes, timer.message.encode())
    return sink.apply_overrides(event, source.spec.extensions)


class _Timer:
    """The task of one source: sleeps a period, sends, repeats (``repeatCount`` times)."""

    def __init__(self, timers: TimerSources, source: api.IntegrationSource, obj: Obj) -> None:
        self.timers = timers
        self.source = source
        self.obj = obj
        self.sent = 0
        self.skipping = ""

    async def run(self) -> None:
        while True:
            timer = self.source.spec.timer
            if timer is None:
                return
            if timer.repeat_count and self.sent >= timer.repeat_count:
                log.info(
                    "integrationsource %s: %d event(s) sent, its repeatCount; the timer stops",
                    self.source.key,
                    self.sent,
                )
                return
            await asyncio.sleep(timer.period / 1000)
            await self._fire()

    async def _fire(self) -> None:
        t, source, obj = self.timers, self.source, self.obj
        try:
            address = await sink.resolve_sink_address(t.store, obj)
        except Unresolvable as err:
            why = f"{err.reason}: {err.message}"
            if why != self.skipping:
                log.info(
                    "integrationsource %s: events skipped while the sink is missing: %s",
                    source.key,
                    why,
                )
            self.skipping = why
            return
        self.skipping = ""
        self.sent += 1
        event = timer_event(source, str(uuid.uuid4()), t.now())
        result = await t.sender.send(
            event,
            address.url,
            identity=sink.sender_identity(obj),
            audience=address.audience,
            ca_certs=address.ca_certs,
        )
        t.deliveries.record((source.namespace, source.name), sink.LastDelivery(address.url, result))


class TimerSources:
    """Runs the timers of every IntegrationSource (see the module docstring)."""

    name = "integrationsource-timers"

    def __init__(
        self,
        store: ResourceStore,
        sender: sink.SinkSender,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_delivery: Callable[[str, str], None] | None = None,
    ) -> None:
        self.store = store
        self.sender = sender
        self.now = now
        self.deliveries = sink.Deliveries(on_delivery)
        """The last delivery of each source (its reconciler reports it)."""
        self._timers: dict[Key, tuple[_Timer, asyncio.Task[None]]] = {}
        self._task_group: asyncio.TaskGroup | None = None

    def running(self) -> set[Key]:
        """The sources whose timer runs."""
        return {key for key, (_, task) in self._timers.items() if not task.done()}

    async def run(self) -> None:
        """A timer per source with one, until cancelled."""
        try:
            async with asyncio.TaskGroup() as tg:
                self._task_group = tg
                await inform(self.store, INTEGRATIONSOURCES, self._on_event, on_listed=self._listed)
        finally:
            self._task_group = None
            for _, task in self._timers.values():
                task.cancel()
            self._timers.clear()

    async def _on_event(self, event: WatchEvent) -> None:
        obj = event.object
        meta = obj["metadata"]
        key: Key = (str(meta.get("namespace", "")), str(meta["name"]))
        if event.type == "DELETED":
            await self._stop(key)
            self.deliveries.forget(key)
            return
        try:
            source = api.parse_integrationsource(obj)
        except KawaError as err:
            log.warning("integrationsource %s/%s does not run: %s", *key, err)
            await self._stop(key)
            return
        running = self._timers.get(key)
        if running is not None:
            timer = running[0]
            if timer.source.uid == source.uid and timer.source.spec.timer == source.spec.timer:
                timer.source, timer.obj = source, obj  # sink, overrides: from the next tick
                return
            await self._stop(key)
        if source.spec.timer is not None and self._task_group is not None:
            timer = _Timer(self, source, obj)
            task = self._task_group.create_task(
                self._supervise(timer), name=f"integrationsource-{key[0]}-{key[1]}"
            )
            self._timers[key] = (timer, task)

    async def _listed(self, items: list[Obj]) -> None:
        """After a full list (the first, or one after a 410): the timers of sources no longer
        there stop (their deletion may have fallen between two watches)."""
        present = {
            (str(o["metadata"].get("namespace", "")), str(o["metadata"]["name"])) for o in items
        }
        for key in [k for k in self._timers if k not in present]:
            await self._stop(key)
            self.deliveries.forget(key)

    async def _stop(self, key: Key) -> None:
        running = self._timers.pop(key, None)
        if running is None:
            return
        running[1].cancel()
        await asyncio.wait([running[1]])

    @staticmethod
    async def _supervise(timer: _Timer) -> None:
        """Run a timer; if it fails, log it and start it again (keeping its count), so that
        one source's trouble never stops the others."""
        failures = 0
        while True:
            try:
                await timer.run()
                return
            except Exception as err:
                failures += 1
                delay = min(30.0, 0.1 * 2**failures)
                log.warning(
                    "integrationsource %s: timer failed (%s); restarting in %.1fs",
                    timer.source.key,
                    err,
                    delay,
                )
            await asyncio.sleep(delay)
