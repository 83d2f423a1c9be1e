"""Reconcilers for Brokers and Triggers (Knative's eventing controller, in kawa's shape).

- A Broker gets its ingress URL (``status.address.url``, served by kawa's own ingress) and
  its dead-letter sink resolved; when its ``spec.config`` names a ConfigMap, that ConfigMap
  must exist (``TriggerChannelReady``, as Knative's channel-based broker reads its channel
  template there; kawa needs nothing from it). It is Ready when all are.
- A Trigger mirrors its Broker's readiness into ``BrokerReady`` (``False`` while the broker
  is missing), resolves its subscriber (``status.subscriberUri``, ``""`` when it cannot) and
  the dead-letter sink of its effective delivery; ``Ready`` is derived from those.

The broker data plane watches the statuses written here and runs a consumer for every Ready
Trigger. :func:`eventing_controllers` builds the controllers for :mod:`kawa.runtime`, and
:func:`ensure_broker_configs` creates the ConfigMaps a Knative install ships in
``knative-eventing`` that Knative's Broker examples name in ``spec.config``.
"""

from __future__ import annotations

from typing import Final

from kawa.apis import core
from kawa.apis.conditions import Clock, get_condition, system_clock
from kawa.apis.eventing import broker as broker_api
from kawa.apis.eventing import trigger as trigger_api
from kawa.apis.meta import set_observed_generation
from kawa.apis.registry import BROKER, TRIGGER
from kawa.errors import ConflictError, NotFoundError, ValidationError
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.loop import Controller
from kawa.reconciler.resolver import Unresolvable, resolve, resolve_dead_letter_sink
from kawa.reconciler.status import Reconciling, StatusReconciler, status_controller
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
    ) -> None:
        super().__init__(store, clock, recorder)
        self._base = ingress_base_url.rstrip("/")

    def parse(self, obj: Obj) -> broker_api.Broker:
        return broker_api.parse_broker(obj)

    async def reconcile_kind(self, current: Reconciling[broker_api.Broker]) -> None:
        broker, status, clock = current.spec, current.status, self.clock
        self.conditions.mark_true(status, broker_api.INGRESS_READY, clock=clock)
        self.conditions.mark_true(status, broker_api.FILTER_READY, clock=clock)
        await self._check_config(current)
        broker_api.set_broker_address(
            status, f"{self._base}/brokers/{broker.namespace}/{broker.name}", clock=clock
        )
        await resolve_dead_letter_sink(
            self.store, self.conditions, status, broker.spec.delivery, clock, current.track
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
            uri = await resolve(self.store, trigger.spec.subscriber, track=current.track)
        except Unresolvable as err:
            trigger_api.mark_subscriber_unresolved(
                status,
                "Unable to get the Subscriber's URI",
                f"{err.reason}: {err.message}",
                clock=clock,
            )
        else:
            trigger_api.mark_subscriber_resolved(status, uri, clock=clock)
        delivery = (
            trigger.spec.delivery
            if trigger.spec.delivery is not None
            else (broker.spec.delivery if broker is not None else None)
        )
        await resolve_dead_letter_sink(
            self.store, self.conditions, status, delivery, clock, current.track
        )
        self.conditions.mark_true(status, trigger_api.DEPENDENCY_READY, clock=clock)
        trigger_api.record_ready_since(status, clock=clock)
        set_observed_generation(status, trigger.generation)


def eventing_controllers(
    store: ResourceStore, *, ingress_base_url: str, clock: Clock = system_clock
) -> list[Controller]:
    """The Broker and Trigger controllers, ready to ``run()``. A Trigger tracks its Broker,
    subscriber and dead-letter sink; a Broker its dead-letter sink (which may be another
    Broker): a change of any of them reconciles it at once."""
    recorder = EventRecorder(store, "eventing-controller", clock=clock)
    brokers = BrokerReconciler(store, ingress_base_url, clock, recorder)
    triggers = TriggerReconciler(store, clock, recorder)
    return [
        status_controller("broker", brokers, BROKER.resource),
        status_controller("trigger", triggers, TRIGGER.resource),
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


async def ensure_broker_configs(store: ResourceStore) -> None:
    """Create the ConfigMaps of :data:`BROKER_CONFIGS` that do not exist yet (never
    overwriting a user's)."""
    for name, data in BROKER_CONFIGS.items():
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
