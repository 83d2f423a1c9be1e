"""The IntegrationSource reconciler: its status, with Knative's conditions.

- ``SinkProvided``: ``spec.sink`` resolves (``status.sinkUri``, ``sinkAudience``,
  ``sinkCACerts``), else ``False`` with the reason; ``False`` with reason ``Unreachable``
  while the last event sent to that URL failed (as for PingSources).
- ``ContainerSourceReady`` (Knative's name: its ContainerSource, which runs the connector, is
  Ready): ``True`` for a timer, which kawa runs itself (:mod:`.timers`); ``False`` for the AWS
  connectors, which kawa does not run, saying what they lack
  (:func:`kawa.apis.integration.aws.not_supported`: reason ``AWSCredentialsMissing`` while the
  credentials Secret or the endpoint is missing, else ``AWSNotSupported``).
- ``OIDCIdentityCreated``: with authentication-oidc, the source's own ServiceAccount
  (``status.auth``), whose token its events carry.
- ``Ready`` from the three; ``ceAttributes`` (the timer's type and source);
  ``observedGeneration``.

Built by :func:`kawa.sources.integration.integration_sources`.
"""

from __future__ import annotations

from kawa.apis import core
from kawa.apis.conditions import Clock
from kawa.apis.integration import aws
from kawa.apis.integration import integrationsource as api
from kawa.apis.meta import set_observed_generation
from kawa.errors import NotFoundError
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.features import FeatureFlags
from kawa.reconciler.status import Reconciling, StatusReconciler
from kawa.sources import sink
from kawa.sources.integration.timers import TimerSources
from kawa.store.base import Obj, ResourceKey, ResourceStore

CONDITIONS = api.INTEGRATIONSOURCE_CONDITIONS


class IntegrationSourceReconciler(StatusReconciler[api.IntegrationSource]):
    conditions = CONDITIONS
    invalid_condition = api.CONTAINER_SOURCE_READY

    def __init__(
        self,
        store: ResourceStore,
        timers: TimerSources,
        clock: Clock,
        recorder: EventRecorder | None = None,
    ) -> None:
        super().__init__(store, clock, recorder)
        self._timers = timers
        self._features = FeatureFlags(store)

    def parse(self, obj: Obj) -> api.IntegrationSource:
        return api.parse_integrationsource(obj)

    async def reconcile_kind(self, current: Reconciling[api.IntegrationSource]) -> None:
        source, status, clock = current.spec, current.status, self.clock
        await sink.reconcile_sender(
            self.store,
            self._features,
            CONDITIONS,
            current,
            self._timers.deliveries.last(source.namespace, source.name),
            api_version=api.API_VERSION,
            kind=api.KIND,
            clock=clock,
        )
        connectors = source.spec.aws
        if source.spec.timer is not None or connectors is None:
            CONDITIONS.mark_true(status, api.CONTAINER_SOURCE_READY, clock=clock)
            status["ceAttributes"] = [
                {"type": api.TIMER_EVENT_TYPE, "source": api.TIMER_EVENT_SOURCE}
            ]
        else:
            secret = connectors.auth.secret_name if connectors.auth is not None else ""
            if secret:
                key = ResourceKey(core.SECRET.resource, source.namespace, secret)
                current.track(key)
                try:
                    await self.store.get(key)
                except NotFoundError:
                    secret = ""
            kinds = ",".join(f"aws.{k}" for k in connectors.kinds())
            reason, message = aws.not_supported(kinds, secret, connectors.endpoint())
            CONDITIONS.mark_false(status, api.CONTAINER_SOURCE_READY, reason, message, clock=clock)
            status.pop("ceAttributes", None)
        set_observed_generation(status, source.generation)
