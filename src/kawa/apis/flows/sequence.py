"""The Sequence kind (flows.knative.dev/v1): events through a list of steps in order.

``spec.steps[]`` are Destinations, each with its own optional ``delivery``; the reconciler
creates a channel (from ``spec.channelTemplate``, defaulted to InMemoryChannel) and a
subscription per step, the reply of step i feeding step i+1 and the last one going to
``spec.reply`` (discarded without it). Status: ``channelStatuses``, ``subscriptionStatuses``,
``address``; conditions ``ChannelsReady``, ``SubscriptionsReady``, ``Addressable``, set from
the children by :func:`propagate_channel_statuses` and :func:`propagate_subscription_statuses`
(Knative's lifecycle: a channel counts when its ``Ready`` is True, and the Sequence's address
is its first channel's). What it shares with Parallel is in :mod:`.common`. Declared as
:data:`kawa.apis.flows.SEQUENCE`; the reconciler is :mod:`kawa.controllers.flows.sequence`.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence as Seq
from typing import Annotated, Any, Final

from kawa.apis import duck
from kawa.apis.conditions import Clock
from kawa.apis.flows import common
from kawa.apis.model.base import doc
from kawa.apis.model.objects import parse_object

API_VERSION: Final = common.API_VERSION
KIND: Final = "Sequence"
SEQUENCE_CONDITIONS: Final = common.FLOW_CONDITIONS


class SequenceStep(duck.Destination):
    """A step: where events go at this point of the sequence."""

    delivery: Annotated[duck.DeliverySpec | None, doc("How events are delivered to this step.")] = (
        None
    )


class SequenceSpec(common.FlowSpec):
    """The desired state of the Sequence."""

    steps: Annotated[list[SequenceStep], doc("The steps, in order.", min_length=1)]


class Sequence(common.Flow):
    """A Sequence sends events through steps, one after the other."""

    spec: Annotated[SequenceSpec, doc("Sends events through steps, one after the other.")]


class SequenceStatus(common.FlowStatus):
    """The state of the Sequence."""

    channel_statuses: Annotated[list[common.FlowChannelStatus] | None, doc("One per step.")] = None
    subscription_statuses: Annotated[
        list[common.FlowSubscriptionStatus] | None, doc("One per step.")
    ] = None


def parse_sequence(obj: Mapping[str, Any]) -> Sequence:
    """A Sequence dict defaulted, validated and typed; raises
    :class:`~kawa.errors.ValidationError` listing every problem."""
    return parse_object(Sequence, obj, kind=KIND, api_versions=(API_VERSION,), namespaced=True)


# -- lifecycle -------------------------------------------------------------------------------


def channel_name(sequence: str, step: int) -> str:
    """The channel in front of step ``step`` (Knative's ``SequenceChannelName``)."""
    return f"{sequence}-kn-sequence-{step}"


def subscription_name(sequence: str, step: int) -> str:
    """The subscription of step ``step`` (Knative's ``SequenceSubscriptionName``)."""
    return f"{sequence}-kn-sequence-{step}"


def propagate_channel_statuses(
    status: dict[str, Any], channels: Seq[Mapping[str, Any]], *, clock: Clock
) -> None:
    """``channelStatuses`` (each channel with its ``Ready`` condition), ``ChannelsReady``
    (Unknown until every channel is Ready) and the address, the first channel's
    (``Addressable``)."""
    readies = [common.ready_of(c) for c in channels]
    status["channelStatuses"] = [
        {"channel": common.child_reference(c), "ready": r}
        for c, r in zip(channels, readies, strict=True)
    ]
    conditions = SEQUENCE_CONDITIONS
    if channels and all(common.is_true(r) for r in readies):
        conditions.mark_true(status, common.CHANNELS_READY, clock=clock)
    else:
        conditions.mark_unknown(
            status,
            common.CHANNELS_READY,
            common.CHANNELS_NOT_READY,
            common.not_ready_message("Channels", list(zip(channels, readies, strict=True))),
            clock=clock,
        )
    first = channels[0] if channels else None
    common.set_flow_address(conditions, status, first, missing_is_false=False, clock=clock)


def propagate_subscription_statuses(
    status: dict[str, Any], subscriptions: Seq[Mapping[str, Any]], *, clock: Clock
) -> None:
    """``subscriptionStatuses`` (each with its ``Ready`` condition) and
    ``SubscriptionsReady`` (Unknown until every subscription is Ready)."""
    readies = [common.ready_of(s) for s in subscriptions]
    status["subscriptionStatuses"] = [
        {"subscription": common.child_reference(s), "ready": r}
        for s, r in zip(subscriptions, readies, strict=True)
    ]
    if subscriptions and all(common.is_true(r) for r in readies):
        SEQUENCE_CONDITIONS.mark_true(status, common.SUBSCRIPTIONS_READY, clock=clock)
    else:
        SEQUENCE_CONDITIONS.mark_unknown(
            status,
            common.SUBSCRIPTIONS_READY,
            common.SUBSCRIPTIONS_NOT_READY,
            common.not_ready_message(
                "Subscriptions", list(zip(subscriptions, readies, strict=True))
            ),
            clock=clock,
        )
