"""Reconcilers for Brokers and Triggers (Knative's eventing controller, in kawa's shape).

- A Broker gets its ingress URL (``status.address.url``, served by kawa's own ingress) and
  its dead-letter sink resolved; when its ``spec.config`` names a ConfigMap, that ConfigMap
  must exist (``TriggerChannelReady``, as Knative's channel-based broker reads its channel
  template there; kawa needs nothing from it). It is Ready when all are.
- A Trigger mirrors its Broker's readiness into ``BrokerReady`` (``False`` while the broker
  is missing), resolves its subscriber (``status.subscriberUri``, ``""`` when it cannot) and
  the dead-letter sink of its effective delivery; ``Ready`` is derived from those. A
  subscriber that is a Knative Service gets its capacity noted in ``status.annotations``
  (``kawa.dev/subscriber-max-in-flight``, :mod:`kawa.reconciler.subscriber_limits`).
  A Trigger on an event loop has kawa's warning condition ``LoopFree`` ``False`` naming the
  loop (not part of ``Ready``; :mod:`kawa.controllers.loops`).
- A Broker lists the Ready EventPolicies that apply to it in ``status.policies``
  (``EventPoliciesReady``, :mod:`kawa.reconciler.eventpolicies`); EventPolicies have their
  own reconciler (:mod:`kawa.controllers.eventpolicy`).

The broker data plane watches the statuses written here and runs a consumer for every Ready
Trigger. :func:`eventing_controllers` builds the controllers for :mod:`kawa.runtime`, and
:func:`ensure_broker_configs` creates the ConfigMaps a Knative install ships in
``knative-eventing`` that Knative's Broker examples name in ``spec.config``.
"""

from __future__ import annotations

from typing import Final

from kawa.apis import core, features, limits
from kawa.apis.conditions import Clock, get_condition, system_clock
from kawa.apis.eventing import broker as broker_api
from kawa.apis.eventing import trigger as trigger_api
from kawa.apis.meta import set_observed_generation
from kawa.apis.registry import BROKER, TRIGGER
from kawa.controllers.eventpolicy import eventpolicy_controller
from kawa.controllers.eventtype import EventTypeReconciler, eventtype_controller
from kawa.controllers.loops import LoopVerdicts
from kawa.errors import ConflictError, NotFoundError, ValidationError
from kawa.reconciler.eventpolicies import mark_event_policies, receivers_of_policies
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.features import FEATURES_KEY, FeatureFlags
from kawa.reconciler.loop import Controller, own
from kawa.reconciler.oidc_accounts import reconcile_identity
from kawa.reconciler.resolver import Unresolvable, resolve_address, resolve_dead_letter_sink
from kawa.reconciler.status import Reconciling, StatusReconciler
from kawa.reconciler.subscriber_limits import service_max_in_flight
from kawa.store.base import Obj, ResourceKey, ResourceStore


