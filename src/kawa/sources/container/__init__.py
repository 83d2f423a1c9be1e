"""ContainerSource in kawa: a controller that runs each source's container as a Pod.

:func:`container_sources` builds it for :mod:`kawa.runtime`, which runs each returned
object's ``run()`` in its task group. kawa's kubelet (:mod:`kawa.serving.kubelet`) runs the
Pod as a local process. How it behaves is in ``docs/sources-container-sinkbinding.md``.
"""

from __future__ import annotations

from collections.abc import Iterable

from kawa.apis import sources as sources_api
from kawa.apis.conditions import Clock, system_clock
from kawa.apis.meta import namespace_of
from kawa.delivery.sender import TokenSource
from kawa.reconciler.loop import Controller, Watch
from kawa.sources.container import pod as adapter
from kawa.sources.container.reconciler import (
    CONTAINERSOURCES,
    PODS,
    ContainerSourceReconciler,
)
from kawa.sources.controller import source_controller, source_recorder
from kawa.store.base import ResourceKey, ResourceStore, WatchEvent

__all__ = ["CONTAINERSOURCES", "container_sources"]


def container_sources(
    store: ResourceStore, *, clock: Clock = system_clock, tokens: TokenSource | None = None
) -> list[Controller]:
    """The ContainerSource controller, ready to ``run()``: it also watches the sources' Pods."""
    kind = sources_api.CONTAINERSOURCE
    reconciler = ContainerSourceReconciler(
        store, clock, source_recorder(store, kind, clock), tokens=tokens
    )

    async def owner(event: WatchEvent) -> Iterable[ResourceKey]:
        ref = adapter.owner_of(event.object)
        if ref is None:
            return []
        return [ResourceKey(CONTAINERSOURCES, namespace_of(event.object), str(ref.get("name")))]

    return [source_controller(kind, reconciler, watches=[Watch(PODS, owner)])]
