"""The Route reconciler: a Route's URLs and its traffic resolved to Revisions.

``status.url``/``status.address.url`` are kawa's own (``<base>/serving/<ns>/<name>``, served
by the serving data plane); ``status.traffic`` names a ready Revision for every target (see
:func:`kawa.apis.serving.route.resolve_traffic`). A change of any Configuration or Revision
of the namespace re-resolves its Routes. Built by
:func:`kawa.controllers.serving.serving_controllers`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kawa.apis import meta
from kawa.apis.conditions import Clock
from kawa.apis.serving import configuration as configuration_api
from kawa.apis.serving import route as route_api
from kawa.controllers.serving.common import (
    CONFIGURATIONS,
    REVISIONS,
    ROUTES,
)
from kawa.errors import ValidationError
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.loop import Controller, Watch, own_key
from kawa.reconciler.status import load, record_readiness, write_status
from kawa.store.base import ResourceKey, ResourceStore, WatchEvent

CONDITIONS = route_api.CONDITIONS


class RouteReconciler:
    def __init__(
        self, store: ResourceStore, base_url: str, clock: Clock, recorder: EventRecorder
    ) -> None:
        self._store = store
        self._base = base_url.rstrip("/")
        self._clock = clock
        self._recorder = recorder

    async def reconcile(self, key: ResourceKey) -> None:
        clock = self._clock
        loaded = await load(self._store, key, CONDITIONS, clock)
        if loaded is None:
            return
        obj, status = loaded
        route_api.set_urls(status, self._base, key.namespace, key.name)
        try:
            route = configuration_api.parse_route(obj)
        except ValidationError as err:
            CONDITIONS.mark_false(
                status, route_api.ALL_TRAFFIC_ASSIGNED, "Invalid", str(err), clock=clock
            )
            await write_status(self._store, key, obj, status)
            return
        configs = await self._statuses(CONFIGURATIONS, key.namespace)
        revisions = await self._statuses(REVISIONS, key.namespace)
        resolution = route_api.resolve_traffic(
            route.traffic,
            configurations=configs,
            revisions=revisions,
            base_url=self._base,
            namespace=key.namespace,
            name=key.name,
        )
        route_api.mark_traffic(status, resolution, clock=clock)
        meta.set_observed_generation(status, route.generation)
        if await write_status(self._store, key, obj, status):
            await record_readiness(self._recorder, obj, status)

    async def _statuses(self, resource: str, namespace: str) -> dict[str, Mapping[str, Any]]:
        listed = await self._store.list(resource, namespace)
        out: dict[str, Mapping[str, Any]] = {}
        for item in listed.items:
            status = item.get("status")
            out[item["metadata"]["name"]] = status if isinstance(status, Mapping) else {}
        return out


def route_controller(store: ResourceStore, base_url: str, clock: Clock) -> Controller:
    """Watches Routes and the Configurations and Revisions they may name."""
    recorder = EventRecorder(store, "route-controller", clock=clock)
    reconciler = RouteReconciler(store, base_url, clock, recorder)

    async def own(event: WatchEvent) -> Iterable[ResourceKey]:
        return [own_key(event, ROUTES)]

    async def routes_of_namespace(event: WatchEvent) -> Iterable[ResourceKey]:
        namespace = str(event.object["metadata"].get("namespace", ""))
        listed = await store.list(ROUTES, namespace)
        return [ResourceKey(ROUTES, namespace, r["metadata"]["name"]) for r in listed.items]

    return Controller(
        "route",
        store,
        reconciler.reconcile,
        [
            Watch(ROUTES, own),
            Watch(CONFIGURATIONS, routes_of_namespace),
            Watch(REVISIONS, routes_of_namespace),
        ],
    )
