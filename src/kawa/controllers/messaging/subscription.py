"""The Subscription reconciler: a Subscription is one entry of its channel's ``spec.subscribers``.

In the order of Knative's subscription reconciler, with its condition reasons:

1. the finalizer ``subscriptions.messaging.knative.dev`` is added, so that a deleted
   Subscription leaves its channel first;
2. the physical channel is found (:func:`.channels.physical_channel`: the InMemoryChannel
   named, or a Channel's backing channel); a kind that is no channel or a missing channel
   marks ``ChannelReady`` False and ``ReferencesResolved`` Unknown (reason
   ``ChannelReferenceFailed``), and nothing is touched;
3. ``spec.subscriber``, ``spec.reply`` and the dead-letter sink of ``spec.delivery`` are
   resolved into ``status.physicalSubscription`` (``ReferencesResolved``; reasons
   ``SubscriberResolveFailed``, ``ReplyResolveFailed``, ``DeadLetterSinkResolveFailed``);
4. the channel's ``spec.subscribers`` gets the entry ``{uid, generation, subscriberUri,
   replyUri, delivery}`` (the delivery with its dead-letter sink resolved to a ``uri``):
   ``AddedToChannel``; in the same write, the channel's annotation ``limits.kawa.dev/<uid>``
   gets kawa's delivery limits (:mod:`kawa.apis.limits`): the Subscription's own
   ``kawa.dev/max-rate`` and ``kawa.dev/max-in-flight``, and what its subscriber takes at once
   when it is a Knative Service (also in the Subscription's ``status.annotations``,
   :mod:`kawa.reconciler.subscriber_limits`);
5. ``ChannelReady`` follows the channel's ``status.subscribers`` entry for this uid at this
   generation (``SubscriptionNotMarkedReadyByChannel`` while it is missing or not ready).

Deleting a Subscription removes its entry from the channel's spec, then the finalizer.
Everything looked up is tracked, so a change of the channel, the subscriber or a sink
reconciles the Subscription at once. Built by
:func:`kawa.controllers.messaging.messaging_controllers`.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

from kawa.apis import duck, limits
from kawa.apis.conditions import Clock
from kawa.apis.messaging import subscription as sub_api
from kawa.apis.meta import metadata_of, set_observed_generation
from kawa.controllers.messaging import channels
from kawa.errors import ConflictError, NotFoundError, TemporaryError, ValidationError
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.features import FeatureFlags
from kawa.reconciler.oidc_accounts import reconcile_identity
from kawa.reconciler.resolver import Address, Unresolvable, resolve_address
from kawa.reconciler.status import Reconciling, StatusReconciler
from kawa.reconciler.subscriber_limits import service_max_in_flight
from kawa.reconciler.tracker import Track
from kawa.store.base import Obj, ResourceKey, ResourceStore


class _NotResolved(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _finalizers(obj: Obj) -> list[str]:
    found = metadata_of(obj).get("finalizers")
    return [f for f in found if isinstance(f, str)] if isinstance(found, list) else []


def _with_finalizers(obj: Obj, finalizers: list[str]) -> Obj:
    metadata = dict(metadata_of(obj))
    if finalizers:
        metadata["finalizers"] = finalizers
    else:
        metadata.pop("finalizers", None)
    return dict(obj, metadata=metadata)


class SubscriptionReconciler(StatusReconciler[sub_api.Subscription]):
    conditions = sub_api.SUBSCRIPTION_CONDITIONS
    invalid_condition = sub_api.REFERENCES_RESOLVED

    def __init__(
        self, store: ResourceStore, clock: Clock, recorder: EventRecorder | None = None
    ) -> None:
        super().__init__(store, clock, recorder)
        self._features = FeatureFlags(store)

    async def reconcile(self, key: ResourceKey) -> None:
        try:
            obj = await self.store.get(key)
        except NotFoundError:
            return
        finalizers = _finalizers(obj)
        if metadata_of(obj).get("deletionTimestamp"):
            if sub_api.FINALIZER in finalizers:
                await self._finalize(key, obj, [f for f in finalizers if f != sub_api.FINALIZER])
            return
        if sub_api.FINALIZER not in finalizers:
            await self._update(key, _with_finalizers(obj, [*finalizers, sub_api.FINALIZER]))
        await super().reconcile(key)

    async def _update(self, key: ResourceKey, obj: Obj) -> Obj | None:
        try:
            return await self.store.update(key, obj)
        except ConflictError as err:
            raise TemporaryError(str(err), delay=0.0) from err
        except NotFoundError:
            return None

    async def _finalize(self, key: ResourceKey, obj: Obj, rest: list[str]) -> None:
        """Take the Subscription's entry out of its channel, then its finalizer away."""
        try:
            subscription = self.parse(obj)
        except ValidationError:
            subscription = None
        if subscription is not None:
            try:
                found = await channels.physical_channel(
                    self.store, subscription.spec.channel, key.namespace
                )
            except channels.NoChannel:
                found = None  # no channel (any more): no entry to remove
            if found is not None:
                changed = channels.without_subscriber(found.obj, str(metadata_of(obj)["uid"]))
                if changed is not None:
                    await self._update(found.key, changed)
        await self._update(key, _with_finalizers(obj, rest))

    def parse(self, obj: Obj) -> sub_api.Subscription:
        return sub_api.parse_subscription(obj)

    async def reconcile_kind(self, current: Reconciling[sub_api.Subscription]) -> None:
        subscription, status, clock = current.spec, current.status, self.clock
        set_observed_generation(status, subscription.generation)
        try:
            channel = await channels.physical_channel(
                self.store, subscription.spec.channel, current.key.namespace, track=current.track
            )
        except channels.NoChannel as err:
            message = f"Failed to get Spec.Channel or backing channel: {err.message}"
            sub_api.mark_references_unknown(
                status, sub_api.CHANNEL_REFERENCE_FAILED, message, clock=clock
            )
            if err.pending:
                sub_api.mark_channel_unknown(
                    status, sub_api.CHANNEL_REFERENCE_FAILED, message, clock=clock
                )
            else:
                sub_api.mark_channel_failed(
                    status, sub_api.CHANNEL_REFERENCE_FAILED, message, clock=clock
                )
            return
        try:
            entry = await self._resolve(current)
        except _NotResolved as err:
            sub_api.mark_references_not_resolved(status, err.reason, err.message, clock=clock)
            return
        bound = await service_max_in_flight(self.store, subscription.spec.subscriber, current.track)
        limits.with_subscriber_limit(status, bound)
        own = limits.limits_of(subscription.annotations)
        encoded = limits.encode(replace(own, subscriber_max_in_flight=bound))
        changed = channels.with_subscriber(channel.obj, entry, encoded)
        if changed is not None:
            updated = await self._update(channel.key, changed)
            if updated is None:
                sub_api.mark_not_added_to_channel(
                    status,
                    sub_api.PHYSICAL_CHANNEL_SYNC_FAILED,
                    f'Failed to sync physical Channel: {channel.key.resource} "{channel.name}" '
                    "was deleted",
                    clock=clock,
                )
                return
            channel = channels.PhysicalChannel(channel.key, updated)
        sub_api.mark_added_to_channel(status, clock=clock)
        self._channel_ready(current, channel)

    async def _resolve(self, current: Reconciling[sub_api.Subscription]) -> dict[str, Any]:
        """The channel's entry for the Subscription (and ``physicalSubscription``)."""
        spec, track = current.spec.spec, current.track
        subscriber = await self._address(
            spec.subscriber, track, sub_api.SUBSCRIBER_RESOLVE_FAILED, "spec.subscriber"
        )
        reply = await self._address(spec.reply, track, sub_api.REPLY_RESOLVE_FAILED, "spec.reply")
        dead_letter_sink = await self._address(
            spec.delivery.dead_letter_sink if spec.delivery is not None else None,
            track,
            sub_api.DEAD_LETTER_SINK_RESOLVE_FAILED,
            "spec.delivery.deadLetterSink",
        )
        sub_api.mark_references_resolved(
            current.status,
            subscriber_uri=subscriber.url if subscriber else None,
            reply_uri=reply.url if reply else None,
            dead_letter_sink_uri=dead_letter_sink.url if dead_letter_sink else None,
            clock=self.clock,
            audiences={
                "subscriberAudience": subscriber.audience if subscriber else None,
                "replyAudience": reply.audience if reply else None,
                "deadLetterSinkAudience": (dead_letter_sink.audience if dead_letter_sink else None),
            },
            ca_certs={
                "subscriberCACerts": subscriber.ca_certs if subscriber else None,
                "replyCACerts": reply.ca_certs if reply else None,
                "deadLetterSinkCACerts": dead_letter_sink.ca_certs if dead_letter_sink else None,
            },
        )
        entry: dict[str, Any] = {
            "uid": str(metadata_of(current.obj)["uid"]),
            "generation": current.spec.generation,
        }
        if subscriber:
            entry["subscriberUri"] = subscriber.url
            if subscriber.audience:
                entry["subscriberAudience"] = subscriber.audience
            if subscriber.ca_certs:
                entry["subscriberCACerts"] = subscriber.ca_certs
        if reply:
            entry["replyUri"] = reply.url
            if reply.audience:
                entry["replyAudience"] = reply.audience
            if reply.ca_certs:
                entry["replyCACerts"] = reply.ca_certs
        delivery = (current.obj.get("spec") or {}).get("delivery")
        if isinstance(delivery, dict) and delivery:
            delivery = copy.deepcopy(delivery)
            if dead_letter_sink:
                delivery["deadLetterSink"] = {
                    "uri": dead_letter_sink.url,
                    **(
                        {"audience": dead_letter_sink.audience} if dead_letter_sink.audience else {}
                    ),
                    **({"CACerts": dead_letter_sink.ca_certs} if dead_letter_sink.ca_certs else {}),
                }
            entry["delivery"] = delivery
        account = await self._identity(current)
        if account:
            entry["auth"] = {"serviceAccountName": account}
        return entry

    async def _identity(self, current: Reconciling[sub_api.Subscription]) -> str | None:
        """``OIDCIdentityCreated`` and ``status.auth``: the ServiceAccount its deliveries
        present (authentication-oidc), or ``None``."""
        return await reconcile_identity(
            self.store,
            self._features,
            self.conditions,
            current,
            api_version=sub_api.API_VERSION,
            kind=sub_api.KIND,
            clock=self.clock,
        )

    async def _address(
        self, destination: duck.Destination | None, track: Track, reason: str, field: str
    ) -> Address | None:
        if destination is None:
            return None
        try:
            return await resolve_address(self.store, destination, track=track)
        except Unresolvable as err:
            raise _NotResolved(
                reason, f"Failed to resolve {field}: {err.reason}: {err.message}"
            ) from None

    def _channel_ready(
        self, current: Reconciling[sub_api.Subscription], channel: channels.PhysicalChannel
    ) -> None:
        status, clock = current.status, self.clock
        uid = str(metadata_of(current.obj)["uid"])
        found = channels.subscriber_status(channel.obj, uid, current.spec.generation)
        if found is None:
            sub_api.mark_channel_unknown(
                status,
                sub_api.NOT_MARKED_READY_BY_CHANNEL,
                f'Failed to get subscription status: subscription "{current.key.name}" not '
                f'present in channel "{channel.name}" subscriber\'s list',
                clock=clock,
            )
        elif found.get("ready") == "True":
            sub_api.mark_channel_ready(status, True, clock=clock)
        elif found.get("ready") == "False":
            sub_api.mark_channel_ready(
                status,
                False,
                f"Subscription marked by Channel as False: {found.get('message') or ''}".rstrip(
                    ": "
                ),
                clock=clock,
            )
        else:
            sub_api.mark_channel_unknown(
                status,
                sub_api.NOT_MARKED_READY_BY_CHANNEL,
                "Subscription marked by Channel as Unknown",
                clock=clock,
            )
