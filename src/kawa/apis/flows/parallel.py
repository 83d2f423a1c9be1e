"""The Parallel kind (flows.knative.dev/v1): every event to several branches at once.

``spec.branches[]``: ``subscriber`` (required), optional ``filter`` (a Destination whose
non-empty reply lets the event through), ``reply`` (defaults to ``spec.reply``) and
``delivery``; ``spec.channelTemplate`` (defaulted to InMemoryChannel) backs the ingress and the
branch channels. Status: ``ingressChannelStatus``, ``branchStatuses``, ``address``; conditions
``ChannelsReady``, ``SubscriptionsReady``, ``Addressable``. What it shares with Sequence is in
:mod:`.common`. Declared as :data:`kawa.apis.flows.PARALLEL`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

from kawa.apis import duck
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
