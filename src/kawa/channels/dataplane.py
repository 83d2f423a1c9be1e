"""The channel data plane: which channels exist, one durable consumer per subscriber.

kawa's InMemoryChannel is not in memory: like a broker, each channel is a stream of the event
log (``channel:<uid>``), so an event it acknowledged (202) survives a crash and reaches every
subscriber at least once. The data plane watches InMemoryChannels only (as Knative's channel
dispatcher does) and keeps:

- a map from ``namespace/name`` to the channel's stream, used by the ingress
  (:mod:`kawa.channels.ingress`) to answer 404 for unknown channels and to append events;
- one :class:`~kawa.dispatch.consumer.Consumer` per entry of the channel's
  ``spec.subscribers`` (the Subscription reconciler writes them with resolved URIs). Events
  go to ``subscriberUri`` (unchanged, and in the mode they came in) and its replies to
  ``replyUri`` (dropped without one); a subscriber with only a ``replyUri`` gets the events
  there directly. The subscriber's ``delivery`` (its dead-letter sink already resolved to a
  URI) or else the channel's ``spec.delivery`` (with ``status.deadLetterSinkUri``) sets the
  retries and the dead-letter sink; without either, one attempt (Knative's channel
  default). A subscriber's consumer runs only while the InMemoryChannel reconciler has it
  marked ready (``status.annotations["subscribers.kawa.dev/<uid>"]``, written in the same
  status write as its ``status.subscribers`` entry; not while the channel's dead-letter sink
  is unresolved). A subscriber seen before it is ready gets its cursor at once, so the events
  sent meanwhile wait for it; one first seen ready starts after the last event appended before
  it was marked ready, so an event sent the moment its Subscription is Ready is delivered
  however late the data plane sees it; one that stops keeps its cursor. A subscriber that
  leaves has its cursor deleted; a deleted channel its stream. A subscriber's delivery limits
  (rate, deliveries at once) come with it on the channel, in the annotation
  ``limits.kawa.dev/<uid>`` the Subscription reconciler writes (:mod:`kawa.apis.limits`).

A reply to one of kawa's own channels (its ``/channels/...`` URL or a
``<name>-kn-channel.<namespace>.svc.cluster.local`` name) is appended to that channel's
stream directly, with the event's forwarded headers: the same durable step as the HTTP hop it
saves. Other replies are POSTed with the subscriber's retry policy; a reply that cannot be
delivered sends the original event to the dead-letter sink. Consumers share the delivery
budget and the log trimmer with the brokers (:mod:`kawa.runtime`). A subscriber without a
dead-letter sink keeps what it gives up in the channel's dead-letter store
(:mod:`kawa.dispatch.deadletter_store`) unless the store is off (``dead_letter_store=False``,
or the InMemoryChannel's ``kawa.dev/dead-letter-store: "false"``). An InMemoryChannel annotated
``kawa.dev/retention`` (its own, or its Channel's) keeps its events and lineage that long
(:mod:`kawa.apis.retention`): the plane tells the trimmer, as the broker plane does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final
from urllib.parse import urlsplit

from kawa.apis import limits
from kawa.apis.duck import DeliverySpec
from kawa.apis.messaging import INMEMORYCHANNEL
from kawa.apis.messaging.channelable import SubscriberSpec
from kawa.apis.messaging.inmemorychannel import SUBSCRIBER_READY_SINCE as READY_SINCE_PREFIX
from kawa.apis.messaging.inmemorychannel import parse_inmemorychannel
from kawa.apis.retention import retention_of
from kawa.channels.ingress import channel_host_form
from kawa.cloudevents.event import CloudEvent
from kawa.delivery import tracing
from kawa.delivery.policy import policy_from_delivery
from kawa.delivery.sender import Dispatcher, Identity
from kawa.dispatch import deadletters, envelope, stats
from kawa.dispatch.budget import DeliveryBudget
from kawa.dispatch.consumer import Consumer, Target
from kawa.dispatch.deadletter_store import DeadLetterStore
from kawa.dispatch.eventtypes import EventTypeRecorder, Receiver
from kawa.dispatch.hooks import ReplyFailed, ReplyPublisher
from kawa.dispatch.lineage import Lineage, lineage_stream
from kawa.dispatch.lineage import enabled as lineage_enabled
from kawa.dispatch.redrive import Route
from kawa.dispatch.running import Consumers, Trimmer
from kawa.dispatch.senders import ReplyCheck
from kawa.errors import KawaError, NotFoundError
from kawa.eventlog.base import EventLog
from kawa.reconciler.eventpolicies import LiveEventPolicies
from kawa.reconciler.informer import inform
from kawa.store.base import Obj, ResourceStore, WatchEvent

log = logging.getLogger(__name__)

CHANNELS: Final = INMEMORYCHANNEL.resource
CHANNEL_DEFAULT_DELIVERY: Final = DeliverySpec()
"""No delivery anywhere: one attempt, no dead-letter sink."""

SubscriberKey = tuple[str, str, str]
"""``(namespace, channel, subscription uid)``."""


def channel_stream(channel_uid: str) -> str:
    """The event-log stream of the InMemoryChannel whose uid is ``channel_uid``."""
    return f"channel:{channel_uid}"


def subscription_cursor(subscription_uid: str, stream: str) -> str:
    """The event-log cursor of a subscriber reading a channel's stream."""
    return f"subscription:{subscription_uid}@{stream}"


