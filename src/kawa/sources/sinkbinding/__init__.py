"""SinkBinding in kawa: a controller that injects a sink into Services, ContainerSources and
Pods. :func:`sink_bindings` builds it for :mod:`kawa.runtime`, which runs each returned
object's ``run()`` in its task group. How it behaves is in
``docs/sources-container-sinkbinding.md``; :mod:`.env` is also the ContainerSource's way of
giving its Pod the sink.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from kawa.apis.conditions import Clock, system_clock
from kawa.apis.meta import metadata_of, namespace_of
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.loop import Controller, Watch, own_key
from kawa.sources.sinkbinding import subjects
from kawa.sources.sinkbinding.reconciler import SINKBINDINGS, SinkBindingReconciler
from kawa.store.base import ResourceKey, ResourceStore, WatchEvent

__all__ = ["SINKBINDINGS", "sink_bindings"]

SINK_KINDS: Final = (
    "brokers.eventing.knative.dev",
    "channels.messaging.knative.dev",
    "inmemorychannels.messaging.knative.dev",
)
"""Kinds a sink most often refers to (besides Services, which are watched as subjects
anyway): a change re-resolves the sinks of their namespace (the periodic resync covers any
other kind)."""


def sink_bindings(store: ResourceStore, *, clock: Clock = system_clock) -> list[Controller]:
    """The SinkBinding controller, ready to ``run()``."""
    recorder = EventRecorder(store, "sinkbinding-controller", clock=clock)
    reconciler = SinkBindingReconciler(store, clock, recorder)

    async def own(event: WatchEvent) -> Iterable[ResourceKey]:
        return [own_key(event, SINKBINDINGS)]

    async def bindings_of_namespace(event: WatchEvent) -> Iterable[ResourceKey]:
        namespace = namespace_of(event.object)
        listed = await store.list(SINKBINDINGS, namespace)
        return [
            ResourceKey(SINKBINDINGS, namespace, str(metadata_of(i).get("name")))
            for i in listed.items
        ]

    async def subject(event: WatchEvent) -> Iterable[ResourceKey]:
        """A Service or ContainerSource concerns the bindings of its namespace, and the one
        that bound it (gone, maybe: then its environment is taken out)."""
        keys = list(await bindings_of_namespace(event))
        bound = subjects.bound_by(event.object)
        if bound is not None:
            keys.append(ResourceKey(SINKBINDINGS, namespace_of(event.object), bound))
        return keys

    async def bound_pod(event: WatchEvent) -> Iterable[ResourceKey]:
        """A Pod concerns the binding that bound it and, when it is new, the bindings of its
        namespace (one may select it); a relabelled Pod waits for the periodic resync."""
        keys: list[ResourceKey] = []
        bound = subjects.bound_by(event.object)
        if bound is not None:
            keys.append(ResourceKey(SINKBINDINGS, namespace_of(event.object), bound))
        if event.type == "ADDED" and subjects.pod_is_bindable(event.object):
            keys += await bindings_of_namespace(event)
        return keys

    return [
        Controller(
            "sinkbinding",
            store,
            reconciler.reconcile,
            [
                Watch(SINKBINDINGS, own),
                Watch(subjects.SERVICE.resource, subject),
                Watch(subjects.CONTAINER_SOURCE.resource, subject),
                Watch(subjects.POD.resource, bound_pod),
                *(Watch(r, bindings_of_namespace) for r in SINK_KINDS),
            ],
        )
    ]
