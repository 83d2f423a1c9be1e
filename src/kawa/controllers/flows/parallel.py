"""The Parallel reconciler (Knative's ``pkg/reconciler/parallel``, in kawa's shape).

For a Parallel ``p`` with n branches, in its namespace, each controlled by it, channels of
the kind in ``spec.channelTemplate``:

- the ingress channel ``p-kn-parallel`` (the Parallel's address);
- per branch i, a channel ``p-kn-parallel-<i>``;
- per branch i, a filter Subscription ``p-kn-parallel-filter-<i>`` reading the ingress
  channel: its subscriber is the branch's ``filter`` (none: every event passes), its reply
  the branch channel. A filter that answers with an event lets it into the branch; one that
  answers non-2xx or with no event drops it there (the channel data plane does that);
- per branch i, a Subscription ``p-kn-parallel-<i>`` reading the branch channel: its
  subscriber is the branch's ``subscriber``, its reply the branch's ``reply`` (else
  ``spec.reply``; neither: replies dropped), its delivery the branch's ``delivery``.

Fewer branches, or another channel kind, delete what is no longer wanted; deleting the
Parallel leaves its children to the garbage collector. Status: ``ingressChannelStatus``,
``branchStatuses``, ``address`` and the conditions ``ChannelsReady``, ``SubscriptionsReady``,
``Addressable``, ``EventPoliciesReady`` (:mod:`kawa.apis.flows.parallel`). With
authentication-oidc on, its EventPolicies are carried to its channels (:mod:`.policies`). Built by
:func:`kawa.controllers.flows.flows_controllers`.
"""

from __future__ import annotations

from typing import Any

from kawa.apis.conditions import Clock
from kawa.apis.flows import common
from kawa.apis.flows import parallel as parallel_api
from kawa.apis.meta import set_observed_generation
from kawa.controllers.flows import children, policies
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.features import FeatureFlags
from kawa.reconciler.status import Reconciling, StatusReconciler
from kawa.store.base import Obj, ResourceKey, ResourceStore


class ParallelReconciler(StatusReconciler[parallel_api.Parallel]):
    conditions = parallel_api.PARALLEL_CONDITIONS
    invalid_condition = common.CHANNELS_READY

    def __init__(
        self, store: ResourceStore, clock: Clock, recorder: EventRecorder | None = None
    ) -> None:
        super().__init__(store, clock, recorder)
        self._features = FeatureFlags(store)

    def parse(self, obj: Obj) -> parallel_api.Parallel:
        return parallel_api.parse_parallel(obj)

    async def reconcile_kind(self, current: Reconciling[parallel_api.Parallel]) -> None:
        par, status, clock = current.spec, current.status, self.clock
        set_observed_generation(status, par.generation)
        template = par.spec.channel_template
        branches: list[dict[str, Any]] = list(current.obj["spec"]["branches"])
        namespace = par.namespace
        ingress_name = parallel_api.channel_name(par.name)
        names = [parallel_api.branch_channel_name(par.name, i) for i in range(len(branches))]
        try:
            made = await children.ensure_channels(
                self.store, current.obj, template, [ingress_name, *names], current.track
            )
        except children.ChildProblem as problem:
            common.mark_channels_failed(status, problem.reason, problem.message, clock=clock)
            return
        parallel_api.propagate_channel_statuses(status, made[0], made[1:], clock=clock)

        wanted: set[ResourceKey] = set()
        ingress = children.channel_reference(template, ingress_name, namespace)
        reply = children.destination(current.obj["spec"].get("reply"))
        filters: list[Obj] = []
        subscribers: list[Obj] = []
        try:
            for i, branch in enumerate(branches):
                branch_channel = children.channel_reference(template, names[i], namespace)
                filter_name = parallel_api.filter_subscription_name(par.name, i)
                filter_spec = children.subscription_spec(
                    ingress,
                    children.destination(branch.get("filter")),
                    {"ref": branch_channel},
                    None,
                )
                filters.append(
                    await children.ensure_subscription(
                        self.store, current.obj, filter_name, filter_spec, current.track
                    )
                )
                name = parallel_api.subscription_name(par.name, i)
                spec = children.subscription_spec(
                    branch_channel,
                    children.destination(branch.get("subscriber")),
                    children.destination(branch.get("reply")) or reply,
                    branch.get("delivery"),
                )
                subscribers.append(
                    await children.ensure_subscription(
                        self.store, current.obj, name, spec, current.track
                    )
                )
                wanted.add(ResourceKey(children.SUBSCRIPTIONS, namespace, filter_name))
                wanted.add(ResourceKey(children.SUBSCRIPTIONS, namespace, name))
        except children.ChildProblem as problem:
            common.mark_subscriptions_failed(status, problem.reason, problem.message, clock=clock)
            return
        parallel_api.propagate_subscription_statuses(status, filters, subscribers, clock=clock)
        await children.remove_unwanted(self.store, current.obj, (children.SUBSCRIPTIONS,), wanted)
        await policies.reconcile(
            self.store,
            self._features,
            current,
            self.conditions,
            template,
            ingress_name,
            [
                (names[i], parallel_api.filter_subscription_name(par.name, i))
                for i in range(len(branches))
            ],
            clock=clock,
        )
