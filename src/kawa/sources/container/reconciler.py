"""The ContainerSource reconciler: keeps the source's Pod running and reports its status.

For each ContainerSource (Knative's conditions, ``Ready`` from both):

- ``SinkBindingReady``: ``spec.sink`` resolves (``status.sinkUri``); else ``False`` with the
  reason (``NotFound``, ``NotAddressable``, ``InvalidSink`` ...). (Knative propagates it from
  the SinkBinding it creates; kawa resolves the sink here.)
- ``ReceiveAdapterReady``: the source's Pod is Ready; ``False`` with the container's reason
  (``CrashLoopBackOff`` ...) when it cannot run; ``Unknown`` while it starts.

The Pod (:func:`kawa.sources.container.pod.adapter_pod`) carries ``K_SINK`` and
``K_CE_OVERRIDES``; when the sink URL, the overrides or the template change, the Pod's name
changes: the new Pod is created, then the old ones deleted (a roll). While the sink does not
resolve, the Pods are left as they are (none is created). Pods owned by a source that no
longer exists (or by an older source of the same name) are deleted, since kawa's store has no
garbage collector for sources. Built by :func:`kawa.sources.container.container_sources`.
"""

from __future__ import annotations

import copy
import logging
from typing import Any, Final

from kawa.apis import meta
from kawa.apis.conditions import FALSE, TRUE, Clock
from kawa.apis.core import pod as core_pod
from kawa.apis.sources import containersource
from kawa.errors import ConflictError, NotFoundError, ValidationError
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.resolver import Unresolvable
from kawa.reconciler.status import write_status
from kawa.sources import sink
from kawa.sources.container import pod as adapter
from kawa.sources.sinkbinding import env
from kawa.store.base import Obj, ResourceKey, ResourceStore

log = logging.getLogger(__name__)

CONTAINERSOURCES: Final = "containersources.sources.knative.dev"
PODS: Final = "pods"
CONDITIONS: Final = containersource.CONTAINERSOURCE_CONDITIONS
SINK_BINDING_READY: Final = containersource.SINK_BINDING_READY
RECEIVE_ADAPTER_READY: Final = containersource.RECEIVE_ADAPTER_READY
INVALID: Final = "Invalid"
WAITING_FOR_SINK: Final = "WaitingForSink"
POD_NOT_OWNED: Final = "PodNotOwned"


async def owned_pods(store: ResourceStore, namespace: str, name: str) -> list[Obj]:
    """The Pods whose ContainerSource owner reference names ``name`` (any uid)."""
    listed = await store.list(PODS, namespace)
    out: list[Obj] = []
    for item in listed.items:
        ref = adapter.owner_of(item)
        if ref is not None and ref.get("name") == name:
            out.append(item)
    return out


class ContainerSourceReconciler:
    def __init__(self, store: ResourceStore, clock: Clock, recorder: EventRecorder) -> None:
        self._store = store
        self._clock = clock
        self._recorder = recorder

    async def reconcile(self, key: ResourceKey) -> None:
        clock = self._clock
        try:
            obj = await self._store.get(key)
        except NotFoundError:
            await self._delete_pods(await owned_pods(self._store, key.namespace, key.name))
            return
        uid = meta.metadata_of(obj).get("uid")
        pods = await owned_pods(self._store, key.namespace, key.name)
        stale = [p for p in pods if (adapter.owner_of(p) or {}).get("uid") != uid]
        await self._delete_pods(stale)
        pods = [p for p in pods if p not in stale]

        stored = obj.get("status")
        status: dict[str, Any] = copy.deepcopy(stored) if isinstance(stored, dict) else {}
        CONDITIONS.initialize(status, clock=clock)
        try:
            source = containersource.parse_containersource(obj)
        except ValidationError as err:
            CONDITIONS.mark_false(status, RECEIVE_ADAPTER_READY, INVALID, str(err), clock=clock)
            await write_status(self._store, key, obj, status, self._recorder)
            return
        set_observed = source.generation
        try:
            url: str | None = await sink.resolve_sink(self._store, obj)
        except Unresolvable as err:
            url = None
            status.pop("sinkUri", None)
            CONDITIONS.mark_false(status, SINK_BINDING_READY, err.reason, err.message, clock=clock)
        else:
            status["sinkUri"] = url
            CONDITIONS.mark_true(status, SINK_BINDING_READY, clock=clock)

        current: Obj | None = None
        if url is not None:
            desired = adapter.adapter_pod(
                containersource.default_containersource(obj), url, env.ce_overrides_json(obj)
            )
            try:
                core_pod.validate_pod(desired)
            except ValidationError as err:
                message = f"spec.template does not make a valid Pod: {err}"
                CONDITIONS.mark_false(status, RECEIVE_ADAPTER_READY, INVALID, message, clock=clock)
                meta.set_observed_generation(status, set_observed)
                await write_status(self._store, key, obj, status, self._recorder)
                return
            try:
                current = await self._ensure(obj, desired, pods)
            except ConflictError:
                name = desired["metadata"]["name"]
                CONDITIONS.mark_false(
                    status,
                    RECEIVE_ADAPTER_READY,
                    POD_NOT_OWNED,
                    f"Pod {name!r} exists and is not owned by this ContainerSource",
                    clock=clock,
                )
                meta.set_observed_generation(status, set_observed)
                await write_status(self._store, key, obj, status, self._recorder)
                return
        elif pods:
            current = max(pods, key=lambda p: str(meta.metadata_of(p).get("creationTimestamp")))

        if current is None:
            CONDITIONS.mark_unknown(
                status,
                RECEIVE_ADAPTER_READY,
                WAITING_FOR_SINK,
                "the container starts once spec.sink resolves",
                clock=clock,
            )
        else:
            state, reason, message = adapter.adapter_condition(current)
            if state == TRUE:
                CONDITIONS.mark_true(status, RECEIVE_ADAPTER_READY, clock=clock)
            elif state == FALSE:
                CONDITIONS.mark_false(status, RECEIVE_ADAPTER_READY, reason, message, clock=clock)
            else:
                CONDITIONS.mark_unknown(status, RECEIVE_ADAPTER_READY, reason, message, clock=clock)
        meta.set_observed_generation(status, set_observed)
        await write_status(self._store, key, obj, status, self._recorder)

    async def _ensure(self, source: Obj, desired: Obj, pods: list[Obj]) -> Obj:
        """Create ``desired`` unless it runs, then delete the source's other Pods; raises
        ConflictError when a Pod of its name exists that is not the source's."""
        name = desired["metadata"]["name"]
        namespace = desired["metadata"]["namespace"]
        current = next((p for p in pods if meta.metadata_of(p).get("name") == name), None)
        if current is None:
            # ConflictError: a Pod of that name that is not this source's
            current = await self._store.create(ResourceKey(PODS, namespace, name), desired)
            await self._recorder.record(source, "Normal", "PodCreated", f"Created Pod {name!r}")
        old = [p for p in pods if meta.metadata_of(p).get("name") != name]
        await self._delete_pods(old, source)
        return current

    async def _delete_pods(self, pods: list[Obj], source: Obj | None = None) -> None:
        for item in pods:
            name = str(meta.metadata_of(item).get("name", ""))
            try:
                await self._store.delete(ResourceKey(PODS, meta.namespace_of(item), name))
            except NotFoundError:
                continue
            if source is not None:
                await self._recorder.record(source, "Normal", "PodDeleted", f"Deleted Pod {name!r}")
            else:
                log.info(
                    "deleted pod %s/%s: its ContainerSource is gone", meta.namespace_of(item), name
                )