class BrokerReconciler(StatusReconciler[broker_api.Broker]):
    conditions = broker_api.BROKER_CONDITIONS
    invalid_condition = broker_api.INGRESS_READY

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
        self._base = ingress_base_url.rstrip("/")
        self._https = https_base_url.rstrip("/")
        self._ca_certs = ca_certs
        self._features = FeatureFlags(store)

    def parse(self, obj: Obj) -> broker_api.Broker:
        return broker_api.parse_broker(obj)

    async def reconcile_kind(self, current: Reconciling[broker_api.Broker]) -> None:
        broker, status, clock = current.spec, current.status, self.clock
        self.conditions.mark_true(status, broker_api.INGRESS_READY, clock=clock)
        self.conditions.mark_true(status, broker_api.FILTER_READY, clock=clock)
        await self._check_config(current)
        current.track(FEATURES_KEY)  # authentication-oidc, transport-encryption: followed
        flags = await self._features.current()
        audience = (
            features.audience(
                broker_api.API_VERSION, broker_api.KIND, broker.namespace, broker.name
            )
            if flags.oidc
            else None
        )
        path = f"/brokers/{broker.namespace}/{broker.name}"
        broker_api.set_broker_address(
            status,
            f"{self._base}{path}",
            clock=clock,
            audience=audience,
            addresses=features.addresses(
                f"{self._base}{path}",
                f"{self._https}{path}" if self._https else "",
                self._ca_certs,
                flags.transport_encryption,
                audience,
            ),
        )
        await resolve_dead_letter_sink(
            self.store, self.conditions, status, broker.spec.delivery, clock, current.track
        )
        await mark_event_policies(
            self.store,
            self.conditions,
            status,
            broker,
            flags,
            api_version=broker_api.API_VERSION,
            clock=clock,
        )
        set_observed_generation(status, broker.generation)

    async def _check_config(self, current: Reconciling[broker_api.Broker]) -> None:
        """``TriggerChannelReady``: the ConfigMap ``spec.config`` names exists (other kinds
        of config, such as a RabbitmqCluster, are not checked)."""
        broker, status, clock = current.spec, current.status, self.clock
        config = broker.spec.config
        if config is not None and config.kind == "ConfigMap" and config.api_version == "v1":
            namespace = config.namespace or broker.namespace
            key = ResourceKey(core.CONFIG_MAP.resource, namespace, config.name)
            current.track(key)
            try:
                await self.store.get(key)
            except NotFoundError:
                self.conditions.mark_false(
                    status,
                    broker_api.TRIGGER_CHANNEL_READY,
                    broker_api.CHANNEL_TEMPLATE_FAILED,
                    f'Error on setting up the ChannelTemplate: configmap "{config.name}" not'
                    f' found in namespace "{namespace}" (spec.config names it; create it, or'
                    f" recreate the Broker without spec.config, which cannot change)",
                    clock=clock,
                )
                return
        self.conditions.mark_true(status, broker_api.TRIGGER_CHANNEL_READY, clock=clock)


class TriggerReconciler(StatusReconciler[trigger_api.Trigger]):
    conditions = trigger_api.TRIGGER_CONDITIONS
    invalid_condition = trigger_api.SUBSCRIBER_RESOLVED

    def __init__(
        self, store: ResourceStore, clock: Clock, recorder: EventRecorder | None = None
    ) -> None:
        super().__init__(store, clock, recorder)
        self._features = FeatureFlags(store)
        self.loops = LoopVerdicts(store)
        """The loop each Trigger is on (its ``LoopFree`` condition)."""

    def parse(self, obj: Obj) -> trigger_api.Trigger:
        return trigger_api.parse_trigger(obj)

    async def reconcile_kind(self, current: Reconciling[trigger_api.Trigger]) -> None:
        trigger, status, clock = current.spec, current.status, self.clock
        broker: broker_api.Broker | None = None
        broker_key = ResourceKey(BROKER.resource, current.key.namespace, trigger.spec.broker)
        current.track(broker_key)
        try:
            broker_obj = await self.store.get(broker_key)
        except NotFoundError:
            trigger_api.mark_broker_missing(status, trigger.spec.broker, clock=clock)
        else:
            trigger_api.propagate_broker_condition(
                status, get_condition(broker_obj.get("status") or {}, "Ready"), clock=clock
            )
            try:
                broker = broker_api.parse_broker(broker_obj)
            except ValidationError:
                broker = None
        try:
            address = await resolve_address(
                self.store, trigger.spec.subscriber, track=current.track
            )
        except Unresolvable as err:
            trigger_api.mark_subscriber_unresolved(
                status,
                "Unable to get the Subscriber's URI",
                f"{err.reason}: {err.message}",
                clock=clock,
            )
        else:
            trigger_api.mark_subscriber_resolved(
                status,
                address.url,
                clock=clock,
                audience=address.audience,
                ca_certs=address.ca_certs,
            )
        bound = await service_max_in_flight(self.store, trigger.spec.subscriber, current.track)
        limits.with_subscriber_limit(status, bound)
        delivery = (
            trigger.spec.delivery
            if trigger.spec.delivery is not None
            else (broker.spec.delivery if broker is not None else None)
        )
        await resolve_dead_letter_sink(
            self.store, self.conditions, status, delivery, clock, current.track
        )
        self.conditions.mark_true(status, trigger_api.DEPENDENCY_READY, clock=clock)
        loop = await self.loops.loop_of(current.key.namespace, current.key.name)
        trigger_api.mark_loop(status, loop, clock=clock)
        await self._identity(current)
        trigger_api.record_ready_since(status, clock=clock)
        set_observed_generation(status, trigger.generation)

    async def _identity(self, current: Reconciling[trigger_api.Trigger]) -> None:
        """``OIDCIdentityCreated`` and ``status.auth`` (the identity its deliveries present)."""
        await reconcile_identity(
            self.store,
            self._features,
            self.conditions,
            current,
            api_version=trigger_api.API_VERSION,
            kind=trigger_api.KIND,
            clock=self.clock,
        )


