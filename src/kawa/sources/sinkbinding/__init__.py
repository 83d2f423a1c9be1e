"""SinkBinding in kawa: a controller that injects a sink into Services, ContainerSources,
Deployments, Jobs and Pods, and :func:`bind_on_create` that binds a subject as it is created
(Knative's mutating webhook). :func:`sink_bindings` builds it for :mod:`kawa.runtime`, which
runs each returned object's ``run()`` in its task group. How it behaves is in
``docs/sources-container-sinkbinding.md``; :mod:`.env` is also the ContainerSource's way of
giving its Pod the sink.
"""

from __future__ import annotations

from collections.abc import Iterable

from kawa.apis import sources as sources_api
from kawa.apis.conditions import Clock, system_clock
from kawa.apis.meta import namespace_of
from kawa.delivery.sender import TokenSource
from kawa.reconciler.loop import Controller, Watch, in_namespace
from kawa.sources.controller import source_controller, source_recorder
from kawa.sources.sinkbinding import subjects
from kawa.sources.sinkbinding.on_create import bind_on_create
from kawa.sources.sinkbinding.reconciler import SINKBINDINGS, SinkBindingReconciler
from kawa.store.base import ResourceKey, ResourceStore, WatchEvent

__all__ = ["SINKBINDINGS", "bind_on_create", "sink_bindings"]


def sink_bindings(
    store: ResourceStore, *, clock: Clock = system_clock, tokens: TokenSource | None = None
) -> list[Controller]:
    """The SinkBinding controller, ready to ``run()``: it also watches the subjects."""
    kind = sources_api.SINKBINDING
    reconciler = SinkBindingReconciler(
        store, clock, source_recorder(store, kind, clock), tokens=tokens
    )
    bindings_of_namespace = in_namespace(store, SINKBINDINGS)

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
        source_controller(
            kind,
            reconciler,
            watches=[
                Watch(subjects.SERVICE.resource, subject),
                Watch(subjects.CONTAINER_SOURCE.resource, subject),
                Watch(subjects.DEPLOYMENT.resource, subject),
                Watch(subjects.JOB.resource, subject),
                Watch(subjects.POD.resource, bound_pod),
            ],
        )
    ]
