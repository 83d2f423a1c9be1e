"""The broker data plane: which brokers exist, one consumer per ready trigger, publishing.

It watches Brokers and Triggers in the resource store (as Knative's broker ingress and filter
watch them through informers) and keeps:

- a map from ``namespace/name`` to the broker's event-log stream (``broker:<uid>``), used by
  the ingress to answer 404 for unknown brokers and to append events;
- one :class:`~kawa.dispatch.consumer.Consumer` per Trigger that is ``Ready`` with a
  resolved ``status.subscriberUri``. A change of what a consumer depends on (subscriber,
  dead-letter sink, filters, delivery, ordering) restarts it from its durable cursor; a
  deleted trigger's cursor is removed; a deleted broker's stream is removed. All consumers
  share one delivery memory budget (:mod:`kawa.dispatch.budget`).

The delivery budget and the log's :class:`kawa.dispatch.running.Trimmer` come from
:mod:`kawa.runtime` (shared with the channel data plane); a plane made without them makes
and runs its own. With ``max_delivery_lag`` it measures how long each broker's events wait
for delivery so the ingress can push back (:mod:`kawa.broker.backpressure`). A broker keeps
the lineage of its events unless annotated ``kawa.dev/lineage: "off"``
(:mod:`kawa.dispatch.lineage`). A trigger without a dead-letter sink keeps what it gives up
in the broker's dead-letter store (:mod:`kawa.dispatch.deadletter_store`) unless the store is
off (``dead_letter_store=False``, or the Trigger's ``kawa.dev/dead-letter-store: "false"``);
:meth:`BrokerDataPlane.redrive_route` is how a stored one is sent again. An event whose TTL
runs out at a trigger is reported with the loop it went round (:mod:`kawa.broker.loops`). A
broker annotated ``kawa.dev/retention`` keeps its events (and their lineage) that long
(:mod:`kawa.apis.retention`): the plane tells the Trimmer. Run by :mod:`kawa.runtime`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from kawa.apis import eventing, limits
from kawa.apis.duck import BROKER_DEFAULT_DELIVERY, DeliverySpec
from kawa.apis.eventing.data_filter import ANNOTATION as DATA_ANNOTATION
from kawa.apis.eventing.trigger_filters import TriggerFilter
from kawa.apis.registry import BROKER, TRIGGER
from kawa.apis.retention import retention_of
from kawa.broker import envelope, ttl
from kawa.broker.backpressure import DeliveryLag
from kawa.broker.loops import LoopReports
from kawa.cloudevents.event import CloudEvent
from kawa.delivery import tracing
from kawa.delivery.policy import policy_from_delivery
from kawa.delivery.sender import Dispatcher
from kawa.dispatch import deadletters, stats
from kawa.dispatch.budget import DEFAULT_MAX_IN_FLIGHT_BYTES, DeliveryBudget
from kawa.dispatch.consumer import Consumer, Target
from kawa.dispatch.deadletter_store import DeadLetterStore
from kawa.dispatch.envelope import sender_id
from kawa.dispatch.eventtypes import EventTypeRecorder, Receiver
from kawa.dispatch.hooks import Prepare, ReplyPublisher
from kawa.dispatch.lineage import Lineage, lineage_stream
from kawa.dispatch.lineage import enabled as lineage_enabled
from kawa.dispatch.redrive import Route
from kawa.dispatch.running import Consumers, Gate, Trimmer
from kawa.dispatch.senders import ReplyCheck
from kawa.errors import KawaError, NotFoundError
from kawa.eventlog.base import EventLog, Feed
from kawa.filters.compile import compile_trigger
from kawa.reconciler.eventpolicies import LiveEventPolicies
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.informer import inform
from kawa.store.base import Obj, ResourceStore, WatchEvent

log = logging.getLogger(__name__)

BROKERS = BROKER.resource
TRIGGERS = TRIGGER.resource


@dataclass(frozen=True, slots=True)
class BrokerEntry:
    uid: str
    stream: str
    delivery: DeliverySpec | None
    lineage: bool = True
    policies: tuple[str, ...] = ()
    """The EventPolicies that apply to it (its ``status.policies``; authentication-oidc)."""


def broker_stream(broker_uid: str) -> str:
    """The event-log stream of the broker with uid ``broker_uid``: ``broker:<uid>`` (a
    re-created broker is a new stream). The one place the name is made."""
    return f"broker:{broker_uid}"


def trigger_cursor(trigger_uid: str, stream: str) -> str:
    """The event-log cursor of a trigger reading a broker's stream: ``trigger:<uid>@<stream>``.

    The one place the name is made. It names the stream too: a re-created broker is a new
    stream, so a cursor never applies to the wrong one.
    """
    return f"trigger:{trigger_uid}@{stream}"


def filter_spec(trigger: Obj) -> str:
    """A trigger's filters as one canonical string (a change restarts its consumer; lineage
    keeps a digest of it with each decision)."""
    spec = trigger.get("spec") or {}
    parts: list[Any] = [spec.get("filter"), spec.get("filters")]
    data = ((trigger.get("metadata") or {}).get("annotations") or {}).get(DATA_ANNOTATION)
    if data is not None:  # kawa's data filter, only when there is one (digests stay the same)
        parts.append({DATA_ANNOTATION: data})
    return orjson.dumps(parts, option=orjson.OPT_SORT_KEYS).decode()


def _is_ready(obj: Obj) -> bool:
    for cond in obj.get("status", {}).get("conditions", []) or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def _ready_since(obj: Obj) -> float | None:
    """When the trigger last turned Ready (unix time): the controller's precise record, else
    the ``Ready`` condition's ``lastTransitionTime`` (whole seconds); ``None`` if unknown."""
    status = obj.get("status") or {}
    precise = (status.get("annotations") or {}).get(eventing.trigger.READY_SINCE_ANNOTATION)
    if isinstance(precise, str):
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(precise).timestamp()
    for cond in status.get("conditions", []) or []:
        if cond.get("type") == "Ready":
            try:
                return datetime.fromisoformat(str(cond.get("lastTransitionTime"))).timestamp()
            except ValueError:
                return None
    return None