@dataclass(frozen=True, slots=True)
class ChannelEntry:
    uid: str
    stream: str
    delivery: DeliverySpec | None
    dead_letter_uri: str | None
    subscribers: tuple[SubscriberSpec, ...]
    ready_since: Mapping[str, float]
    lineage: bool = True
    dead_letter_audience: str | None = None
    dead_letter_ca_certs: str | None = None
    policies: tuple[str, ...] = ()
    """The EventPolicies that apply to it (its ``status.policies``; authentication-oidc)."""
    dead_letter_store: bool = True
    limits: Mapping[str, limits.Limits] = field(default_factory=dict)
    """Each subscriber's delivery limits (its annotation ``limits.kawa.dev/<uid>``)."""


def _limits(annotations: object) -> dict[str, limits.Limits]:
    """The subscribers' delivery limits in a channel's ``metadata.annotations``."""
    if not isinstance(annotations, Mapping):
        return {}
    prefix = limits.CHANNEL_PREFIX
    return {
        key[len(prefix) :]: limits.decode(value)
        for key, value in annotations.items()
        if isinstance(key, str) and key.startswith(prefix)
    }


def _ready_since(status: Mapping[str, object]) -> dict[str, float]:
    annotations = status.get("annotations")
    out: dict[str, float] = {}
    if not isinstance(annotations, Mapping):
        return out
    for key, value in annotations.items():
        if isinstance(key, str) and key.startswith(READY_SINCE_PREFIX) and isinstance(value, str):
            with contextlib.suppress(ValueError):
                out[key[len(READY_SINCE_PREFIX) :]] = datetime.fromisoformat(value).timestamp()
    return out


