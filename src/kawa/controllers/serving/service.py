"""The Service reconciler (Knative's service controller, in kawa's shape).

A Service owns a Configuration and a Route of its name: they are created (Event
``Created``), kept in line with the Service's template and traffic, and their status is
mirrored into the Service's (``url``, ``address``, ``latestCreatedRevisionName``,
``latestReadyRevisionName``, ``traffic``; conditions ``ConfigurationsReady``,
``RoutesReady``, ``Ready``). Built by :func:`kawa.controllers.serving.serving_controllers`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kawa.apis.conditions import Clock
from kawa.apis.meta import set_observed_generation
from kawa.apis.serving import configuration as configuration_api
from kawa.apis.serving import resources
from kawa.apis.serving import service as service_api
from kawa.controllers.serving.common import (
    CONFIGURATIONS,
    ROUTES,
    SERVICES,
    differs,
    merged,
    update_child,
)
from kawa.errors import ConflictError, KawaError, NotFoundError, TemporaryError
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.loop import Controller, Watch, own
from kawa.reconciler.status import Reconciling, StatusReconciler
from kawa.store.base import Obj, ResourceKey, ResourceStore, WatchEvent

CONDITIONS = service_api.SERVICE_CONDITIONS


class ServiceReconciler(StatusReconciler[service_api.Service]):
    conditions = CONDITIONS
    invalid_condition = service_api.CONFIGURATIONS_READY

    def __init__(self, store: ResourceStore, clock: Clock, recorder: EventRecorder) -> None:
        super().__init__(store, clock, recorder)
        self._recorder = recorder

    def parse(self, obj: Obj) -> service_api.Service:
        return service_api.parse_service(obj)

    async def reconcile_kind(self, current: Reconciling[service_api.Service]) -> None:
        key, obj, status, svc = current.key, current.obj, current.status, current.spec
        clock = self.clock
        config = await self._child(
            obj, ResourceKey(CONFIGURATIONS, key.namespace, svc.name), resources.make_configuration
        )
        route = await self._child(
            obj, ResourceKey(ROUTES, key.namespace, svc.name), resources.make_route
        )
        latest_ready = ""
        if config is None:
            service_api.mark_not_owned(
                status, configuration_api.CONFIGURATION_KIND, svc.name, clock=clock
            )
        else:
            config_status = _status(config)
            latest_ready = str(config_status.get("latestReadyRevisionName") or "")
            service_api.propagate_configuration_status(status, config_status, clock=clock)
            if not _observed(config):
                service_api.mark_not_reconciled(
                    status, configuration_api.CONFIGURATION_KIND, clock=clock
                )
        if route is None:
            service_api.mark_not_owned(status, configuration_api.ROUTE_KIND, svc.name, clock=clock)
        else:
            route_status = _status(route)
            service_api.propagate_route_status(status, route_status, clock=clock)
            if not _observed(route):
                service_api.mark_not_reconciled(status, configuration_api.ROUTE_KIND, clock=clock)
            else:
                service_api.check_traffic_migrated(status, route_status, latest_ready, clock=clock)
        set_observed_generation(status, svc.generation)

    async def _child(self, service: Obj, key: ResourceKey, make: Any) -> Obj | None:
        """The child ``make(service)`` describes, created or brought up to date; ``None``
        when an object of that name exists that the Service does not control."""
        desired: Obj = make(service)
        kind = str(desired["kind"])
        try:
            existing = await self.store.get(key)
        except NotFoundError:
            try:
                created = await self.store.create(key, desired)
            except ConflictError as err:
                raise TemporaryError(str(err), delay=0.0) from err
            except KawaError as err:
                await self._recorder.record(
                    service,
                    "Warning",
                    "CreationFailed",
                    f'Failed to create {kind} "{key.name}": {err}',
                )
                raise
            await self._recorder.record(
                service, "Normal", "Created", f'Created {kind} "{key.name}"'
            )
            return created
        if not resources.is_controlled_by(existing, service):
            return None
        if differs(existing, desired):
            return await update_child(self.store, key, merged(existing, desired))
        return existing


def _status(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    status = obj.get("status")
    return status if isinstance(status, Mapping) else {}


def _observed(obj: Mapping[str, Any]) -> bool:
    generation = (obj.get("metadata") or {}).get("generation", 1)
    return bool(_status(obj).get("observedGeneration") == generation)


def service_controller(store: ResourceStore, clock: Clock) -> Controller:
    """Watches Services and the Configurations and Routes they own."""
    reconciler = ServiceReconciler(
        store, clock, EventRecorder(store, "service-controller", clock=clock)
    )

    async def owner(event: WatchEvent) -> Iterable[ResourceKey]:
        ref = resources.controller_of(event.object)
        if ref is None or ref.get("kind") != service_api.KIND:
            return []
        namespace = str(event.object["metadata"].get("namespace", ""))
        return [ResourceKey(SERVICES, namespace, str(ref.get("name", "")))]

    return Controller(
        "service",
        store,
        reconciler.reconcile,
        [own(SERVICES), Watch(CONFIGURATIONS, owner), Watch(ROUTES, owner)],
    )
