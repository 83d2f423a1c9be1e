"""A flow's EventPolicies: the ones it derives for its channels, and its own
``status.policies`` and ``EventPoliciesReady``.

With ``authentication-oidc`` on, as Knative's Sequence and Parallel reconcilers do
(:mod:`kawa.reconciler.derived_policies`):

- each inner channel (a Sequence's channel i > 0, a Parallel's branch channel i) gets the
  policy ``<flow>-ep-<channel>`` allowing only the Subscription whose replies it receives
  (the Sequence's subscription i - 1, the Parallel's filter subscription i);
- the channel behind the flow's address (a Sequence's first channel, a Parallel's ingress
  channel) gets, per EventPolicy that applies to the flow, the policy ``<flow>-ep-<policy>``
  with that policy's senders and filters: the flow's policies are checked where its events
  arrive.

With it off, the flow's derived policies are deleted. Called by :mod:`.sequence` and
:mod:`.parallel` once their channels and subscriptions are in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kawa.apis.conditions import Clock, ConditionSet
from kawa.apis.flows import common
from kawa.apis.messaging.channel import ChannelTemplate
from kawa.apis.meta import child_name
from kawa.reconciler import derived_policies
from kawa.reconciler.eventpolicies import mark_event_policies
from kawa.reconciler.features import FEATURES_KEY, FeatureFlags
from kawa.reconciler.status import Reconciling
from kawa.store.base import ResourceStore

LABEL_PREFIX = "flows.knative.dev/"


def labels(kind: str, name: str) -> dict[str, str]:
    """The labels of the policies the flow ``kind`` ``name`` derives (Knative's)."""
    if kind == "Parallel":
        return {f"{LABEL_PREFIX}parallel-name": name}
    return {
        f"{LABEL_PREFIX}sequence-group": common.GROUP,
        f"{LABEL_PREFIX}sequence-version": common.API_VERSION.partition("/")[2],
        f"{LABEL_PREFIX}sequence-kind": kind,
        f"{LABEL_PREFIX}sequence-name": name,
    }


async def reconcile(
    store: ResourceStore,
    flags_of: FeatureFlags,
    current: Reconciling[Any],
    conditions: ConditionSet,
    template: ChannelTemplate,
    ingress: str,
    inner: Sequence[tuple[str, str]],
    *,
    clock: Clock,
) -> None:
    """Derive the policies of the flow ``current`` (its address is channel ``ingress``;
    ``inner`` pairs each inner channel with the Subscription that posts to it) and mark its
    ``EventPoliciesReady``."""
    current.track(FEATURES_KEY)
    flags = await flags_of.current()
    flow, obj = current.spec, current.obj
    namespace = flow.namespace
    own = labels(flow.kind, flow.name)
    wanted: dict[str, dict[str, Any]] = {}
    if flags.oidc:
        for channel, subscription in inner:
            name = child_name(flow.name, f"-ep-{channel}")
            to = derived_policies.reference(template.api_version, template.kind, channel)
            sender = derived_policies.from_subscription(subscription, namespace)
            wanted.setdefault(name, derived_policies.policy(obj, name, to, [sender], own))
        to = derived_policies.reference(template.api_version, template.kind, ingress)
        for source in await derived_policies.applying(store, flow, common.API_VERSION):
            name = child_name(flow.name, f"-ep-{source['metadata']['name']}")
            wanted.setdefault(name, derived_policies.for_parent_policy(obj, name, to, source, own))
    await derived_policies.ensure(store, obj, own, list(wanted.values()))
    await mark_event_policies(
        store, conditions, current.status, flow, flags, api_version=common.API_VERSION, clock=clock
    )
