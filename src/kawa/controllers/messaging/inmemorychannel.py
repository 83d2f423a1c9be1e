"""The InMemoryChannel reconciler: the channel's address, dead-letter sink and subscribers.

An InMemoryChannel's dispatcher is kawa's own, in process (``DispatcherReady`` is always
True); its address is kawa's channel ingress, ``<ingress base>/channels/<ns>/<name>``
(``Addressable``); its ``spec.delivery`` dead-letter sink is resolved into
``status.deadLetterSinkUri`` (``DeadLetterSinkResolved``; True without one). Every entry of
``spec.subscribers`` (written by the Subscription reconciler) is published in
``status.subscribers`` as ready at its generation, with the moment it was first marked ready
in ``status.annotations["subscribers.kawa.dev/<uid>"]``, in the same status write: the
channel data plane reads those (see ``/work/wt/CHANNELS-CONTRACT.md``, and
:func:`kawa.apis.messaging.inmemorychannel.mark_subscribers`). Built by
:func:`kawa.controllers.messaging.messaging_controllers`.
"""

from __future__ import annotations

from kawa.apis import features
from kawa.apis.conditions import Clock, get_condition
from kawa.apis.duck import DEAD_LETTER_SINK_RESOLVED
from kawa.apis.messaging import channelable
from kawa.apis.messaging import inmemorychannel as imc_api
from kawa.apis.meta import set_observed_generation
from kawa.reconciler.eventpolicies import mark_event_policies
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.features import FEATURES_KEY, FeatureFlags
from kawa.reconciler.resolver import resolve_dead_letter_sink
from kawa.reconciler.status import Reconciling, StatusReconciler
from kawa.store.base import Obj, ResourceStore


def channel_url(ingress_base_url: str, namespace: str, name: str) -> str:
    """Where kawa's channel ingress receives the events of channel ``namespace/name``."""
    return f"{ingress_base_url.rstrip('/')}/channels/{namespace}/{name}"


class InMemoryChannelReconciler(StatusReconciler[imc_api.InMemoryChannel]):
    conditions = imc_api.INMEMORYCHANNEL_CONDITIONS
    invalid_condition = imc_api.DISPATCHER_READY

    def __init__(
        self,
        store: ResourceStore,
        ingress_base_url: str,
        clock: Clock,
        recorder: EventRecorder | None = None,
        *,
        https_base_url: str = "",
        ca_certs: str = "",
    ) -> None:
        super().__init__(store, clock, recorder)
        self._base = ingress_base_url
        self._https = https_base_url
        self._ca_certs = ca_certs
        self._features = FeatureFlags(store)

    def parse(self, obj: Obj) -> imc_api.InMemoryChannel:
        return imc_api.parse_inmemorychannel(obj)

    async def reconcile_kind(self, current: Reconciling[imc_api.InMemoryChannel]) -> None:
        channel, status, clock = current.spec, current.status, self.clock
        self.conditions.mark_true(status, imc_api.DISPATCHER_READY, clock=clock)
        current.track(FEATURES_KEY)  # authentication-oidc on or off: the audience follows
        namespace, name = current.key.namespace, current.key.name
        flags = await self._features.current()
        audience = (
            features.audience(imc_api.API_VERSION, imc_api.KIND, namespace, name)
            if flags.oidc
            else None
        )
        url = channel_url(self._base, namespace, name)
        channelable.set_address(
            self.conditions,
            status,
            url,
            clock=clock,
            audience=audience,
            addresses=features.addresses(
                url,
                channel_url(self._https, namespace, name) if self._https else "",
                self._ca_certs,
                flags.transport_encryption,
                audience,
            ),
        )
        await resolve_dead_letter_sink(
            self.store, self.conditions, status, channel.spec.delivery, clock, current.track
        )
        sink = get_condition(status, DEAD_LETTER_SINK_RESOLVED)
        not_ready = (
            None
            if sink is None or sink.status == "True"
            else "the channel's dead-letter sink is not resolved yet"
        )
        imc_api.mark_subscribers(status, channel.spec.subscribers, not_ready=not_ready, clock=clock)
        await mark_event_policies(
            self.store,
            self.conditions,
            status,
            channel,
            flags,
            api_version=imc_api.API_VERSION,
            clock=clock,
        )
        set_observed_generation(status, channel.generation)
