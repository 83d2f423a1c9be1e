"""Reconcilers for Brokers and Triggers (Knative's eventing controller, in kawa's shape).

- A Broker gets its ingress URL (``status.address.url``, served by kawa's own ingress) and
  its dead-letter sink resolved; it is Ready when both are.
- A Trigger mirrors its Broker's readiness into ``BrokerReady`` (``False`` while the broker
  is missing), resolves its subscriber (``status.subscriberUri``, ``""`` when it cannot) and
  the dead-letter sink of its effective delivery; ``Ready`` is derived from those.

The broker data plane watches the statuses written here and runs a consumer for every Ready
Trigger. :func:`eventing_controllers` builds the controllers for :mod:`kawa.runtime`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kawa.apis import duck
from kawa.apis.conditions import Clock, ConditionSet, get_condition, system_clock
from kawa.apis.eventing import broker as broker_api
from kawa.apis.eventing import trigger as trigger_api
from kawa.apis.meta import set_observed_generation
from kawa.errors import NotFoundError, ValidationError
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.loop import Controller, Watch, own_key
from kawa.reconciler.resolver import Unresolvable, resolve
from kawa.reconciler.status import load, write_status
from kawa.store.base import ResourceKey, ResourceStore, WatchEvent

BROKERS = "brokers.eventing.knative.dev"
TRIGGERS = "triggers.eventing.knative.dev"


async def _resolve_dead_letter_sink(
    store: ResourceStore,
    conditions: ConditionSet,
    status: dict[str, Any],
    delivery: duck.DeliverySpec | None,
    clock: Clock,
) -> None:
    sink = delivery.dead_letter_sink if delivery is not None else None
    if sink is None:
        duck.mark_dead_letter_sink_not_configured(conditions, status, clock=clock)
        return
    try:
        uri = await resolve(store, sink)
    except Unresolvable as err:
        duck.mark_dead_letter_sink_failed(
            conditions,
            status,
            "Unable to get the dead letter sink's URI",
            f"{err.reason}: {err.message}",
            clock=clock,
        )
    else:
        duck.mark_dead_letter_sink_resolved(conditions, status, uri, clock=clock)


class BrokerReconciler:
    def __init__(
        self,
        store: ResourceStore,
        ingress_base_url: str,
        clock: Clock,
        recorder: EventRecorder | None = None,
    ) -> None:
        self._store = store
        self._base = ingress_base_url.rstrip("/")
        self._clock = clock
        self._recorder = recorder

    async def reconcile(self, key: ResourceKey) -> None:
        conditions = broker_api.BROKER_CONDITIONS
        clock = self._clock
        loaded = await load(self._store, key, conditions, clock)
        if loaded is None:
            return
        obj, status = loaded
        try:
            broker = broker_api.parse_broker(obj)
        except ValidationError as err:
            conditions.mark_false(status, "IngressReady", "Invalid", str(err), clock=clock)
            await write_status(self._store, key, obj, status)
            return
        conditions.mark_true(status, broker_api.INGRESS_READY, clock=clock)
        conditions.mark_true(status, broker_api.FILTER_READY, clock=clock)
        broker_api.set_broker_address(
            status, f"{self._base}/brokers/{broker.namespace}/{broker.name}", clock=clock
        )
        await _resolve_dead_letter_sink(
            self._store, conditions, status, broker.spec.delivery, clock
        )
        set_observed_generation(status, broker.generation)
        await write_status(self._store, key, obj, status, self._recorder)


class TriggerReconciler:
    def __init__(
        self, store: ResourceStore, clock: Clock, recorder: EventRecorder | None = None
    ) -> None:
        self._store = store
        self._clock = clock
        self._recorder = recorder

    async def reconcile(self, key: ResourceKey) -> None:
        conditions = trigger_api.TRIGGER_CONDITIONS
        clock = self._clock
        loaded = await load(self._store, key, conditions, clock)
        if loaded is None:
            return
        obj, status = loaded
        try:
            trigger = trigger_api.parse_trigger(obj)
        except ValidationError as err:
            conditions.mark_false(
                status, trigger_api.SUBSCRIBER_RESOLVED, "Invalid", str(err), clock=clock
            )
            await write_status(self._store, key, obj, status)
            return
        broker: broker_api.Broker | None = None
        try:
            broker_obj = await self._store.get(
                ResourceKey(BROKERS, key.namespace, trigger.spec.broker)
            )
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
            uri = await resolve(self._store, trigger.spec.subscriber)
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
        await _resolve_dead_letter_sink(self._store, conditions, status, delivery, clock)
        conditions.mark_true(status, trigger_api.DEPENDENCY_READY, clock=clock)
        set_observed_generation(status, trigger.generation)
        await write_status(self._store, key, obj, status, self._recorder)


def eventing_controllers(
    store: ResourceStore, *, ingress_base_url: str, clock: Clock = system_clock
) -> list[Controller]:
    """The Broker and Trigger controllers, ready to ``run()``."""

    async def brokers_of_namespace(event: WatchEvent) -> Iterable[ResourceKey]:
        # A Broker may be another Broker's dead-letter sink: when one changes, the others of
        # its namespace resolve theirs again (the periodic resync catches the rest).
        namespace = event.object["metadata"].get("namespace", "")
        listed = await store.list(BROKERS, namespace)
        keys = {ResourceKey(BROKERS, namespace, i["metadata"]["name"]) for i in listed.items}
        return keys | {own_key(event, BROKERS)}

    async def trigger_keys(event: WatchEvent) -> Iterable[ResourceKey]:
        return [own_key(event, TRIGGERS)]

    async def triggers_of_namespace(event: WatchEvent) -> Iterable[ResourceKey]:
        # Any addressable in the namespace may be a subscriber or dead-letter sink of a
        # Trigger there (and a Broker is every Trigger's broker): re-resolve them all.
        namespace = event.object["metadata"].get("namespace", "")
        listed = await store.list(TRIGGERS, namespace)
        return [ResourceKey(TRIGGERS, namespace, item["metadata"]["name"]) for item in listed.items]

    recorder = EventRecorder(store, "eventing-controller", clock=clock)
    brokers = BrokerReconciler(store, ingress_base_url, clock, recorder)
    triggers = TriggerReconciler(store, clock, recorder)
    return [
        Controller("broker", store, brokers.reconcile, [Watch(BROKERS, brokers_of_namespace)]),
        Controller(
            "trigger",
            store,
            triggers.reconcile,
            [Watch(TRIGGERS, trigger_keys), Watch(BROKERS, triggers_of_namespace)],
        ),
    ]