class BrokerDataPlane:
    """Owns the consumers and implements :class:`kawa.broker.ingress.Publisher`."""

    def policies_of(self, namespace: str, name: str) -> tuple[str, ...]:
        """The EventPolicies that apply to broker ``namespace/name`` (none when unknown)."""
        entry = self._brokers.get((namespace, name))
        return entry.policies if entry is not None else ()

    def __init__(
        self,
        store: ResourceStore,
        event_log: EventLog,
        dispatcher: Dispatcher,
        *,
        max_in_flight: int = 100,
        max_in_flight_bytes: int = DEFAULT_MAX_IN_FLIGHT_BYTES,
        max_ttl: int = ttl.DEFAULT_MAX_TTL,
        max_delivery_lag: float = 0.0,
        retention: float = 0.0,
        trim_interval: float = 30.0,
        budget: DeliveryBudget | None = None,
        trimmer: Trimmer | None = None,
        ordered_gate: Gate | None = None,
        reporter: stats.Reporter = stats.NO_REPORTER,
        tracer: tracing.Tracer = tracing.NO_TRACER,
        identity: str = "kawa",
        dead_letter_store: bool = True,
    ) -> None:
        self.reply_check: ReplyCheck | None = None
        """The authorization of replies put back into a broker (authentication-oidc)."""
        self.event_types: EventTypeRecorder | None = None
        """Where the events it stores are noted for the event registry (eventtype-auto-create)."""
        self._store = store
        self.loop_reports = LoopReports(store, EventRecorder(store, "broker", host=identity))
        """Reports the events a trigger's TTL check ends (:mod:`kawa.broker.loops`)."""
        self.lineage = Lineage(event_log, identity)
        """The lineage of the brokers' events (noted by this process, :meth:`run` appends it)."""
        self._reporter = reporter
        self._tracer = tracer
        self._log = event_log
        self._dispatcher = dispatcher
        self._max_in_flight = max_in_flight
        self.budget = budget if budget is not None else DeliveryBudget(max_in_flight_bytes)
        """The delivery memory budget every consumer shares (:mod:`kawa.dispatch.budget`)."""
        self._max_ttl = max_ttl
        self._lag = (
            DeliveryLag(event_log, max_delivery_lag, self._started_consumers)
            if max_delivery_lag > 0
            else None
        )
        self._own_trimmer = trimmer is None
        self.trimmer = (
            trimmer
            if trimmer is not None
            else Trimmer(event_log, retention=retention, interval=trim_interval)
        )
        """Trims the log: given (and run) by :mod:`kawa.runtime`, which shares it with the
        channel data plane, or this plane's own (run by it)."""
        self._keep_dead_letters = dead_letter_store
        self.dead_letters = DeadLetterStore(event_log, self.trimmer.append)
        """The brokers' dead-letter stores."""
        self._brokers: dict[tuple[str, str], BrokerEntry] = {}
        self._triggers: dict[tuple[str, str], Obj] = {}
        self._consumers: Consumers[tuple[str, str]] = Consumers(ordered_gate)
        """With an ``ordered_gate`` (processes sharing the log), an ordered trigger's
        consumer runs in one process at a time (:data:`kawa.dispatch.running.Gate`)."""
        self._task_group: asyncio.TaskGroup | None = None
        self.ready = asyncio.Event()

    # -- publishing ----------------------------------------------------------------------

    async def publish(
        self,
        namespace: str,
        name: str,
        events: list[CloudEvent],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Store events a sender posted (a retry of one already stored within the log's
        duplicate window is stored once)."""
        await self._append(namespace, name, events, headers, dedupe=True)

    async def _append(
        self,
        namespace: str,
        name: str,
        events: list[CloudEvent],
        headers: Mapping[str, str] | None,
        *,
        dedupe: bool,
        reply_of: str = "",
    ) -> None:
        entry = self._brokers.get((namespace, name))
        if entry is None:
            raise NotFoundError(f"broker {namespace}/{name} does not exist")
        payloads = [envelope.on_ingress(event, headers, self._max_ttl) for event in events]
        ids = [sender_id(event) for event in events] if dedupe and self.trimmer.keeps_ids else None
        at = time.time()  # the request's time: the log's commit wakes consumers first
        seqs = await self.trimmer.append(entry.stream, payloads, ids)
        if entry.lineage:
            self.lineage.stream(entry.stream).accepted(seqs, at, reply_of)
        if self.event_types is not None and self.event_types.wanted():
            receiver = Receiver(BROKER.storage_api_version, BROKER.kind, namespace, name, entry.uid)
            self.event_types.seen(receiver, events)

    def retry_after(self, namespace: str, name: str) -> int | None:
        """Seconds the ingress asks senders to wait (429) because the broker's events wait
        longer than ``max_delivery_lag`` for delivery; ``None``: accept
        (:mod:`kawa.broker.backpressure`)."""
        if self._lag is None:
            return None
        entry = self._brokers.get((namespace, name))
        return None if entry is None else self._lag.retry_after(entry.stream)

    def _started_consumers(self) -> list[Consumer]:
        return self._consumers.started()

    def started_consumers(self) -> list[Consumer]:
        """The running trigger consumers (metrics read their positions)."""
        return self._consumers.started()

    def consumer(self, namespace: str, name: str) -> Consumer | None:
        return self._consumers.get((namespace, name))

    # -- what a Replay uses (kawa.broker.replays) ------------------------------------------

    @property
    def event_log(self) -> EventLog:
        return self._log

    def broker_entry(self, namespace: str, name: str) -> BrokerEntry | None:
        """Broker ``namespace/name`` as the plane knows it (``None``: it knows none)."""
        return self._brokers.get((namespace, name))

    def trigger(self, namespace: str, name: str) -> tuple[Obj | None, Target | None]:
        """Trigger ``namespace/name`` as stored, and its delivery target (``None`` while it is
        not Ready)."""
        key = (namespace, name)
        return self._triggers.get(key), self._target(key)

    def replay_consumer(self, target: Target, feed: Feed, prepare: Prepare) -> Consumer:
        """A consumer delivering ``feed``'s records to ``target`` with the plane's dispatcher,
        budget and bounds; the subscriber's replies are not put back into the broker (its
        other triggers would see them); what it gives up goes to the dead-letter store as the
        Trigger's own would."""
        return Consumer(
            target,
            self._log,
            self._dispatcher,
            _drop_reply,
            prepare=prepare,
            budget=self.budget,
            max_in_flight=self._max_in_flight,
            feed=feed,
            dead_letters=self.dead_letters,
        )

    # -- running -------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                self._task_group = tg
                brokers_listed = asyncio.Event()
                tg.create_task(self._watch(BROKERS, self._on_broker, brokers_listed))
                await brokers_listed.wait()
                triggers_listed = asyncio.Event()
                tg.create_task(self._watch(TRIGGERS, self._on_trigger, triggers_listed))
                await triggers_listed.wait()
                self.ready.set()
                tg.create_task(self.lineage.run(), name="broker-lineage")
                if self._own_trimmer:
                    tg.create_task(self.trimmer.run(), name="event-log-trimmer")
                if self._lag is not None:
                    tg.create_task(self._lag.run(), name="broker-delivery-lag")
        finally:
            self._task_group = None

    async def _watch(self, resource: str, handler: Any, listed: asyncio.Event) -> None:
        async def mark_listed(_: list[Any]) -> None:
            listed.set()

        await inform(self._store, resource, handler, on_listed=mark_listed)

    async def _on_broker(self, event: WatchEvent) -> None:
        obj = event.object
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        if event.type == "DELETED":
            entry = self._brokers.pop(key, None)
            if entry is not None:
                await self._drop_stream(entry.stream)
                self.trimmer.retain(entry.stream, None)
        else:
            try:
                broker = eventing.parse_broker(obj)
            except KawaError as err:
                log.error("ignoring invalid broker %s/%s: %s", *key, err)
                return
            old = self._brokers.get(key)
            if old is not None and old.uid != meta["uid"]:
                await self._drop_stream(old.stream)
                self.trimmer.retain(old.stream, None)
            self.trimmer.retain(broker_stream(meta["uid"]), retention_of(meta.get("annotations")))
            self._brokers[key] = BrokerEntry(
                meta["uid"],
                broker_stream(meta["uid"]),
                broker.spec.delivery,
                lineage_enabled(meta.get("annotations")),
                tuple(LiveEventPolicies.names(obj.get("status") or {})),
            )
        for trigger_key, trigger in list(self._triggers.items()):
            if trigger_key[0] == key[0] and trigger.get("spec", {}).get("broker") == key[1]:
                await self._sync_trigger(trigger_key)

    async def _on_trigger(self, event: WatchEvent) -> None:
        meta = event.object["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        if event.type == "DELETED":
            self._triggers.pop(key, None)
            self.loop_reports.forget(*key)
            stopped = await self._consumers.stop(key)
            if stopped is not None:
                await self._log.delete_cursor(stopped.target.consumer_id)
                await self._consumers.forget(stopped)
            broker = self._brokers.get((key[0], event.object.get("spec", {}).get("broker", "")))
            if broker is not None:  # a trigger that was not running still has its cursor
                await self._log.delete_cursor(trigger_cursor(meta["uid"], broker.stream))
            return
        self._triggers[key] = event.object
        await self._sync_trigger(key)

    def _target(self, key: tuple[str, str]) -> Target | None:
        obj = self._triggers.get(key)
        if obj is None or not _is_ready(obj):
            return None
        status = obj.get("status", {})
        subscriber_uri = status.get("subscriberUri") or ""
        if not subscriber_uri:
            return None
        try:
            trigger = eventing.parse_trigger(obj)
        except KawaError as err:
            log.error("ignoring invalid trigger %s/%s: %s", *key, err)
            return None
        broker = self._brokers.get((trigger.namespace, trigger.spec.broker))
        if broker is None:
            return None
        delivery = trigger.spec.delivery or broker.delivery
        if delivery is None:
            delivery = BROKER_DEFAULT_DELIVERY
        return Target(
            kind="trigger",
            namespace=trigger.namespace,
            name=trigger.name,
            uid=trigger.uid,
            stream=broker.stream,
            parent=trigger.spec.broker,
            cursor=trigger_cursor(trigger.uid, broker.stream),
            subscriber_uri=subscriber_uri,
            dead_letter_uri=status.get("deadLetterSinkUri") or None,
            audience=_text(status.get("subscriberAudience")),
            dead_letter_audience=_text(status.get("deadLetterSinkAudience")),
            ca_certs=_text(status.get("subscriberCACerts")),
            dead_letter_ca_certs=_text(status.get("deadLetterSinkCACerts")),
            identity=_service_account(status.get("auth")),
            limits=limits.limits_of(trigger.annotations, status.get("annotations")),
            policy=policy_from_delivery(delivery),
            format=delivery.format or "binary",
            filter=compile_trigger(trigger),
            filter_spec=filter_spec(obj),
            filter_type=_filter_type(trigger.spec.filter),
            ordered=trigger.ordered,
            lineage=broker.lineage,
            dead_letter_store=self._keep_dead_letters and deadletters.enabled(trigger.annotations),
            ready_since=_ready_since(obj),
        )

    async def _sync_trigger(self, key: tuple[str, str]) -> None:
        target = self._target(key)
        running = self._consumers.get(key)
        if running is not None and target is not None and running.target == target:
            return
        await self._consumers.stop(key)
        if target is None or self._task_group is None:
            return
        publish_reply = self._reply_publisher(target, self._broker_name(key))

        async def loop_ended(event: CloudEvent, replied: bool) -> None:
            trigger = self._triggers.get(key)
            if trigger is not None:
                await self.loop_reports.report(trigger, event, replied=replied)

        consumer = Consumer(
            target,
            self._log,
            self._dispatcher,
            publish_reply,
            prepare=self.prepare_of(*key),
            loop_ended=loop_ended,
            budget=self.budget,
            max_in_flight=self._max_in_flight,
            reporter=self._reporter,
            tracer=self._tracer,
            lineage=(
                self.lineage.stream(target.stream).trigger(
                    target.name, target.uid, target.filter_spec
                )
                if target.lineage
                else None
            ),
            dead_letters=self.dead_letters,
        )
        await self._consumers.start(key, consumer, self._task_group)

    def _reply_publisher(self, target: Target, broker_name: str) -> ReplyPublisher:
        """Where the replies of ``target``'s subscriber go: back into its broker."""

        async def publish_reply(
            reply: CloudEvent,
            original: CloudEvent,
            headers: dict[str, str],
            span: tracing.Span | None,
        ) -> None:
            # A reply may keep the id and source of the event it answers: never a duplicate.
            # It keeps the trace context (the reply span's, with tracing on): its deliveries
            # continue the trace of the event it answers.
            reply = ttl.carry(reply, original)
            if self.reply_check is not None:  # as the broker's ingress would, with OIDC on
                await self.reply_check(
                    target.namespace, target.identity, target.namespace, broker_name, reply
                )
            carried = tracing.trace_context(headers)
            of = f"{target.name}/{original.id}"
            await self._append(
                target.namespace, broker_name, [reply], carried, dedupe=False, reply_of=of
            )

        return publish_reply

    def redrive_route(self, namespace: str, name: str) -> Route | None:
        """Where trigger ``namespace/name`` sends its events now (``None``: it is gone or not
        Ready)."""
        target = self._target((namespace, name))
        if target is None:
            return None
        return Route(
            target, self.prepare_of(namespace, name), self._reply_publisher(target, target.parent)
        )

    def prepare_of(self, namespace: str, name: str) -> Prepare:
        """What trigger ``namespace/name``'s deliveries (live, replayed, redriven) do to an event
        first: strip its TTL, or pass it on to a Broker subscriber (:func:`_to_broker`)."""
        trigger = self._triggers.get((namespace, name))
        return ttl.forward if trigger is not None and _to_broker(trigger) else ttl.strip

    def _broker_name(self, key: tuple[str, str]) -> str:
        return str(self._triggers[key].get("spec", {}).get("broker", "default"))

    async def _drop_stream(self, stream: str) -> None:
        """Stop every consumer of a broker's stream, then delete the stream and its cursors
        (in that order: a stopping consumer saves its cursor last)."""
        await self._consumers.stop_where(lambda _, consumer: consumer.stream == stream)
        await self._log.delete_stream(stream)
        self.lineage.forget(stream)
        await self._log.delete_stream(lineage_stream(stream))
        await self._log.delete_stream(deadletters.stream_of(stream))


def _to_broker(trigger: Obj) -> bool:
    """Whether the trigger's subscriber is a Broker of its namespace (named by ``ref``): it
    gets the events with their TTL (:func:`kawa.broker.ttl.forward`)."""
    destination = (trigger.get("spec") or {}).get("subscriber") or {}
    ref = destination.get("ref") if isinstance(destination, dict) else None
    if not isinstance(ref, dict) or ref.get("kind") != "Broker":
        return False
    group = str(ref.get("apiVersion") or "").rpartition("/")[0]
    namespace = (trigger.get("metadata") or {}).get("namespace")
    return group == eventing.GROUP and ref.get("namespace") in (None, "", namespace)


async def _drop_reply(
    reply: CloudEvent, original: CloudEvent, headers: dict[str, str], span: tracing.Span | None
) -> None:
    """A replayed event's reply goes nowhere."""


def _filter_type(spec: TriggerFilter | None) -> str:
    """The ``type`` a trigger's ``filter.attributes`` asks for ("": any), a metrics label."""
    attributes = spec.attributes if spec is not None else None
    return str((attributes or {}).get("type", ""))


def _text(value: object) -> str | None:
    """A status string, or ``None`` for anything else (absent, empty)."""
    return value if isinstance(value, str) and value else None


def _service_account(auth: object) -> str:
    """``status.auth.serviceAccountName`` ("" when there is none)."""
    name = auth.get("serviceAccountName") if isinstance(auth, dict) else None
    return name if isinstance(name, str) else ""
