"""The Sequence reconciler (Knative's ``pkg/reconciler/sequence``, in kawa's shape).

For a Sequence ``s`` with n steps, in its namespace, each controlled by it:

- n channels ``s-kn-sequence-<i>`` of the kind in ``spec.channelTemplate``;
- n Subscriptions ``s-kn-sequence-<i>``: subscription i reads channel i, its subscriber is
  step i (with step i's ``delivery``), its reply is channel i+1 (a KReference to it), and the
  last one's reply is ``spec.reply`` (none: the last step's replies are dropped).

Events sent to the Sequence's address (channel 0's) thus go through the steps in order; the
Sequence has no data plane of its own; with authentication-oidc on, its EventPolicies are
carried to its channels (:mod:`.policies`). Fewer steps, or another channel kind, delete what is
no longer wanted; deleting the Sequence leaves its children to the garbage collector. Status:
``channelStatuses``, ``subscriptionStatuses``, ``address`` and the conditions
``ChannelsReady``, ``SubscriptionsReady``, ``Addressable``, ``EventPoliciesReady``
(:mod:`kawa.apis.flows.sequence`).
A template kawa cannot make, or a name taken by an object the Sequence does not control, is
``ChannelsReady``/``SubscriptionsReady`` False with the reason. Built by
:func:`kawa.controllers.flows.flows_controllers`.
"""

from __future__ import annotations

from typing import Any

from kawa.apis.conditions import Clock
from kawa.apis.flows import common
from kawa.apis.flows import sequence as sequence_api
from kawa.apis.meta import set_observed_generation
from kawa.controllers.flows import children, policies
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.features import FeatureFlags
from kawa.reconciler.status import Reconciling, StatusReconciler
from kawa.store.base import Obj, ResourceKey, ResourceStore


class SequenceReconciler(StatusReconciler[sequence_api.Sequence]):
    conditions = sequence_api.SEQUENCE_CONDITIONS
    invalid_condition = common.CHANNELS_READY

    def __init__(
        self, store: ResourceStore, clock: Clock, recorder: EventRecorder | None = None
    ) -> None:
        super().__init__(store, clock, recorder)
        self._features = FeatureFlags(store)

    def parse(self, obj: Obj) -> sequence_api.Sequence:
        return sequence_api.parse_sequence(obj)

    async def reconcile_kind(self, current: Reconciling[sequence_api.Sequence]) -> None:
        seq, status, clock = current.spec, current.status, self.clock
        set_observed_generation(status, seq.generation)
        template = seq.spec.channel_template
        steps: list[dict[str, Any]] = list(current.obj["spec"]["steps"])
        namespace = seq.namespace
        try:
            channels = await children.ensure_channels(
                self.store,
                current.obj,
                template,
                [sequence_api.channel_name(seq.name, i) for i in range(len(steps))],
                current.track,
            )
        except children.ChildProblem as problem:
            common.mark_channels_failed(status, problem.reason, problem.message, clock=clock)
            return
        sequence_api.propagate_channel_statuses(status, channels, clock=clock)

        wanted: set[ResourceKey] = set()
        subscriptions: list[Obj] = []
        try:
            for i, step in enumerate(steps):
                reply: dict[str, Any] | None
                if i + 1 < len(steps):
                    next_channel = sequence_api.channel_name(seq.name, i + 1)
                    reply = {"ref": children.channel_reference(template, next_channel, namespace)}
                else:
                    reply = children.destination(current.obj["spec"].get("reply"))
                spec = children.subscription_spec(
                    children.channel_reference(
                        template, sequence_api.channel_name(seq.name, i), namespace
                    ),
                    children.destination(step),
                    reply,
                    step.get("delivery"),
                )
                name = sequence_api.subscription_name(seq.name, i)
                subscriptions.append(
                    await children.ensure_subscription(
                        self.store, current.obj, name, spec, current.track
                    )
                )
                wanted.add(ResourceKey(children.SUBSCRIPTIONS, namespace, name))
        except children.ChildProblem as problem:
            common.mark_subscriptions_failed(status, problem.reason, problem.message, clock=clock)
            return
        sequence_api.propagate_subscription_statuses(status, subscriptions, clock=clock)
        await children.remove_unwanted(self.store, current.obj, (children.SUBSCRIPTIONS,), wanted)
        channel_names = [sequence_api.channel_name(seq.name, i) for i in range(len(steps))]
        await policies.reconcile(
            self.store,
            self._features,
            current,
            self.conditions,
            template,
            channel_names[0],
            [
                (channel_names[i], sequence_api.subscription_name(seq.name, i - 1))
                for i in range(1, len(steps))
            ],
            clock=clock,
        )
