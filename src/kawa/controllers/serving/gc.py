"""Garbage collection of the serving chain: an object whose serving owner is gone goes too.

Kubernetes' garbage collector deletes dependents through ``metadata.ownerReferences``; kawa's
store deletes at once, so this controller does it for the serving kinds: deleting a Service
deletes its Configuration and Route, a Configuration its Revisions, a Revision its Pods. A
dependent is deleted when every owner it names is a serving Service, Configuration or
Revision and none of them exists any more (by name and uid), so dependents orphaned while
kawa was down go at the next start. Built by
:func:`kawa.controllers.serving.serving_controllers`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, Final

from kawa.apis import meta
from kawa.apis.serving.resources import GROUP
from kawa.controllers.serving.common import (
    CONFIGURATIONS,
    PODS,
    RESOURCE_OF_KIND,
    REVISIONS,
    ROUTES,
    SERVICES,
)
from kawa.errors import NotFoundError
from kawa.reconciler.loop import Controller, Watch, own_key
from kawa.store.base import ResourceKey, ResourceStore, WatchEvent

log = logging.getLogger(__name__)

DEPENDENTS: Final = {
    SERVICES: (CONFIGURATIONS, ROUTES),
    CONFIGURATIONS: (REVISIONS,),
    REVISIONS: (PODS,),
}
"""Owner resource -> the resources of its dependents."""
_OWNER_KINDS: Final = frozenset({"Service", "Configuration", "Revision"})


def _owner_refs(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    refs = meta.metadata_of(obj).get("ownerReferences")
    return [r for r in refs if isinstance(r, Mapping)] if isinstance(refs, list) else []


def _serving_owner(ref: Mapping[str, Any]) -> bool:
    return str(ref.get("apiVersion", "")).split("/")[0] == GROUP and ref.get("kind") in _OWNER_KINDS


class Collector:
    def __init__(self, store: ResourceStore) -> None:
        self._store = store

    async def reconcile(self, key: ResourceKey) -> None:
        try:
            obj = await self._store.get(key)
        except NotFoundError:
            return
        refs = _owner_refs(obj)
        if not refs or not all(_serving_owner(r) for r in refs):
            return
        for ref in refs:
            owner_key = ResourceKey(
                RESOURCE_OF_KIND[str(ref["kind"])], key.namespace, str(ref.get("name", ""))
            )
            try:
                owner = await self._store.get(owner_key)
            except NotFoundError:
                continue
            if owner["metadata"].get("uid") == ref.get("uid"):
                return
        try:
            await self._store.delete(key)
        except NotFoundError:
            return
        log.info("deleted %s: its owner is gone", key)


def gc_controller(store: ResourceStore) -> Controller:
    """Watches owners (deletions) and dependents (new ones, and all at start)."""
    collector = Collector(store)

    def dependent(resource: str) -> Watch:
        async def keys(event: WatchEvent) -> Iterable[ResourceKey]:
            if event.type != "ADDED" or not any(
                _serving_owner(r) for r in _owner_refs(event.object)
            ):
                return []
            return [own_key(event, resource)]

        return Watch(resource, keys)

    def owner(resource: str) -> Watch:
        async def keys(event: WatchEvent) -> Iterable[ResourceKey]:
            if event.type != "DELETED":
                return []
            uid = event.object["metadata"].get("uid")
            namespace = str(event.object["metadata"].get("namespace", ""))
            out: list[ResourceKey] = []
            for child in DEPENDENTS[resource]:
                listed = await store.list(child, namespace)
                out += [
                    ResourceKey(child, namespace, item["metadata"]["name"])
                    for item in listed.items
                    if any(r.get("uid") == uid for r in _owner_refs(item))
                ]
            return out

        return Watch(resource, keys)

    watches = [owner(r) for r in DEPENDENTS] + [
        dependent(r) for r in (CONFIGURATIONS, ROUTES, REVISIONS, PODS)
    ]
    return Controller("serving-gc", store, collector.reconcile, watches, resync=60.0)