class ChannelDataPlane:
    """Owns the channels' consumers; a :class:`kawa.dispatch.ingress.Publisher`."""

    def __init__(
        self,
        store: ResourceStore,
        event_log: EventLog,
        dispatcher: Dispatcher,
        *,
        budget: DeliveryBudget,
        trimmer: Trimmer,
        max_in_flight: int = 100,
        reporter: stats.Reporter = stats.NO_REPORTER,
        tracer: tracing.Tracer = tracing.NO_TRACER,
        identity: str = "kawa",
        dead_letter_store: bool = True,
    ) -> None:
        self._store = store
        self._keep_dead_letters = dead_letter_store
        self.dead_letters = DeadLetterStore(event_log, trimmer.append)
        """The channels' dead-letter stores."""
        self.lineage = Lineage(event_log, identity)
        """The lineage of the channels' events (noted by this process, :meth:`run` appends it)."""
        self._reporter = reporter
        self._tracer = tracer
        self._log = event_log
        self._dispatcher = dispatcher
        self._budget = budget
        self._trimmer = trimmer
        self._max_in_flight = max_in_flight
        self.reply_check: ReplyCheck | None = None
        """The authorization of replies put straight into a channel (authentication-oidc)."""
        self.event_types: EventTypeRecorder | None = None
        """Where the events it stores are noted for the event registry (eventtype-auto-create)."""
        self._channels: dict[tuple[str, str], ChannelEntry] = {}
        self._consumers: Consumers[SubscriberKey] = Consumers()
        self._task_group: asyncio.TaskGroup | None = None
        self._local: tuple[str, str] | None = None
        self.ready = asyncio.Event()

    def policies_of(self, namespace: str, name: str) -> tuple[str, ...]:
        """The EventPolicies that apply to channel ``namespace/name`` (none when unknown)."""
        entry = self._channels.get((namespace, name))
        return entry.policies if entry is not None else ()

    def serve_at(self, base_url: str) -> None:
        """``base_url`` (``http://host:port``) is this process's ingress: replies to its
        ``/channels/...`` URLs are appended directly."""
        parts = urlsplit(base_url)
        self._local = (parts.scheme, parts.netloc)

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
    ) -> None:
        entry = self._channels.get((namespace, name))
        if entry is None:
            raise NotFoundError(f"channel {namespace}/{name} does not exist")
        stored = dict(headers) if headers else None
        payloads = [envelope.wrap(event, stored) for event in events]
        keep = dedupe and self._trimmer.keeps_ids
        ids = [envelope.sender_id(event) for event in events] if keep else None
        at = time.time()  # the request's time: the log's commit wakes consumers first
        seqs = await self._trimmer.append(entry.stream, payloads, ids)
        if entry.lineage:
            self.lineage.stream(entry.stream).accepted(seqs, at)
        if self.event_types is not None and self.event_types.wanted():
            receiver = Receiver(
                INMEMORYCHANNEL.storage_api_version,
                INMEMORYCHANNEL.kind,
                namespace,
                name,
                entry.uid,
            )
            self.event_types.seen(receiver, events)

    def retry_after(self, namespace: str, name: str) -> int | None:
        return None

    def started_consumers(self) -> list[Consumer]:
        """The running subscribers' consumers (metrics read their positions)."""
        return self._consumers.started()

    def consumer(self, namespace: str, channel: str, uid: str) -> Consumer | None:
        return self._consumers.get((namespace, channel, uid))

    def subscriber_consumer(self, namespace: str, uid: str) -> Consumer | None:
        """The running consumer of the subscriber ``uid`` (its Subscription's uid) in
        ``namespace``, whatever its channel."""
        for (ns, _, subscriber), consumer in self._consumers.items():
            if ns == namespace and subscriber == uid:
                return consumer
        return None

    def local_channel(self, uri: str) -> tuple[str, str] | None:
        """``(namespace, name)`` when ``uri`` is one of kawa's channel addresses."""
        parts = urlsplit(uri)
        if self._local is not None and (parts.scheme, parts.netloc) == self._local:
            segments = parts.path.strip("/").split("/")
            if len(segments) == 3 and segments[0] == "channels" and all(segments):
                return segments[1], segments[2]
            return None
        found = channel_host_form((parts.hostname or "").rstrip("."), parts.path)
        return found if isinstance(found, tuple) else None

    # -- running -------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                self._task_group = tg
                listed = asyncio.Event()

                async def mark_listed(_: list[Obj]) -> None:
                    listed.set()

                tg.create_task(
                    inform(self._store, CHANNELS, self._on_channel, on_listed=mark_listed)
                )
                await listed.wait()
                self.ready.set()
                tg.create_task(self.lineage.run(), name="channel-lineage")
        finally:
            self._task_group = None

    async def _on_channel(self, event: WatchEvent) -> None:
        obj = event.object
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        old = self._channels.get(key)
        if event.type == "DELETED":
            self._channels.pop(key, None)
            if old is not None:
                await self._drop(key, old)
            return
        entry = self._entry(obj)
        if entry is None:
            return
        if old is not None and old.uid != entry.uid:
            await self._drop(key, old)
            old = None
        self._channels[key] = entry
        self._trimmer.retain(entry.stream, retention_of(meta.get("annotations")))
        await self._sync(key, old, entry)

    @staticmethod
    def _entry(obj: Obj) -> ChannelEntry | None:
        meta = obj["metadata"]
        try:
            channel = parse_inmemorychannel(obj)
        except KawaError as err:
            log.error(
                "ignoring invalid channel %s/%s: %s", meta.get("namespace"), meta["name"], err
            )
            return None
        status = obj.get("status") or {}
        return ChannelEntry(
            uid=meta["uid"],
            stream=channel_stream(meta["uid"]),
            delivery=channel.spec.delivery,
            dead_letter_uri=status.get("deadLetterSinkUri") or None,
            dead_letter_audience=status.get("deadLetterSinkAudience") or None,
            dead_letter_ca_certs=status.get("deadLetterSinkCACerts") or None,
            policies=tuple(LiveEventPolicies.names(status)),
            subscribers=tuple(channel.spec.subscribers),
            ready_since=_ready_since(status),
            lineage=lineage_enabled(meta.get("annotations")),
            dead_letter_store=deadletters.enabled(meta.get("annotations")),
            limits=_limits(meta.get("annotations")),
        )

    async def _sync(
        self, key: tuple[str, str], old: ChannelEntry | None, entry: ChannelEntry
    ) -> None:
        wanted = {s.uid: s for s in entry.subscribers if s.uid}
        for (namespace, channel, uid), consumer in self._consumers.items():
            if (namespace, channel) == key and uid not in wanted:
                await self._consumers.stop((namespace, channel, uid))
                await self._log.delete_cursor(consumer.target.consumer_id)
        if old is not None:  # a subscriber that left while its consumer was not running
            for gone in {s.uid for s in old.subscribers} - set(wanted):
                await self._log.delete_cursor(subscription_cursor(gone, entry.stream))
        for uid, subscriber in wanted.items():
            if uid in entry.ready_since:
                await self._sync_subscriber((*key, uid), entry, subscriber)
            else:  # not (or no longer) ready: its events wait in the log, its cursor stays
                await self._consumers.stop((*key, uid))
                await self._hold(entry, uid)

    async def _sync_subscriber(
        self, key: SubscriberKey, entry: ChannelEntry, subscriber: SubscriberSpec
    ) -> None:
        target = self._target(key, entry, subscriber, self._keep_dead_letters)
        running = self._consumers.get(key)
        if running is not None and running.target == target:
            return
        if self._task_group is None:
            return
        publish_reply = self._reply_publisher(target)
        consumer = Consumer(
            target,
            self._log,
            self._dispatcher,
            publish_reply,
            budget=self._budget,
            max_in_flight=self._max_in_flight,
            reporter=self._reporter,
            tracer=self._tracer,
            lineage=(
                self.lineage.stream(entry.stream).subscription(target.uid)
                if target.lineage
                else None
            ),
            dead_letters=self.dead_letters,
        )
        await self._consumers.start(key, consumer, self._task_group)

    def _reply_publisher(self, target: Target) -> ReplyPublisher:
        """Where the replies of ``target``'s subscriber go: its reply address (dropped
        without one, as Knative's)."""
        reply_uri = target.reply_uri

        async def publish_reply(
            reply: CloudEvent,
            original: CloudEvent,
            headers: dict[str, str],
            span: tracing.Span | None,
        ) -> None:
            if reply_uri is None:
                return
            await self._send_reply(target, reply_uri, reply, headers, span)

        return publish_reply

    def redrive_route(self, namespace: str, channel: str, uid: str) -> Route | None:
        """Where the subscriber ``uid`` of channel ``namespace/channel`` sends its events now
        (``None``: it is gone or not ready)."""
        entry = self._channels.get((namespace, channel))
        if entry is None or uid not in entry.ready_since:
            return None
        for subscriber in entry.subscribers:
            if subscriber.uid == uid:
                target = self._target(
                    (namespace, channel, uid), entry, subscriber, self._keep_dead_letters
                )
                return Route(target, _unchanged, self._reply_publisher(target))
        return None

    async def _hold(self, entry: ChannelEntry, uid: str) -> None:
        """A subscriber seen before it is ready gets its cursor now, at the stream's end: the
        events sent until it is ready wait for it in the log."""
        cursor = subscription_cursor(uid, entry.stream)
        if await self._log.load_cursor(cursor) is None:
            await self._log.save_cursor(
                cursor, entry.stream, await self._log.last_seq(entry.stream)
            )

    @staticmethod
    def _target(
        key: SubscriberKey, entry: ChannelEntry, subscriber: SubscriberSpec, keep: bool = True
    ) -> Target:
        """``keep``: whether kawa keeps dead letters at all (``kawa up --dead-letter-store``)."""
        namespace, channel, uid = key
        if subscriber.delivery is not None:
            delivery = subscriber.delivery
            sink = delivery.dead_letter_sink
            dead_letter_uri = sink.uri if sink is not None else None
            dead_letter_audience = sink.audience if sink is not None else None
            dead_letter_ca_certs = sink.ca_certs if sink is not None else None
        else:
            delivery = entry.delivery or CHANNEL_DEFAULT_DELIVERY
            own = entry.delivery is not None
            dead_letter_uri = entry.dead_letter_uri if own else None
            dead_letter_audience = entry.dead_letter_audience if own else None
            dead_letter_ca_certs = entry.dead_letter_ca_certs if own else None
        # Without a subscriber the events go to the reply destination (there is no reply).
        destination = subscriber.subscriber_uri or subscriber.reply_uri or ""
        if subscriber.subscriber_uri:
            audience, ca_certs = subscriber.subscriber_audience, subscriber.subscriber_ca_certs
        else:
            audience, ca_certs = subscriber.reply_audience, subscriber.reply_ca_certs
        auth = subscriber.auth
        return Target(
            kind="subscription",
            namespace=namespace,
            name=f"{channel}/{uid}",
            uid=uid,
            stream=entry.stream,
            parent=channel,
            cursor=subscription_cursor(uid, entry.stream),
            subscriber_uri=destination,
            dead_letter_uri=dead_letter_uri or None,
            policy=policy_from_delivery(delivery),
            format=delivery.format,
            reply_uri=subscriber.reply_uri if subscriber.subscriber_uri else None,
            reply_audience=subscriber.reply_audience if subscriber.subscriber_uri else None,
            reply_ca_certs=subscriber.reply_ca_certs if subscriber.subscriber_uri else None,
            audience=audience,
            ca_certs=ca_certs,
            dead_letter_audience=dead_letter_audience,
            dead_letter_ca_certs=dead_letter_ca_certs,
            identity=(auth.service_account_name or "") if auth is not None else "",
            ready_since=entry.ready_since.get(uid),
            lineage=entry.lineage,
            dead_letter_store=keep and entry.dead_letter_store,
            limits=entry.limits.get(uid, limits.NO_LIMITS),
        )

    async def _send_reply(
        self,
        target: Target,
        uri: str,
        reply: CloudEvent,
        headers: dict[str, str],
        span: tracing.Span | None,
    ) -> None:
        """Append the reply to one of kawa's channels, or POST it (with tracing on, its
        attempts are children of the reply ``span``; either way it carries the reply span's
        trace context, so the next step of a Sequence or a Parallel's branch continues the
        trace)."""
        local = self.local_channel(uri)
        if local is not None:
            if self.reply_check is not None:  # as the channel's ingress would, with OIDC on
                await self.reply_check(target.namespace, target.identity, *local, reply)
            # A reply may keep the id and source of the event it answers: never a duplicate.
            await self._append(*local, [reply], headers, dedupe=False)
            return
        result = await self._dispatcher.send(
            reply,
            uri,
            policy=target.policy,
            headers=headers,
            namespace=target.namespace,
            span=span,
            identity=Identity(target.namespace, target.identity) if target.identity else None,
            audience=target.reply_audience,
            ca_certs=target.reply_ca_certs,
        )
        if not result.ok:
            raise ReplyFailed(uri, result)

    async def _drop(self, key: tuple[str, str], entry: ChannelEntry) -> None:
        """Stop every consumer of a channel, then delete its stream and cursors."""
        self._trimmer.retain(entry.stream, None)
        await self._consumers.stop_where(lambda k, _: (k[0], k[1]) == key)
        await self._log.delete_stream(entry.stream)
        self.lineage.forget(entry.stream)
        await self._log.delete_stream(lineage_stream(entry.stream))
        await self._log.delete_stream(deadletters.stream_of(entry.stream))


def _unchanged(event: CloudEvent) -> CloudEvent:
    return event
