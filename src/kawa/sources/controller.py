"""The controller of a source kind, built the same way for every source.

A source's controller reconciles its own objects, every object its reconciler tracked (the
sinks: :func:`kawa.sources.sink.resolve_sink` records them, found or not, so a sink created
or becoming addressable reconciles the source at once) and whatever else a kind names in
``watches`` (a ContainerSource's Pods, an ApiServerSource's RBAC objects ...). Called by
:func:`kawa.sources.ping.ping_sources`, :func:`kawa.sources.apiserver.apiserver_sources`,
:func:`kawa.sources.container.container_sources` and
:func:`kawa.sources.sinkbinding.sink_bindings`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kawa.apis.conditions import Clock
from kawa.apis.kinds import ResourceKind
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.loop import Controller, Watch, own
from kawa.reconciler.status import StatusReconciler
from kawa.store.base import ResourceStore


def source_recorder(store: ResourceStore, kind: ResourceKind, clock: Clock) -> EventRecorder:
    """The Event recorder of ``kind``'s controller (component ``<singular>-controller``)."""
    return EventRecorder(store, f"{kind.singular}-controller", clock=clock)


def source_controller(
    kind: ResourceKind, reconciler: StatusReconciler[Any], *, watches: Iterable[Watch] = ()
) -> Controller:
    """The controller of ``kind`` (named by its singular), ready to ``run()``."""
    return Controller(
        kind.singular,
        reconciler.store,
        reconciler.reconcile,
        [own(kind.resource), *watches],
        tracker=reconciler.tracker,
    )
