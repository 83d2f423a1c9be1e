"""The report of an event whose loop the broker's TTL ended (kawa's loop detection at run
time).

When a trigger's consumer finds that an event can go no further because its
``knativebrokerttl`` ran out (the reply it got back, or the event it would pass on to a broker
that is its subscriber, :func:`kawa.broker.ttl.forward`), :class:`LoopReports` says which loop
it went round: the namespace is analysed (:mod:`kawa.reconciler.loops`) with the reply's type
as the trigger's observed reply type, and the loop through the trigger is named in

- a log line (warning) with the event's id and type, and
- a ``Warning`` Event on the Trigger, reason :data:`REASON` (``kubectl describe trigger``
  and ``kubectl get events`` show it; repeats are counted on one Event).

When the configuration does not tell the route (a subscriber on the way whose replies are not
declared), the report says so. At most one report per trigger every :data:`INTERVAL`
seconds: a loop ends many events at once. Used by :mod:`kawa.broker.dataplane`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

from kawa.cloudevents.event import CloudEvent
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.loops import namespace_loops
from kawa.store.base import Obj, ResourceStore

log = logging.getLogger(__name__)

REASON: Final = "EventLoopEnded"
INTERVAL: Final = 10.0
"""Seconds between two reports of one trigger."""
UNKNOWN_ROUTE: Final = (
    "the route is not known from the configuration (declare kawa.dev/reply-types on the "
    "Triggers and Subscriptions whose subscribers reply)"
)


class LoopReports:
    """Reports events whose TTL ran out at a trigger (see the module docstring)."""

    def __init__(
        self,
        store: ResourceStore,
        recorder: EventRecorder,
        *,
        interval: float = INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._recorder = recorder
        self._interval = interval
        self._clock = clock
        self._last: dict[tuple[str, str], float] = {}

    async def report(self, trigger: Obj, event: CloudEvent, *, replied: bool) -> None:
        """``event`` ended its loop at ``trigger`` (``replied``: it is the trigger's
        subscriber's reply)."""
        metadata = trigger.get("metadata") or {}
        namespace, name = str(metadata.get("namespace") or ""), str(metadata.get("name"))
        now = self._clock()
        last = self._last.get((namespace, name))
        if last is not None and now - last < self._interval:
            return
        self._last[(namespace, name)] = now
        observed = {("Trigger", name): (event.type,)} if replied and event.type else None
        try:
            found = await namespace_loops(self._store, namespace, observed=observed)
        except Exception:
            log.exception("loop analysis of namespace %s failed", namespace)
            found = []
        loop = next((lp for lp in found if ("Trigger", name) in lp.members), None)
        route = loop.starting_at("Trigger", name).text() if loop is not None else UNKNOWN_ROUTE
        text = f"an event of type {event.type!r} went round an event loop until its TTL ran out: "
        log.warning("trigger %s/%s: event %s: %s%s", namespace, name, event.id, text, route)
        await self._recorder.record(trigger, "Warning", REASON, text + route)

    def forget(self, namespace: str, name: str) -> None:
        """A trigger is gone: its last report with it."""
        self._last.pop((namespace, name), None)
