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

from kawa.apis.conditions import Clock
from kawa.apis.meta import set_observed_generation
from kawa.apis.sources import pingsource
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.features import FeatureFlags
from kawa.reconciler.status import Reconciling, StatusReconciler
from kawa.sources import sink
from kawa.sources.ping.scheduler import PingScheduler
from kawa.store.base import Obj, ResourceStore

CONDITIONS = pingsource.PINGSOURCE_CONDITIONS


class PingSourceReconciler(StatusReconciler[pingsource.PingSource]):
    conditions = CONDITIONS
    invalid_condition = pingsource.DEPLOYED

    def __init__(
        self,
        store: ResourceStore,
        scheduler: PingScheduler,
        clock: Clock,
        recorder: EventRecorder | None = None,
    ) -> None:
        super().__init__(store, clock, recorder)
        self._scheduler = scheduler
        self._features = FeatureFlags(store)

    def parse(self, obj: Obj) -> pingsource.PingSource:
        return pingsource.parse_pingsource(obj)

    async def reconcile_kind(self, current: Reconciling[pingsource.PingSource]) -> None:
        source, status, clock = current.spec, current.status, self.clock
        await sink.reconcile_sender(
            self.store,
            self._features,
            CONDITIONS,
            current,
            self._scheduler.deliveries.last(source.namespace, source.name),
            api_version=pingsource.API_VERSION,
            kind=pingsource.KIND,
            clock=clock,
        )
        CONDITIONS.mark_true(status, pingsource.DEPLOYED, clock=clock)
        status["ceAttributes"] = [{"type": pingsource.EVENT_TYPE, "source": source.event_source}]
        set_observed_generation(status, source.generation)
