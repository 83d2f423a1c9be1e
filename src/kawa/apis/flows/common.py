"""What Sequence and Parallel share: the channel template default, ``reply``, the status
conditions (``ChannelsReady``, ``SubscriptionsReady``, ``Addressable``) and schema pieces.

Called by :mod:`.sequence` and :mod:`.parallel` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from kawa.apis import duck, kn_common, kn_schema, meta
from kawa.apis.conditions import ConditionSet
from kawa.apis.messaging import channel
from kawa.errors import FieldError

GROUP: Final = "flows.knative.dev"
API_VERSION: Final = "flows.knative.dev/v1"

CHANNELS_READY: Final = "ChannelsReady"
SUBSCRIPTIONS_READY: Final = "SubscriptionsReady"
ADDRESSABLE: Final = channel.ADDRESSABLE
FLOW_CONDITIONS: Final = ConditionSet((CHANNELS_READY, SUBSCRIPTIONS_READY, ADDRESSABLE))


def default_flow(obj: Mapping[str, Any], destinations: str) -> meta.Object:
    """A copy with ``channelTemplate`` defaulted and every Destination's ref namespace filled.

    ``destinations`` names the list (``steps`` or ``branches``) whose items hold Destinations.
    """
    out = kn_common.deep_copy(obj)
    spec = out.get("spec")
    if spec is None:
        spec = out["spec"] = {}
    if not isinstance(spec, dict):
        return out
    namespace = meta.namespace_of(out)
    if spec.get("channelTemplate") is None:
        spec["channelTemplate"] = dict(channel.DEFAULT_CHANNEL_TEMPLATE)
    duck.default_destination(spec.get("reply"), namespace)
    items = spec.get(destinations)
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        if destinations == "steps":
            duck.default_destination(item, namespace)
        for key in ("filter", "subscriber", "reply"):
            duck.default_destination(item.get(key), namespace)
        duck.default_delivery(item.get("delivery"), namespace)
    return out


def read_common(
    spec: Mapping[str, Any], errors: list[FieldError], namespace: str
) -> tuple[channel.ChannelTemplate | None, duck.Destination | None]:
    template = channel.read_channel_template(
        spec.get("channelTemplate"), "spec.channelTemplate", errors
    )
    reply = None
    if spec.get("reply") is not None:
        reply = duck.read_destination(spec["reply"], "spec.reply", errors, namespace=namespace)
    return template, reply


def _ready() -> kn_schema.Schema:
    return kn_schema.obj(
        "Its Ready condition.",
        {
            "type": kn_schema.string("Ready."),
            "status": kn_schema.string("True, False or Unknown."),
            "reason": kn_schema.string("Why."),
            "message": kn_schema.string("Details."),
        },
    )


def channel_status() -> kn_schema.Schema:
    return kn_schema.obj(
        "A channel the flow created, and whether it is ready.",
        {"channel": kn_schema.kreference("The channel."), "ready": _ready()},
    )


def subscription_status() -> kn_schema.Schema:
    return kn_schema.obj(
        "A subscription the flow created, and whether it is ready.",
        {"subscription": kn_schema.kreference("The subscription."), "ready": _ready()},
    )
