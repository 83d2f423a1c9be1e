"""What Sequence and Parallel share, declared once: the spec's ``channelTemplate`` (defaulted
to an InMemoryChannel) and ``reply``, the status's ``address`` and the channel and
subscription statuses, and the conditions (``ChannelsReady``, ``SubscriptionsReady``,
``Addressable``).

:class:`Flow` is the base of both kinds' declarations (a flow without a spec gets an empty
one, so its errors name the missing fields); :class:`FlowSpec` and :class:`FlowStatus` are
the bases of their specs and statuses. Called by :mod:`.sequence` and :mod:`.parallel` only.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from kawa.apis import duck
from kawa.apis.conditions import ConditionSet
from kawa.apis.messaging import channel
from kawa.apis.messaging.channel import DEFAULT_CHANNEL_TEMPLATE, ChannelTemplate
from kawa.apis.model.base import STORED, Context, Model, doc
from kawa.apis.model.objects import KubeObject

GROUP: Final = "flows.knative.dev"
API_VERSION: Final = "flows.knative.dev/v1"

CHANNELS_READY: Final = "ChannelsReady"
SUBSCRIPTIONS_READY: Final = "SubscriptionsReady"
ADDRESSABLE: Final = channel.ADDRESSABLE
FLOW_CONDITIONS: Final = ConditionSet((CHANNELS_READY, SUBSCRIPTIONS_READY, ADDRESSABLE))


class FlowSpec(Model):
    """What the spec of every flow has: its channel implementation and its reply."""

    channel_template: Annotated[
        ChannelTemplate,
        doc("The channel implementation of the flow's channels (default InMemoryChannel)."),
        STORED,
    ] = DEFAULT_CHANNEL_TEMPLATE
    reply: Annotated[
        duck.Destination | None,
        doc(
            "Where replies go at the end of the flow: those of a Sequence's last step, those "
            "of a Parallel's branches without a reply of their own."
        ),
    ] = None


class Flow(KubeObject):
    """The base of Sequence and Parallel."""

    @classmethod
    def set_defaults(cls, data: dict[str, Any], ctx: Context) -> None:
        """A flow without a spec gets an empty one (then its defaults and missing fields)."""
        if data.get("spec") is None:
            data["spec"] = {}


class FlowChannelStatus(Model):
    """A channel the flow created, and whether it is ready."""

    channel: Annotated[duck.KReference | None, doc("The channel.")] = None
    ready: Annotated[duck.Condition | None, doc("Its Ready condition.")] = None


class FlowSubscriptionStatus(Model):
    """A subscription the flow created, and whether it is ready."""

    subscription: Annotated[duck.KReference | None, doc("The subscription.")] = None
    ready: Annotated[duck.Condition | None, doc("Its Ready condition.")] = None


class FlowStatus(duck.Status):
    """What the status of every flow has: its address (that of its first channel)."""

    address: Annotated[duck.Addressable | None, doc("Where the flow receives events.")] = None
