"""The broker's loop guard: the ``knativebrokerttl`` extension (Knative broker contract).

An event entering a broker without the extension gets :data:`DEFAULT_TTL`; one that has it is
decremented, and one whose TTL would be zero or less is refused (the ingress answers 400 and
drops it). The extension is stripped before delivery to a subscriber and the delivered
event's value is put back on the subscriber's reply, which then re-enters the broker and is
decremented again: a reply loop ends after at most 255 rounds. A trigger whose subscriber is a
Broker passes the event on with its TTL (:func:`forward`), so a loop through brokers ends the
same way.

A sender may set the extension itself, to any value: the TTL a broker stores is capped at
``max_ttl`` (``kawa up --max-broker-ttl``, default :data:`DEFAULT_MAX_TTL`), so no sender can
make a loop last longer than that. Capped, not refused: Knative's ingress accepts an event
whatever TTL it carries (it only drops one that is exhausted), so a sender forwarding events
from elsewhere keeps working. Called through :func:`kawa.broker.envelope.on_ingress`, for the
ingress and for replies alike.
"""

from __future__ import annotations

from typing import Final

from kawa.cloudevents.event import AttributeValue, CloudEvent
from kawa.errors import ValidationError

TTL_ATTRIBUTE: Final = "knativebrokerttl"
DEFAULT_TTL: Final = 255
DEFAULT_MAX_TTL: Final = 255
"""``kawa up --max-broker-ttl``: the highest TTL a broker stores."""


def current(event: CloudEvent) -> int | None:
    """The event's TTL, ``None`` when absent; a non-integer value is a ValidationError."""
    value: AttributeValue | None = event.attributes.get(TTL_ATTRIBUTE)
    if value is None:
        return None
    if isinstance(value, (bool, bytes)):
        raise ValidationError.single(TTL_ATTRIBUTE, "must be an integer")
    try:
        return int(value)
    except ValueError:
        raise ValidationError.single(TTL_ATTRIBUTE, f"must be an integer, got {value!r}") from None


def on_ingress(event: CloudEvent, max_ttl: int = DEFAULT_MAX_TTL) -> CloudEvent:
    """The event as the broker stores it: TTL defaulted or decremented, then capped at
    ``max_ttl``; expired -> error."""
    ttl = current(event)
    if ttl is None:
        return event.with_attributes({TTL_ATTRIBUTE: min(DEFAULT_TTL, max_ttl)})
    ttl -= 1
    if ttl <= 0:
        raise ValidationError.single(
            TTL_ATTRIBUTE, "the event's TTL is exhausted (it looped through the broker); dropped"
        )
    return event.with_attributes({TTL_ATTRIBUTE: min(ttl, max_ttl)})


def strip(event: CloudEvent) -> CloudEvent:
    """The event as the subscriber sees it (no TTL extension)."""
    if TTL_ATTRIBUTE not in event.attributes:
        return event
    return event.with_attributes({TTL_ATTRIBUTE: None})


def forward(event: CloudEvent) -> CloudEvent:
    """The event as a trigger passes it to a broker that is its subscriber: the TTL kept, so
    the hop counts as a reply's does (kawa's rule; Knative strips it, and a trigger whose
    subscriber is its own broker loops forever there). A ValidationError when the broker
    would refuse it: the loop ends at the trigger, which knows its own name."""
    on_ingress(event)
    return event


def carry(reply: CloudEvent, delivered: CloudEvent) -> CloudEvent:
    """The reply with the TTL of the event it answers, ready to re-enter the broker."""
    ttl = delivered.attributes.get(TTL_ATTRIBUTE)
    return reply.with_attributes({TTL_ATTRIBUTE: ttl if ttl is not None else DEFAULT_TTL})
