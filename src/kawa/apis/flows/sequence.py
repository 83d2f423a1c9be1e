"""The Sequence kind (flows.knative.dev/v1): events through a list of steps in order.

``spec.steps[]`` are Destinations, each with its own optional ``delivery``; the reconciler
creates a channel (from ``spec.channelTemplate``, defaulted to InMemoryChannel) and a
subscription per step, the reply of step i feeding step i+1 and the last one going to
``spec.reply`` (discarded without it). Status: ``channelStatuses``, ``subscriptionStatuses``,
``address``; conditions ``ChannelsReady``, ``SubscriptionsReady``, ``Addressable``. What it
shares with Parallel is in :mod:`.common`. Declared as :data:`kawa.apis.flows.SEQUENCE`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

from kawa.apis import duck
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
