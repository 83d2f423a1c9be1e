"""ContainerSource in kawa: a controller that runs each source's container as a Pod.

:func:`container_sources` builds it for :mod:`kawa.runtime`, which runs each returned
object's ``run()`` in its task group. kawa's kubelet (:mod:`kawa.serving.kubelet`) runs the
Pod as a local process. How it behaves is in ``docs/sources-container-sinkbinding.md``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from kawa.apis.conditions import Clock, system_clock
from kawa.apis.meta import metadata_of, namespace_of
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.loop import Controller, Watch, own_key
from kawa.sources.container import pod as adapter
from kawa.sources.container.reconciler import (
    CONTAINERSOURCES,
    PODS,
    ContainerSourceReconciler,
)
from kawa.store.base import ResourceKey, ResourceStore, WatchEvent

__all__ = ["CONTAINERSOURCES", "container_sources"]

ADDRESSABLES: Final = (
    "brokers.eventing.knative.dev",
    "services.serving.knative.dev",
    "channels.messaging.knative.dev",
    "inmemorychannels.messaging.knative.dev",
)
"""Kinds a sink most often refers to: a change re-resolves the sinks of their namespace (the
controller's periodic resync covers any other kind)."""


def container_sources(store: ResourceStore, *, clock: Clock = system_clock) -> list[Controller]:
    """The ContainerSource controller, ready to ``run()``."""
    recorder = EventRecorder(store, "containersource-controller", clock=clock)
    reconciler = ContainerSourceReconciler(store, clock, recorder)

    async def own(event: WatchEvent) -> Iterable[ResourceKey]:
        return [own_key(event, CONTAINERSOURCES)]

    async def owner(event: WatchEvent) -> Iterable[ResourceKey]:
        ref = adapter.owner_of(event.object)
        if ref is None:
            return []
        return [ResourceKey(CONTAINERSOURCES, namespace_of(event.object), str(ref.get("name")))]

    async def sources_of_namespace(event: WatchEvent) -> Iterable[ResourceKey]:
        namespace = namespace_of(event.object)
        listed = await store.list(CONTAINERSOURCES, namespace)
        return [
            ResourceKey(CONTAINERSOURCES, namespace, str(metadata_of(i).get("name")))
            for i in listed.items
        ]

    return [
        Controller(
            "containersource",
            store,
            reconciler.reconcile,
            [
                Watch(CONTAINERSOURCES, own),
                Watch(PODS, owner),
                *(Watch(r, sources_of_namespace) for r in ADDRESSABLES),
            ],
        )
    ]
