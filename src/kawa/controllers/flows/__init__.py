"""The flows control plane: Sequence and Parallel (``flows.knative.dev/v1``).

A flow is wiring only: it creates channels (of its ``spec.channelTemplate`` kind) and
Subscriptions, named and owned as Knative's controllers do, and reports their readiness; the
channels' data plane carries the events. :mod:`.sequence` and :mod:`.parallel` are the
reconcilers, :mod:`.children` what they share. :func:`flows_controllers` builds them for
:mod:`kawa.runtime`.
"""

from __future__ import annotations

from kawa.apis import flows
from kawa.apis.conditions import Clock, system_clock
from kawa.controllers.flows.parallel import ParallelReconciler
from kawa.controllers.flows.sequence import SequenceReconciler
from kawa.reconciler.eventpolicies import receivers_of_policies
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.loop import Controller, own
from kawa.store.base import ResourceStore


def flows_controllers(store: ResourceStore, *, clock: Clock = system_clock) -> list[Controller]:
    """The Sequence and Parallel controllers, ready to ``run()``. Each flow tracks its
    channels and subscriptions (found or not): a change of any of them, its deletion
    included, reconciles the flow at once; so does a change of an EventPolicy of its
    namespace (:mod:`.policies`)."""
    recorder = EventRecorder(store, "eventing-controller", clock=clock)
    sequences = SequenceReconciler(store, clock, recorder)
    parallels = ParallelReconciler(store, clock, recorder)
    return [
        Controller(
            name,
            store,
            reconciler.reconcile,
            [own(resource), receivers_of_policies(store, resource)],
            tracker=reconciler.tracker,
        )
        for name, reconciler, resource in (
            ("sequence", sequences, flows.SEQUENCE.resource),
            ("parallel", parallels, flows.PARALLEL.resource),
        )
    ]


__all__ = ["ParallelReconciler", "SequenceReconciler", "flows_controllers"]
