"""The messaging.knative.dev API group: Channel, InMemoryChannel and Subscription.

One module per kind (:mod:`.channel`, :mod:`.inmemorychannel`, :mod:`.subscription`) with the
shape of Knative's ``pkg/apis/messaging/v1``, plus the channel duck shapes they share
(:mod:`.channelable`) and the default channel template (:mod:`.channel_defaults`);
:data:`KINDS` declares them for the registry, their CRDs labelled as Knative's
(:data:`SUBSCRIBABLE_LABEL`, :data:`ADDRESSABLE_LABEL`, category ``channel``).
"""

from __future__ import annotations

from typing import Final

from kawa.apis import kn_common
from kawa.apis.kinds import ResourceKind
from kawa.apis.messaging import channel, inmemorychannel, subscription

GROUP: Final = channel.GROUP
_CHANNEL_CATEGORIES: Final = ("all", "knative", "messaging", "channel")
_COLUMNS: Final = (kn_common.URL, kn_common.AGE, kn_common.READY, kn_common.REASON)
SUBSCRIBABLE_LABEL: Final = "messaging.knative.dev/subscribable"
"""The CRD label of a channel kind, which a Subscription may name (Knative's)."""
ADDRESSABLE_LABEL: Final = "duck.knative.dev/addressable"
_CHANNEL_LABELS: Final = ((SUBSCRIBABLE_LABEL, "true"), (ADDRESSABLE_LABEL, "true"))

CHANNEL: Final = ResourceKind(
    group=GROUP,
    versions=("v1",),
    kind=channel.KIND,
    plural="channels",
    singular="channel",
    namespaced=True,
    model=channel.Channel,
    status=channel.ChannelStatus,
    short_names=("ch",),
    categories=_CHANNEL_CATEGORIES,
    printer_columns=_COLUMNS,
    crd_labels=_CHANNEL_LABELS,
)

INMEMORYCHANNEL: Final = ResourceKind(
    group=GROUP,
    versions=("v1",),
    kind=inmemorychannel.KIND,
    plural="inmemorychannels",
    singular="inmemorychannel",
    namespaced=True,
    model=inmemorychannel.InMemoryChannel,
    status=inmemorychannel.InMemoryChannelStatus,
    short_names=("imc",),
    categories=_CHANNEL_CATEGORIES,
    printer_columns=_COLUMNS,
    crd_labels=_CHANNEL_LABELS,
)

SUBSCRIPTION: Final = ResourceKind(
    group=GROUP,
    versions=("v1",),
    kind=subscription.KIND,
    plural="subscriptions",
    singular="subscription",
    namespaced=True,
    model=subscription.Subscription,
    status=subscription.SubscriptionStatus,
    short_names=("sub",),
    categories=("all", "knative", "messaging"),
    printer_columns=(kn_common.AGE, kn_common.READY, kn_common.REASON),
)

KINDS: Final[tuple[ResourceKind, ...]] = (CHANNEL, INMEMORYCHANNEL, SUBSCRIPTION)

__all__ = [
    "ADDRESSABLE_LABEL",
    "CHANNEL",
    "GROUP",
    "INMEMORYCHANNEL",
    "KINDS",
    "SUBSCRIBABLE_LABEL",
    "SUBSCRIPTION",
]