def eventing_controllers(
    store: ResourceStore,
    *,
    ingress_base_url: str,
    clock: Clock = system_clock,
    https_base_url: str = "",
    ca_certs: str = "",
) -> list[Controller]:
    """The Broker, Trigger, EventPolicy and EventType controllers, ready to ``run()``. A
    Trigger tracks its Broker, subscriber and dead-letter sink, and the objects of its
    namespace that may put it on an event loop (:mod:`kawa.controllers.loops`); a Broker its
    dead-letter sink (which may be another Broker) and the EventPolicies of its namespace; an
    EventPolicy the objects its ``from`` refers to; an EventType its ``spec.reference``: a
    change of any of them reconciles it at once."""
    recorder = EventRecorder(store, "eventing-controller", clock=clock)
    brokers = BrokerReconciler(
        store, ingress_base_url, clock, recorder, https_base_url=https_base_url, ca_certs=ca_certs
    )
    triggers = TriggerReconciler(store, clock, recorder)
    # a Trigger is reconciled when it changes, when what it resolves changes (tracked), and
    # when a change in its namespace may put it on an event loop or take it off one
    trigger_controller = Controller(
        "trigger",
        store,
        triggers.reconcile,
        [*triggers.loops.watches(), own(TRIGGER.resource)],
        tracker=triggers.tracker,
    )
    triggers.loops.requeue.controller = trigger_controller
    return [
        Controller(
            "broker",
            store,
            brokers.reconcile,
            [own(BROKER.resource), receivers_of_policies(store, BROKER.resource)],
            tracker=brokers.tracker,
        ),
        trigger_controller,
        eventpolicy_controller(store, clock, recorder),
        eventtype_controller(EventTypeReconciler(store, clock, recorder)),
    ]


EVENTING_NAMESPACE: Final = "knative-eventing"
BROKER_CONFIGS: Final[dict[str, dict[str, str]]] = {
    # Knative Eventing's default channel of MTChannelBasedBroker (kawa's log replaces it).
    "config-br-default-channel": {
        "channel-template-spec": "apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\n"
    },
    # The Kafka broker's default config (kawa serves Kafka-class brokers with its own log).
    "kafka-broker-config": {
        "default.topic.partitions": "10",
        "default.topic.replication.factor": "3",
        "bootstrap.servers": "my-cluster-kafka-bootstrap.kafka:9092",
    },
}
"""ConfigMaps Knative's Broker examples name in ``spec.config``; kawa reads nothing in them."""
EVENTING_CONFIGS: Final[dict[str, dict[str, str]]] = {
    **BROKER_CONFIGS,
    # Knative Eventing's feature flags, with Knative's defaults (kawa.apis.features).
    features.CONFIG_MAP: dict(features.DEFAULT_DATA),
}


async def ensure_broker_configs(store: ResourceStore) -> None:
    """Create the ConfigMaps of :data:`EVENTING_CONFIGS` that do not exist yet (never
    overwriting a user's)."""
    for name, data in EVENTING_CONFIGS.items():
        obj = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": name,
                "namespace": EVENTING_NAMESPACE,
                "labels": {"app.kubernetes.io/part-of": "kawa"},
            },
            "data": dict(data),
        }
        try:
            await store.create(ResourceKey(core.CONFIG_MAP.resource, EVENTING_NAMESPACE, name), obj)
        except ConflictError:
            continue
