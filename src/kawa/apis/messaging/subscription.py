"""The Subscription kind (messaging.knative.dev/v1): connects a channel to a subscriber.

``spec.channel`` (a KReference to a Channel or a channel implementation) is required and
immutable; ``spec.subscriber`` and ``spec.reply`` are Destinations, at least one of them set (a
reply with no ``reply`` destination is discarded); ``spec.delivery`` configures retries and the
dead-letter sink. Status: ``physicalSubscription`` (the resolved URIs) and the conditions
``Resolved``, ``AddedToChannel``, ``ChannelReady`` behind ``Ready``. Declared in
:data:`kawa.apis.messaging.KINDS`; read by the subscription reconciler.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis import duck, kn_common, kn_schema, meta
from kawa.apis.conditions import Clock, ConditionSet
from kawa.apis.messaging import channel
from kawa.errors import FieldError, ValidationError

API_VERSION: Final = channel.API_VERSION
KIND: Final = "Subscription"
_SPEC_FIELDS: Final = ("channel", "subscriber", "reply", "delivery")

REFERENCES_RESOLVED: Final = "Resolved"
ADDED_TO_CHANNEL: Final = "AddedToChannel"
CHANNEL_READY: Final = "ChannelReady"
SUBSCRIPTION_CONDITIONS: Final = ConditionSet(
    (REFERENCES_RESOLVED, ADDED_TO_CHANNEL, CHANNEL_READY)
)


@dataclass(frozen=True, slots=True)
class Subscription:
    namespace: str
    name: str
    uid: str
    generation: int
    channel: duck.KReference
    subscriber: duck.Destination | None
    reply: duck.Destination | None
    delivery: duck.DeliverySpec | None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def default_subscription(obj: Mapping[str, Any]) -> meta.Object:
    """A copy with the ``ref.namespace`` of subscriber, reply and dead-letter sink filled in."""
    out = kn_common.deep_copy(obj)
    spec = out.get("spec")
    if isinstance(spec, dict):
        namespace = meta.namespace_of(out)
        duck.default_destination(spec.get("subscriber"), namespace)
        duck.default_destination(spec.get("reply"), namespace)
        duck.default_delivery(spec.get("delivery"), namespace)
    return out


def parse_subscription(obj: Mapping[str, Any]) -> Subscription:
    obj = default_subscription(obj)
    errors: list[FieldError] = []
    kn_common.check_header(obj, (API_VERSION,), KIND, errors)
    who = kn_common.identity(obj)
    spec = kn_common.read_spec(obj, _SPEC_FIELDS, errors, required=True)
    ref = None
    if spec.get("channel") is None:
        if obj.get("spec") is not None:
            errors.append(FieldError("spec.channel", "required field is missing"))
    else:
        ref = duck.read_reference(spec["channel"], "spec.channel", errors, namespace=who.namespace)
        if ref is not None and ref.namespace != who.namespace:
            errors.append(
                FieldError(
                    "spec.channel.namespace",
                    f"must be empty or the Subscription's namespace {who.namespace!r}",
                )
            )
    found: dict[str, duck.Destination | None] = {"subscriber": None, "reply": None}
    for key in found:
        if spec.get(key) is not None:
            found[key] = duck.read_destination(
                spec[key], f"spec.{key}", errors, namespace=who.namespace
            )
    if obj.get("spec") is not None and spec.get("subscriber") is None and spec.get("reply") is None:
        errors.append(
            FieldError("spec", "expected at least one of subscriber or reply, got neither")
        )
    delivery = None
    if spec.get("delivery") is not None:
        delivery = duck.read_delivery(
            spec["delivery"], "spec.delivery", errors, namespace=who.namespace
        )
    kn_common.raise_if_errors(errors, KIND, obj)
    if ref is None:
        raise ValidationError.single("spec.channel", "required field is missing")
    return Subscription(
        who.namespace,
        who.name,
        who.uid,
        who.generation,
        ref,
        found["subscriber"],
        found["reply"],
        delivery,
    )


def validate_subscription(obj: Mapping[str, Any]) -> None:
    parse_subscription(obj)


def validate_subscription_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """``spec.channel`` is immutable."""
    old_c, new_c = _channel_of(old), _channel_of(new)
    if old_c != new_c:
        raise ValidationError.single(
            "spec.channel",
            f"immutable field changed from {old_c!r} to {new_c!r}; "
            "delete and recreate the Subscription to move it to another channel",
            subject=meta.subject_of(KIND, new),
        )


def _channel_of(obj: Mapping[str, Any]) -> Any:
    spec = obj.get("spec")
    ref = spec.get("channel") if isinstance(spec, Mapping) else None
    if not isinstance(ref, Mapping):
        return ref
    out = dict(ref)
    out.setdefault("namespace", meta.namespace_of(obj))
    if not out["namespace"]:
        out["namespace"] = meta.namespace_of(obj)
    return out


# -- status ----------------------------------------------------------------------------------


def mark_references_resolved(
    status: dict[str, Any],
    *,
    subscriber_uri: str | None,
    reply_uri: str | None,
    dead_letter_sink_uri: str | None,
    clock: Clock,
) -> None:
    """Record the resolved URIs in ``status.physicalSubscription``; ``Resolved`` True."""
    physical = {
        key: value
        for key, value in (
            ("subscriberUri", subscriber_uri),
            ("replyUri", reply_uri),
            ("deadLetterSinkUri", dead_letter_sink_uri),
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


def mark_channel_ready(
    status: dict[str, Any], ready: bool, message: str = "", *, clock: Clock
) -> None:
    if ready:
        SUBSCRIPTION_CONDITIONS.mark_true(status, CHANNEL_READY, clock=clock)
    else:
        SUBSCRIPTION_CONDITIONS.mark_false(
            status,
            CHANNEL_READY,
            "ChannelNotReady",
            message or "The channel is not ready.",
            clock=clock,
        )


SCHEMA: Final = kn_schema.kind_schema(
    kn_schema.obj(
        "Delivers the events of a channel to a subscriber, and its replies to reply.",
        {
            "channel": kn_schema.kreference(
                "The channel subscribed to (immutable): a Channel or a channel implementation."
            ),
            "subscriber": kn_schema.destination("Where the channel's events are sent."),
            "reply": kn_schema.destination(
                "Where the subscriber's replies are sent; without it replies are discarded."
            ),
            "delivery": kn_schema.delivery(),
        },
        required=("channel",),
    ),
    kn_schema.status(
        "The state of the Subscription.",
        {
            "physicalSubscription": kn_schema.obj(
                "The resolved URIs the channel uses.",
                {
                    "subscriberUri": kn_schema.string("The resolved subscriber."),
                    "replyUri": kn_schema.string("The resolved reply destination."),
                    "deadLetterSinkUri": kn_schema.string("The resolved dead-letter sink."),
                    "delivery": kn_schema.delivery(),
                },
            )
        },
    ),
)
