"""The Configuration reconciler (Knative's configuration controller, in kawa's shape).

Each generation of a Configuration's template gets one Revision (``<name>-00001``,
``<name>-00002``... or the template's own name; Event ``Created``). The status names the
latest created and the latest ready Revision and is ``Ready`` as the latest created one is
(Events ``LatestReadyUpdate`` and ``LatestCreatedFailed``). Built by
:func:`kawa.controllers.serving.serving_controllers`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kawa.apis import meta
from kawa.apis.conditions import Clock, get_condition
from kawa.apis.serving import configuration as configuration_api
from kawa.apis.serving import configuration_status, resources
from kawa.controllers.serving.common import (
    CONFIGURATIONS,
    REVISIONS,
)
from kawa.errors import ConflictError, KawaError, TemporaryError
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.loop import Controller, Watch, own
from kawa.reconciler.status import Reconciling, StatusReconciler
from kawa.store.base import Obj, ResourceKey, ResourceStore, WatchEvent

CONDITIONS = configuration_api.CONFIGURATION_CONDITIONS


class ConfigurationReconciler(StatusReconciler[configuration_api.Configuration]):
    conditions = CONDITIONS
    invalid_condition = "Ready"

    def __init__(self, store: ResourceStore, clock: Clock, recorder: EventRecorder) -> None:
        super().__init__(store, clock, recorder)
        self._recorder = recorder

    def parse(self, obj: Obj) -> configuration_api.Configuration:
        return configuration_api.parse_configuration(obj)

    async def reconcile_kind(self, current: Reconciling[configuration_api.Configuration]) -> None:
        key, obj, status, config = current.key, current.obj, current.status, current.spec
        clock = self.clock
        name = resources.revision_name(config.name, config.generation, config.template_name)
        listed = await self.store.list(REVISIONS, key.namespace)
        by_name = {r["metadata"]["name"]: r for r in listed.items}
        owned = [r for r in listed.items if resources.is_controlled_by(r, obj)]
        rev = by_name.get(name)
        if rev is None:
            rev = await self._create(obj, name)
            owned.append(rev)
        if not resources.is_controlled_by(rev, obj):
            configuration_status.mark_revision_creation_failed(
                status, f'There is an existing Revision "{name}" that we do not own', clock=clock
            )
        else:
            rev_status = rev.get("status")
            configuration_status.propagate_latest_created(
                status, name, rev_status if isinstance(rev_status, dict) else {}, clock=clock
            )
        old_ready = str(status.get("latestReadyRevisionName") or "")
        latest_ready = configuration_status.latest_ready_revision(owned, old_ready)
        configuration_status.set_latest_ready(status, latest_ready)
        meta.set_observed_generation(status, config.generation)

    async def status_written(self, obj: Obj, status: dict[str, Any]) -> None:
        """Events ``LatestReadyUpdate`` and ``LatestCreatedFailed`` (no readiness Events, as
        Knative's configuration controller)."""
        stored = obj.get("status")
        before_status: Mapping[str, Any] = stored if isinstance(stored, Mapping) else {}
        old_ready = str(before_status.get("latestReadyRevisionName") or "")
        latest_ready = str(status.get("latestReadyRevisionName") or "")
        if latest_ready and latest_ready != old_ready:
            await self._recorder.record(
                obj,
                "Normal",
                "LatestReadyUpdate",
                f'LatestReadyRevisionName updated to "{latest_ready}"',
            )
        before = get_condition(before_status, "Ready")
        after = get_condition(status, "Ready")
        if (
            after is not None
            and after.is_false
            and after.reason == configuration_status.REVISION_FAILED
            and (before is None or not before.is_false)
        ):
            name = status.get("latestCreatedRevisionName")
            await self._recorder.record(
                obj,
                "Warning",
                "LatestCreatedFailed",
                f'Latest created revision "{name}" has failed',
            )

    async def _create(self, config: Obj, name: str) -> Obj:
        desired = resources.make_revision(config)
        key = ResourceKey(REVISIONS, str(config["metadata"].get("namespace", "")), name)
        try:
            created = await self.store.create(key, desired)
        except ConflictError as err:
            raise TemporaryError(str(err), delay=0.0) from err
        except KawaError as err:
            await self._recorder.record(
                config, "Warning", "CreationFailed", f'Failed to create Revision "{name}": {err}'
            )
            raise
        await self._recorder.record(config, "Normal", "Created", f'Created Revision "{name}"')
        return created


def configuration_controller(store: ResourceStore, clock: Clock) -> Controller:
    """Watches Configurations and the Revisions they own."""
    recorder = EventRecorder(store, "configuration-controller", clock=clock)
    reconciler = ConfigurationReconciler(store, clock, recorder)

    async def owner(event: WatchEvent) -> Iterable[ResourceKey]:
        ref = resources.controller_of(event.object)
        if ref is None or ref.get("kind") != configuration_api.CONFIGURATION_KIND:
            return []
        namespace = str(event.object["metadata"].get("namespace", ""))
        return [ResourceKey(CONFIGURATIONS, namespace, str(ref.get("name", "")))]

    return Controller(
        "configuration",
        store,
        reconciler.reconcile,
        [own(CONFIGURATIONS), Watch(REVISIONS, owner)],
    )
