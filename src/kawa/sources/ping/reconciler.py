"""The PingSource reconciler: its status, as Knative's pingsource controller writes it.

- ``SinkProvided``: ``spec.sink`` resolves (``status.sinkUri``), else ``False`` with the
  reason (``NotFound``, ``NotAddressable`` ...). Also ``False`` with reason ``Unreachable``
  while the last event the scheduler sent to that URL failed (Knative does not probe sinks;
  kawa says so, see ``docs/sources-ping.md``); the next successful event makes it ``True``.
- ``Deployed``: the source is valid, so kawa's in-process ping adapter runs it (Knative: the
  mt-ping Deployment is available); ``False`` with reason ``Invalid`` otherwise.
- ``Ready`` from both; ``ceAttributes`` ``[{type, source}]``; ``observedGeneration``.

A Warning Event is recorded when ``Ready`` turns ``False`` and a Normal one when it turns
``True``. Built by :func:`kawa.sources.ping.ping_sources`.
"""

from __future__ import annotations

import copy
from typing import Any

from kawa.apis.conditions import Clock
from kawa.apis.meta import set_observed_generation
from kawa.apis.sources import pingsource
from kawa.errors import NotFoundError, ValidationError
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.resolver import Unresolvable
from kawa.reconciler.status import write_status
from kawa.sources import sink
from kawa.sources.ping.scheduler import PingScheduler
from kawa.store.base import ResourceKey, ResourceStore

CONDITIONS = pingsource.PINGSOURCE_CONDITIONS
INVALID = "Invalid"


class PingSourceReconciler:
    def __init__(
        self,
        store: ResourceStore,
        scheduler: PingScheduler,
        clock: Clock,
        recorder: EventRecorder | None = None,
    ) -> None:
        self._store = store
        self._scheduler = scheduler
        self._clock = clock
        self._recorder = recorder

    async def reconcile(self, key: ResourceKey) -> None:
        clock = self._clock
        try:
            obj = await self._store.get(key)
        except NotFoundError:
            return
        stored = obj.get("status")
        status: dict[str, Any] = copy.deepcopy(stored) if isinstance(stored, dict) else {}
        CONDITIONS.initialize(status, clock=clock)
        try:
            source = pingsource.parse_pingsource(obj)
        except ValidationError as err:
            CONDITIONS.mark_false(status, pingsource.DEPLOYED, INVALID, str(err), clock=clock)
            await write_status(self._store, key, obj, status, self._recorder)
            return
        try:
            url: str | None = await sink.resolve_sink(self._store, obj)
            unresolvable = None
        except Unresolvable as err:
            url, unresolvable = None, err
        last = self._scheduler.last_delivery(source.namespace, source.name)
        delivery = last.result if last is not None and last.url == url else None
        sink.set_sink_status(
            status, url, unresolvable, clock, conditions=CONDITIONS, delivery=delivery
        )
        CONDITIONS.mark_true(status, pingsource.DEPLOYED, clock=clock)
        status["ceAttributes"] = [{"type": pingsource.EVENT_TYPE, "source": source.event_source}]
        set_observed_generation(status, source.generation)
        await write_status(self._store, key, obj, status, self._recorder)
