"""What Sequence and Parallel share, declared once: the spec's ``channelTemplate`` (defaulted
to an InMemoryChannel) and ``reply``, the status's ``address`` and the channel and
subscription statuses, the EventPolicies that apply (``policies``), and the conditions
(``ChannelsReady``, ``SubscriptionsReady``, ``Addressable``, ``EventPoliciesReady``: Knative's
names for v1 flows).

:class:`Flow` is the base of both kinds' declarations (a flow without a spec gets an empty
one, so its errors name the missing fields); :class:`FlowSpec` and :class:`FlowStatus` are
the bases of their specs and statuses. The status helpers at the end (a child's reference,
its ``Ready`` condition, the flow's address, the message naming the children not ready yet)
are pure functions on stored dicts, shared by the lifecycles of :mod:`.sequence` and
:mod:`.parallel`. Called by :mod:`.sequence` and :mod:`.parallel` only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Final

from kawa.apis import duck, limits, reply_types, retention
from kawa.apis.conditions import UNKNOWN, Clock, ConditionSet
from kawa.apis.messaging import channel
from kawa.apis.messaging.channel import DEFAULT_CHANNEL_TEMPLATE, ChannelTemplate
from kawa.apis.model.base import STORED, Context, Model, doc
from kawa.apis.model.objects import KubeObject
from kawa.errors import FieldError

GROUP: Final = "flows.knative.dev"
API_VERSION: Final = "flows.knative.dev/v1"

CHANNELS_READY: Final = "ChannelsReady"
SUBSCRIPTIONS_READY: Final = "SubscriptionsReady"
ADDRESSABLE: Final = channel.ADDRESSABLE
EVENT_POLICIES_READY: Final = duck.EVENT_POLICIES_READY
FLOW_CONDITIONS: Final = ConditionSet(
    (CHANNELS_READY, SUBSCRIPTIONS_READY, ADDRESSABLE, EVENT_POLICIES_READY)
)

CHANNELS_NOT_READY: Final = "ChannelsNotReady"
SUBSCRIPTIONS_NOT_READY: Final = "SubscriptionsNotReady"
EMPTY_ADDRESS: Final = "emptyAddress"
NO_READY: Final = "NoReady"


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

    def check(self, ctx: Context) -> Iterable[FieldError]:
        """kawa's delivery limits (copied to every Subscription the flow makes), declared
        reply types (loop detection) and retention (carried to its channels)."""
        return [
            *limits.limit_errors(self.annotations),
            *reply_types.reply_type_errors(self.annotations),
            *retention.retention_errors(self.annotations),
        ]


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
    addresses: Annotated[
        list[duck.Addressable] | None,
        doc("Every address of the flow (http and https, by transport-encryption)."),
    ] = None
    policies: Annotated[
        list[duck.AppliedEventPolicyRef] | None,
        doc("The Ready EventPolicies that apply to the flow (authentication-oidc)."),
    ] = None


# -- status helpers (pure, on stored dicts) --------------------------------------------------


def child_reference(obj: Mapping[str, Any]) -> dict[str, str]:
    """The reference a flow's status gives to one of its channels or subscriptions."""
    metadata = obj.get("metadata") or {}
    return {
        "apiVersion": str(obj.get("apiVersion", "")),
        "kind": str(obj.get("kind", "")),
        "name": str(metadata.get("name", "")),
        "namespace": str(metadata.get("namespace", "")),
    }


def ready_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The child's ``Ready`` condition as stored, or ``Unknown`` (``NoReady``) when it reports
    none yet (without a transition time: the flow's status stays the same until it does)."""
    status = obj.get("status")
    conditions = status.get("conditions") if isinstance(status, Mapping) else None
    for condition in conditions if isinstance(conditions, list) else ():
        if isinstance(condition, Mapping) and condition.get("type") == "Ready":
            return dict(condition)
    kind = str(obj.get("kind", "object"))
    return {
        "type": "Ready",
        "status": UNKNOWN,
        "reason": NO_READY,
        "message": f"{kind} does not have Ready condition",
    }


def set_flow_address(
    conditions: ConditionSet,
    status: dict[str, Any],
    channel: Mapping[str, Any] | None,
    *,
    missing_is_false: bool,
    clock: Clock,
) -> None:
    """Publish the flow's address, its first ``channel``'s (with its OIDC audience and, with
    transport encryption, its ``addresses``: senders to the flow need both), and
    ``Addressable``; without one, ``Addressable`` is False (a Parallel) or Unknown (a
    Sequence), as Knative's."""
    found = channel.get("status") if channel is not None else None
    url, audience, addresses = duck.published_address(found if isinstance(found, Mapping) else None)
    if url is None:
        status.pop("address", None)
        status.pop("addresses", None)
        mark = conditions.mark_false if missing_is_false else conditions.mark_unknown
        mark(status, ADDRESSABLE, EMPTY_ADDRESS, "addressable is nil", clock=clock)
        return
    duck.set_address(
        conditions,
        status,
        url,
        what="flow",
        clock=clock,
        audience=audience,
        addresses=addresses,
    )


def address_url(obj: Mapping[str, Any]) -> str | None:
    """The child's ``status.address.url`` (``None`` while it has none)."""
    status = obj.get("status")
    address = status.get("address") if isinstance(status, Mapping) else None
    url = address.get("url") if isinstance(address, Mapping) else None
    return url if isinstance(url, str) and url else None


def is_true(condition: Mapping[str, Any]) -> bool:
    return condition.get("status") == "True"


def not_ready_message(
    what: str, children: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]
) -> str:
    """``"<What> are not ready yet: InMemoryChannel "s-kn-sequence-1": reason: message
    (and 2 more)"``: which of ``(child, its Ready condition)`` is not ready, and why."""
    waiting = [(obj, ready) for obj, ready in children if not is_true(ready)]
    if not waiting:
        return f"{what} are not ready yet, or there are none"
    obj, ready = waiting[0]
    ref = child_reference(obj)
    why = ": ".join(
        str(part) for part in (ready.get("reason"), ready.get("message")) if part
    ) or str(ready.get("status", UNKNOWN))
    more = f" (and {len(waiting) - 1} more)" if len(waiting) > 1 else ""
    return f'{what} are not ready yet: {ref["kind"]} "{ref["name"]}": {why}{more}'


def mark_channels_failed(
    status: dict[str, Any], reason: str, message: str, *, clock: Clock
) -> None:
    """The flow's channels cannot be made as its spec says (an unknown channel kind, a name
    taken by an object the flow does not control): ``ChannelsReady`` False."""
    FLOW_CONDITIONS.mark_false(status, CHANNELS_READY, reason, message, clock=clock)


def mark_subscriptions_failed(
    status: dict[str, Any], reason: str, message: str, *, clock: Clock
) -> None:
    """The flow's subscriptions cannot be made as its spec says: ``SubscriptionsReady``
    False."""
    FLOW_CONDITIONS.mark_false(status, SUBSCRIPTIONS_READY, reason, message, clock=clock)
