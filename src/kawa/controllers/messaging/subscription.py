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
   ``AddedToChannel``;
5. ``ChannelReady`` follows the channel's ``status.subscribers`` entry for this uid at this
   generation (``SubscriptionNotMarkedReadyByChannel`` while it is missing or not ready).

Deleting a Subscription removes its entry from the channel's spec, then the finalizer.
Everything looked up is tracked, so a change of the channel, the subscriber or a sink
reconciles the Subscription at once. Built by
:func:`kawa.controllers.messaging.messaging_controllers`.
"""

from __future__ import annotations

import copy
from typing import Any

from kawa.apis import duck
from kawa.apis.messaging import subscription as sub_api
from kawa.apis.meta import metadata_of, set_observed_generation
from kawa.controllers.messaging import channels
from kawa.errors import ConflictError, NotFoundError, TemporaryError, ValidationError
from kawa.reconciler.resolver import Unresolvable, resolve
from kawa.reconciler.status import Reconciling, StatusReconciler
from kawa.reconciler.tracker import Track
from kawa.store.base import Obj, ResourceKey


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
        changed = channels.with_subscriber(channel.obj, entry)
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
        subscriber = await self._uri(
            spec.subscriber, track, sub_api.SUBSCRIBER_RESOLVE_FAILED, "spec.subscriber"
        )
        reply = await self._uri(spec.reply, track, sub_api.REPLY_RESOLVE_FAILED, "spec.reply")
        dead_letter_sink = await self._uri(
            spec.delivery.dead_letter_sink if spec.delivery is not None else None,
            track,
            sub_api.DEAD_LETTER_SINK_RESOLVE_FAILED,
            "spec.delivery.deadLetterSink",
        )
        sub_api.mark_references_resolved(
            current.status,
            subscriber_uri=subscriber,
            reply_uri=reply,
            dead_letter_sink_uri=dead_letter_sink,
            clock=self.clock,
        )
        entry: dict[str, Any] = {
            "uid": str(metadata_of(current.obj)["uid"]),
            "generation": current.spec.generation,
        }
        if subscriber:
            entry["subscriberUri"] = subscriber
        if reply:
            entry["replyUri"] = reply
        delivery = (current.obj.get("spec") or {}).get("delivery")
        if isinstance(delivery, dict) and delivery:
            delivery = copy.deepcopy(delivery)
            if dead_letter_sink:
                delivery["deadLetterSink"] = {"uri": dead_letter_sink}
            entry["delivery"] = delivery
        return entry

    async def _uri(
        self, destination: duck.Destination | None, track: Track, reason: str, field: str
    ) -> str | None:
        if destination is None:
            return None
        try:
            return await resolve(self.store, destination, track=track)
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
