"""The Subscription kind (messaging.knative.dev/v1): connects a channel to a subscriber.

``spec.channel`` (a KReference to a Channel or a channel implementation, in the
Subscription's namespace) is required and immutable; ``spec.subscriber`` and ``spec.reply``
are Destinations, at least one of them set (a reply with no ``reply`` destination is
discarded); ``spec.delivery`` configures retries and the dead-letter sink. Status:
``physicalSubscription`` (the resolved URIs) and Knative's conditions ``ReferencesResolved``,
``AddedToChannel``, ``ChannelReady`` behind ``Ready``, with the reasons of Knative's
subscription reconciler (:data:`CHANNEL_REFERENCE_FAILED`...). kawa's delivery limits
(``kawa.dev/max-rate``, ``kawa.dev/max-in-flight`` annotations, :mod:`kawa.apis.limits`) are
checked at admission. Declared as :data:`kawa.apis.messaging.SUBSCRIPTION`; read by the
subscription reconciler (:mod:`kawa.controllers.messaging.subscription`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final

from kawa.apis import duck, limits, reply_types
from kawa.apis.conditions import Clock, ConditionSet
from kawa.apis.messaging import channel
from kawa.apis.model.base import Context, Immutable, Model, doc
from kawa.apis.model.objects import KubeObject, parse_object
from kawa.errors import FieldError

API_VERSION: Final = channel.API_VERSION
KIND: Final = "Subscription"

REFERENCES_RESOLVED: Final = "ReferencesResolved"
ADDED_TO_CHANNEL: Final = "AddedToChannel"
CHANNEL_READY: Final = "ChannelReady"
OIDC_IDENTITY_CREATED: Final = duck.OIDC_IDENTITY_CREATED
SUBSCRIPTION_CONDITIONS: Final = ConditionSet(
    (REFERENCES_RESOLVED, ADDED_TO_CHANNEL, CHANNEL_READY, OIDC_IDENTITY_CREATED)
)

FINALIZER: Final = "subscriptions.messaging.knative.dev"
"""The finalizer that keeps a deleted Subscription until it has left its channel's spec."""

# the reasons of Knative's subscription reconciler
CHANNEL_REFERENCE_FAILED: Final = "ChannelReferenceFailed"
SUBSCRIBER_RESOLVE_FAILED: Final = "SubscriberResolveFailed"
REPLY_RESOLVE_FAILED: Final = "ReplyResolveFailed"
DEAD_LETTER_SINK_RESOLVE_FAILED: Final = "DeadLetterSinkResolveFailed"
PHYSICAL_CHANNEL_SYNC_FAILED: Final = "PhysicalChannelSyncFailed"
NOT_MARKED_READY_BY_CHANNEL: Final = "SubscriptionNotMarkedReadyByChannel"

_DELIVERY_DOC: Final = "How events are delivered: retries and dead letters."


class SubscriptionSpec(Model):
    """The desired state of the Subscription."""

    channel: Annotated[
        duck.KReference,
        doc("The channel subscribed to (immutable): a Channel or a channel implementation."),
        Immutable("delete and recreate the Subscription to move it to another channel"),
    ]
    subscriber: Annotated[duck.Destination | None, doc("Where the channel's events are sent.")] = (
        None
    )
    reply: Annotated[
        duck.Destination | None,
        doc("Where the subscriber's replies are sent; without it replies are discarded."),
    ] = None
    delivery: Annotated[duck.DeliverySpec | None, doc(_DELIVERY_DOC)] = None

    def check(self, ctx: Context) -> Iterable[FieldError]:
        if self.channel.namespace != ctx.namespace:
            yield FieldError(
                "channel.namespace",
                f"must be empty or the Subscription's namespace {ctx.namespace!r}",
            )
        if self.subscriber is None and self.reply is None:
            yield FieldError("", "expected at least one of subscriber or reply, got neither")


class Subscription(KubeObject):
    """A Subscription delivers the events of a channel to a subscriber, and the subscriber's
    replies to reply."""

    spec: Annotated[
        SubscriptionSpec,
        doc("Delivers the events of a channel to a subscriber, and its replies to reply."),
    ]

    def check(self, ctx: Context) -> Iterable[FieldError]:
        """kawa's delivery limits (``kawa.dev/max-rate``, ``kawa.dev/max-in-flight``) and
        declared reply types (``kawa.dev/reply-types``, loop detection)."""
        return [
            *limits.limit_errors(self.annotations),
            *reply_types.reply_type_errors(self.annotations),
        ]


class PhysicalSubscription(Model):
    """The resolved URIs the channel uses."""

    subscriber_uri: Annotated[str | None, doc("The resolved subscriber.")] = None
    subscriber_audience: Annotated[str | None, doc("The subscriber's OIDC audience.")] = None
    subscriber_ca_certs: Annotated[
        str | None,
        doc("PEM certificates the subscriber verifies against.", alias="subscriberCACerts"),
    ] = None
    reply_uri: Annotated[str | None, doc("The resolved reply destination.")] = None
    reply_audience: Annotated[str | None, doc("The reply destination's OIDC audience.")] = None
    reply_ca_certs: Annotated[
        str | None,
        doc("PEM certificates the reply destination verifies against.", alias="replyCACerts"),
    ] = None
    dead_letter_sink_uri: Annotated[str | None, doc("The resolved dead-letter sink.")] = None
    dead_letter_sink_audience: Annotated[
        str | None, doc("The dead-letter sink's OIDC audience.")
    ] = None
    dead_letter_sink_ca_certs: Annotated[
        str | None,
        doc(
            "PEM certificates the dead-letter sink verifies against.",
            alias="deadLetterSinkCACerts",
        ),
    ] = None
    delivery: Annotated[duck.DeliverySpec | None, doc(_DELIVERY_DOC)] = None


