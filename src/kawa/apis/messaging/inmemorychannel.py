"""The InMemoryChannel kind (messaging.knative.dev/v1): the default channel implementation.

Its spec is the Channelable duck (:mod:`.channelable`): ``subscribers[]`` (``uid``,
``generation``, ``subscriberUri``, ``replyUri``, ``delivery``; maintained by the subscription
reconciler) and ``delivery``. Each subscriber needs a subscriber or a reply URI. ``Ready``
derives from ``DispatcherReady``, ``Addressable`` and ``DeadLetterSinkResolved``. Declared as
:data:`kawa.apis.messaging.INMEMORYCHANNEL`; read by the channel data plane.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

from kawa.apis import duck
from kawa.apis.conditions import ConditionSet
from kawa.apis.messaging import channel, channelable
from kawa.apis.messaging.channelable import SubscriberSpec
from kawa.apis.model.base import Model, doc
from kawa.apis.model.objects import KubeObject, parse_object

API_VERSION: Final = channel.API_VERSION
KIND: Final = "InMemoryChannel"

DISPATCHER_READY: Final = "DispatcherReady"
INMEMORYCHANNEL_CONDITIONS: Final = ConditionSet(
    (DISPATCHER_READY, channelable.ADDRESSABLE, duck.DEAD_LETTER_SINK_RESOLVED)
)


class InMemoryChannelSpec(Model):
    """The desired state of the InMemoryChannel (the Channelable duck's spec)."""

    subscribers: Annotated[list[SubscriberSpec], doc(channelable.SUBSCRIBERS_DOC)] = []
    delivery: Annotated[
        duck.DeliverySpec | None, doc("How events are delivered: retries and dead letters.")
    ] = None


class InMemoryChannel(KubeObject):
    """An InMemoryChannel forwards each event it receives to every subscriber, from kawa's
    event log."""

    spec: Annotated[
        InMemoryChannelSpec,
        doc(
            "An in-memory channel: forwards each event to every subscriber, without "
            "persistence beyond kawa's event log."
        ),
    ] = InMemoryChannelSpec()


class InMemoryChannelStatus(channelable.ChannelableStatus):
    """The state of the InMemoryChannel."""


def parse_inmemorychannel(obj: Mapping[str, Any]) -> InMemoryChannel:
    """An InMemoryChannel dict defaulted, validated and typed; raises
    :class:`~kawa.errors.ValidationError` listing every problem."""
    return parse_object(
        InMemoryChannel, obj, kind=KIND, api_versions=(API_VERSION,), namespaced=True
    )
