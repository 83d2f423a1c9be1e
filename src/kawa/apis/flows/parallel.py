"""The Parallel kind (flows.knative.dev/v1): every event to several branches at once.

``spec.branches[]``: ``subscriber`` (required), optional ``filter`` (a Destination whose
non-empty reply lets the event through), ``reply`` (defaults to ``spec.reply``) and
``delivery``; ``spec.channelTemplate`` (defaulted to InMemoryChannel) backs the ingress and the
branch channels. Status: ``ingressChannelStatus``, ``branchStatuses``, ``address``; conditions
``ChannelsReady``, ``SubscriptionsReady``, ``Addressable``, set from the children by
:func:`propagate_channel_statuses` and :func:`propagate_subscription_statuses` (Knative's
lifecycle: a Parallel's channel counts once it has an address; anything not ready is
``False``). What it shares with Sequence is in :mod:`.common`. Declared as
:data:`kawa.apis.flows.PARALLEL`; the reconciler is :mod:`kawa.controllers.flows.parallel`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Final

from kawa.apis import duck
from kawa.apis.conditions import FALSE, Clock
from kawa.apis.flows import common
from kawa.apis.model.base import Model, doc
from kawa.apis.model.objects import parse_object

API_VERSION: Final = common.API_VERSION
KIND: Final = "Parallel"
PARALLEL_CONDITIONS: Final = common.FLOW_CONDITIONS


class ParallelBranch(Model):
    """One branch."""

    filter: Annotated[
        duck.Destination | None,
        doc("Decides whether the event enters the branch (a non-empty reply)."),
    ] = None
    subscriber: Annotated[duck.Destination, doc("Receives the branch's events.")]
    reply: Annotated[
        duck.Destination | None, doc("Where the subscriber's replies go (default: spec.reply).")
    ] = None
    delivery: Annotated[
        duck.DeliverySpec | None, doc("How events are delivered: retries and dead letters.")
    ] = None


class ParallelSpec(common.FlowSpec):
    """The desired state of the Parallel."""

    branches: Annotated[list[ParallelBranch], doc("The branches.", min_length=1)]


class Parallel(common.Flow):
    """A Parallel sends every event to several branches, each with an optional filter."""

    spec: Annotated[
        ParallelSpec, doc("Sends every event to several branches, each with an optional filter.")
    ]


class ParallelBranchStatus(Model):
    """The objects of one branch."""

    filter_channel_status: Annotated[
        common.FlowChannelStatus | None, doc("The branch's filter channel.")
    ] = None
    filter_subscription_status: Annotated[
        common.FlowSubscriptionStatus | None, doc("The subscription of the branch's filter.")
    ] = None
    subscriber_subscription_status: Annotated[
        common.FlowSubscriptionStatus | None, doc("The subscription of the branch's subscriber.")
    ] = None


class ParallelStatus(common.FlowStatus):
    """The state of the Parallel."""

    ingress_channel_status: Annotated[
        common.FlowChannelStatus | None, doc("The channel receiving the Parallel's events.")
    ] = None
    branch_statuses: Annotated[list[ParallelBranchStatus] | None, doc("One per branch.")] = None


def parse_parallel(obj: Mapping[str, Any]) -> Parallel:
    """A Parallel dict defaulted, validated and typed; raises
    :class:`~kawa.errors.ValidationError` listing every problem."""
    return parse_object(Parallel, obj, kind=KIND, api_versions=(API_VERSION,), namespaced=True)


# -- lifecycle -------------------------------------------------------------------------------


def channel_name(parallel: str) -> str:
    """The ingress channel (Knative's ``ParallelChannelName``)."""
    return f"{parallel}-kn-parallel"


def branch_channel_name(parallel: str, branch: int) -> str:
    """The channel of branch ``branch`` (Knative's ``ParallelBranchChannelName``)."""
    return f"{parallel}-kn-parallel-{branch}"


def filter_subscription_name(parallel: str, branch: int) -> str:
    """The subscription of branch ``branch``'s filter to the ingress channel."""
    return f"{parallel}-kn-parallel-filter-{branch}"


def subscription_name(parallel: str, branch: int) -> str:
    """The subscription of branch ``branch``'s subscriber to the branch channel."""
    return f"{parallel}-kn-parallel-{branch}"


def _channel_status(channel: Mapping[str, Any]) -> dict[str, Any]:
    if common.address_url(channel) is not None:
        ready: dict[str, Any] = {"type": "Ready", "status": "True"}
    else:
        ready = {
            "type": "Ready",
            "status": FALSE,
            "reason": "NotAddressable",
            "message": "Channel is not addressable",
        }
    return {"channel": common.child_reference(channel), "ready": ready}


def _branches(status: dict[str, Any], count: int) -> list[dict[str, Any]]:
    branches = status.get("branchStatuses")
    if not isinstance(branches, list) or len(branches) != count:
        branches = [{} for _ in range(count)]
    status["branchStatuses"] = branches
    return branches


def propagate_channel_statuses(
    status: dict[str, Any],
    ingress: Mapping[str, Any],
    channels: Sequence[Mapping[str, Any]],
    *,
    clock: Clock,
) -> None:
    """``ingressChannelStatus`` and each branch's ``filterChannelStatus`` (Ready once the
    channel has an address), ``ChannelsReady`` and the address, the ingress channel's
    (``Addressable``)."""
    status["ingressChannelStatus"] = _channel_status(ingress)
    branches = _branches(status, len(channels))
    for branch, channel in zip(branches, channels, strict=True):
        branch["filterChannelStatus"] = _channel_status(channel)
    everything = [ingress, *channels]
    readies = [status["ingressChannelStatus"]["ready"]] + [
        b["filterChannelStatus"]["ready"] for b in branches
    ]
    conditions = PARALLEL_CONDITIONS
    if all(common.is_true(r) for r in readies):
        conditions.mark_true(status, common.CHANNELS_READY, clock=clock)
    else:
        conditions.mark_false(
            status,
            common.CHANNELS_READY,
            common.CHANNELS_NOT_READY,
            common.not_ready_message("Channels", list(zip(everything, readies, strict=True))),
            clock=clock,
        )
    common.set_flow_address(conditions, status, ingress, missing_is_false=True, clock=clock)


def propagate_subscription_statuses(
    status: dict[str, Any],
    filter_subscriptions: Sequence[Mapping[str, Any]],
    subscriptions: Sequence[Mapping[str, Any]],
    *,
    clock: Clock,
) -> None:
    """Each branch's ``filterSubscriptionStatus`` and ``subscriberSubscriptionStatus`` (with
    their ``Ready`` conditions) and ``SubscriptionsReady``."""
    branches = _branches(status, len(subscriptions))
    children: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = []
    for branch, filter_sub, sub in zip(branches, filter_subscriptions, subscriptions, strict=True):
        for field, child in (
            ("filterSubscriptionStatus", filter_sub),
            ("subscriberSubscriptionStatus", sub),
        ):
            ready = common.ready_of(child)
            branch[field] = {"subscription": common.child_reference(child), "ready": ready}
            children.append((child, ready))
    if subscriptions and all(common.is_true(r) for _, r in children):
        PARALLEL_CONDITIONS.mark_true(status, common.SUBSCRIPTIONS_READY, clock=clock)
    else:
        PARALLEL_CONDITIONS.mark_false(
            status,
            common.SUBSCRIPTIONS_READY,
            common.SUBSCRIPTIONS_NOT_READY,
            common.not_ready_message("Subscriptions", children),
            clock=clock,
        )