class SubscriptionStatus(duck.Status):
    """The state of the Subscription."""

    physical_subscription: Annotated[
        PhysicalSubscription | None, doc("The resolved URIs the channel uses.")
    ] = None
    auth: Annotated[
        duck.AuthStatus | None, doc("The identity the deliveries present (authentication-oidc).")
    ] = None


def parse_subscription(obj: Mapping[str, Any]) -> Subscription:
    """A Subscription dict defaulted, validated and typed; raises
    :class:`~kawa.errors.ValidationError` listing every problem."""
    return parse_object(Subscription, obj, kind=KIND, api_versions=(API_VERSION,), namespaced=True)


# -- status ----------------------------------------------------------------------------------


def mark_references_resolved(
    status: dict[str, Any],
    *,
    subscriber_uri: str | None,
    reply_uri: str | None,
    dead_letter_sink_uri: str | None,
    clock: Clock,
    audiences: Mapping[str, str | None] | None = None,
    ca_certs: Mapping[str, str | None] | None = None,
) -> None:
    """Record the resolved URIs (and ``audiences``: ``subscriberAudience``, ``replyAudience``,
    ``deadLetterSinkAudience``; ``ca_certs``: ``subscriberCACerts``, ``replyCACerts``,
    ``deadLetterSinkCACerts``, when they have one) in ``status.physicalSubscription``;
    ``Resolved`` True."""
    physical = {
        key: value
        for key, value in (
            ("subscriberUri", subscriber_uri),
            ("replyUri", reply_uri),
            ("deadLetterSinkUri", dead_letter_sink_uri),
            *(audiences or {}).items(),
            *(ca_certs or {}).items(),
        )
        if value
    }
    status["physicalSubscription"] = physical
    SUBSCRIPTION_CONDITIONS.mark_true(status, REFERENCES_RESOLVED, clock=clock)


def mark_references_not_resolved(
    status: dict[str, Any], reason: str, message: str, *, clock: Clock
) -> None:
    SUBSCRIPTION_CONDITIONS.mark_false(status, REFERENCES_RESOLVED, reason, message, clock=clock)


def mark_added_to_channel(status: dict[str, Any], *, clock: Clock) -> None:
    SUBSCRIPTION_CONDITIONS.mark_true(status, ADDED_TO_CHANNEL, clock=clock)


def mark_not_added_to_channel(
    status: dict[str, Any], reason: str, message: str, *, clock: Clock
) -> None:
    SUBSCRIPTION_CONDITIONS.mark_false(status, ADDED_TO_CHANNEL, reason, message, clock=clock)


def mark_references_unknown(
    status: dict[str, Any], reason: str, message: str, *, clock: Clock
) -> None:
    SUBSCRIPTION_CONDITIONS.mark_unknown(status, REFERENCES_RESOLVED, reason, message, clock=clock)


def mark_channel_ready(
    status: dict[str, Any], ready: bool, message: str = "", *, clock: Clock
) -> None:
    """``ChannelReady`` True, or False (reason ``SubscriptionNotMarkedReadyByChannel``)."""
    if ready:
        SUBSCRIPTION_CONDITIONS.mark_true(status, CHANNEL_READY, clock=clock)
    else:
        SUBSCRIPTION_CONDITIONS.mark_false(
            status,
            CHANNEL_READY,
            NOT_MARKED_READY_BY_CHANNEL,
            message or "The channel has not marked the subscription ready.",
            clock=clock,
        )


def mark_channel_failed(status: dict[str, Any], reason: str, message: str, *, clock: Clock) -> None:
    """``ChannelReady`` False: the channel is missing, of a kind that is no channel..."""
    SUBSCRIPTION_CONDITIONS.mark_false(status, CHANNEL_READY, reason, message, clock=clock)


def mark_channel_unknown(
    status: dict[str, Any], reason: str, message: str, *, clock: Clock
) -> None:
    SUBSCRIPTION_CONDITIONS.mark_unknown(status, CHANNEL_READY, reason, message, clock=clock)


def mark_oidc_identity(
    status: dict[str, Any], service_account: str | None, *, clock: Clock
) -> None:
    """``OIDCIdentityCreated`` of a Subscription (:func:`kawa.apis.duck.mark_oidc_identity`)."""
    duck.mark_oidc_identity(SUBSCRIPTION_CONDITIONS, status, service_account, clock=clock)


def mark_oidc_identity_failed(status: dict[str, Any], message: str, *, clock: Clock) -> None:
    """The Subscription's ServiceAccount could not be made: ``OIDCIdentityCreated`` False."""
    duck.mark_oidc_identity_failed(SUBSCRIPTION_CONDITIONS, status, message, clock=clock)
