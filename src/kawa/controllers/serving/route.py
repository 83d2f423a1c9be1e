"""The Route reconciler: a Route's URLs and its traffic resolved to Revisions.

``status.url``/``status.address.url`` are kawa's own (``<base>/serving/<ns>/<name>``, served
by the serving data plane); ``status.traffic`` names a ready Revision for every target (see
:func:`kawa.apis.serving.route.resolve_traffic`). A change of any Configuration or Revision
of the namespace re-resolves its Routes. Built by
:func:`kawa.controllers.serving.serving_controllers`.
"""

from __future__ import annotations

from collections.abc import Mapping
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
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.loop import Controller, Watch, in_namespace, own
from kawa.reconciler.status import Reconciling, StatusReconciler
from kawa.store.base import Obj, ResourceKey, ResourceStore

CONDITIONS = route_api.CONDITIONS


class RouteReconciler(StatusReconciler[configuration_api.Route]):
    conditions = CONDITIONS
    invalid_condition = route_api.ALL_TRAFFIC_ASSIGNED

    def __init__(
        self, store: ResourceStore, base_url: str, clock: Clock, recorder: EventRecorder
    ) -> None:
        super().__init__(store, clock, recorder)
        self._base = base_url.rstrip("/")

    async def prepare(self, key: ResourceKey, obj: Obj, status: dict[str, Any]) -> None:
        route_api.set_urls(status, self._base, key.namespace, key.name)

    def parse(self, obj: Obj) -> configuration_api.Route:
        return configuration_api.parse_route(obj)

    async def reconcile_kind(self, current: Reconciling[configuration_api.Route]) -> None:
        key, route = current.key, current.spec
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
        route_api.mark_traffic(current.status, resolution, clock=self.clock)
        meta.set_observed_generation(current.status, route.generation)

    async def _statuses(self, resource: str, namespace: str) -> dict[str, Mapping[str, Any]]:
        listed = await self.store.list(resource, namespace)
        out: dict[str, Mapping[str, Any]] = {}
        for item in listed.items:
            status = item.get("status")
            out[item["metadata"]["name"]] = status if isinstance(status, Mapping) else {}
        return out


def route_controller(store: ResourceStore, base_url: str, clock: Clock) -> Controller:
    """Watches Routes and the Configurations and Revisions they may name."""
    recorder = EventRecorder(store, "route-controller", clock=clock)
    reconciler = RouteReconciler(store, base_url, clock, recorder)

    return Controller(
        "route",
        store,
        reconciler.reconcile,
        [
            own(ROUTES),
            Watch(CONFIGURATIONS, in_namespace(store, ROUTES)),
            Watch(REVISIONS, in_namespace(store, ROUTES)),
        ],
    )
