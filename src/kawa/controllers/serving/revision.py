"""The Revision reconciler: a Revision's status from its Pods and its image.

The Pods are the ones labelled ``serving.knative.dev/revision=<name>`` (the autoscaler
creates them, the kubelet runs them and writes their status). The image is checked against
kawa's image catalog (ConfigMap ``knative-serving/config-kawa-images``; a change of it
re-checks every Revision). A Revision that has never had a ready Pod is looked at again when
its progress deadline passes (:mod:`kawa.controllers.serving.progress`, ConfigMap
``knative-serving/config-deployment``) and then fails with ``ProgressDeadlineExceeded``; one
whose initial scale is 0 (ConfigMap ``knative-serving/config-autoscaler``:
``allow-zero-initial-scale``) is available at once and has no deadline. The
conditions are computed by :func:`kawa.apis.serving.revision_status.compute_status`; a change
of ``Ready`` records an Event. Built by :func:`kawa.controllers.serving.serving_controllers`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kawa import images
from kawa.apis import core, meta
from kawa.apis.conditions import Clock
from kawa.apis.serving import autoscaling, revision_status
from kawa.apis.serving import revision as revision_api
from kawa.apis.serving.resources import REVISION_LABEL
from kawa.controllers.serving import progress
from kawa.controllers.serving.common import (
    CONFIGMAPS,
    PODS,
    REVISIONS,
)
from kawa.errors import NotFoundError
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.loop import Controller, LateRequeue, Requeue, Watch, every, own
from kawa.reconciler.status import Reconciling, StatusReconciler
from kawa.store.base import Obj, ResourceKey, ResourceStore, WatchEvent

log = logging.getLogger(__name__)

CONDITIONS = revision_api.REVISION_CONDITIONS
CATALOG_KEY = ResourceKey(CONFIGMAPS, images.CONFIG_NAMESPACE, images.CONFIG_MAP)
DEPLOYMENT_KEY = ResourceKey(CONFIGMAPS, progress.CONFIG_NAMESPACE, progress.CONFIG_MAP)
AUTOSCALER_KEY = ResourceKey(CONFIGMAPS, progress.CONFIG_NAMESPACE, "config-autoscaler")
EVENTS = core.EVENT.resource


class RevisionReconciler(StatusReconciler[Obj]):
    """Its spec is checked at admission and read where used: :meth:`parse` takes it as it is."""

    conditions = CONDITIONS
    invalid_condition = "Ready"

    def __init__(
        self,
        store: ResourceStore,
        clock: Clock,
        recorder: EventRecorder,
        requeue: Requeue | None = None,
    ) -> None:
        super().__init__(store, clock, recorder)
        self._requeue = requeue
        self._catalog: tuple[str, images.ImageCatalog] | None = None
        self._deadline: tuple[str, float] | None = None
        self._autoscaler: tuple[str, autoscaling.AutoscalerConfig] | None = None
        self._scheduled: dict[ResourceKey, float] = {}
        """When each Revision waiting for its deadline is to be looked at (one timer each)."""

    async def default_deadline(self) -> float:
        """``progress-deadline`` of ConfigMap ``config-deployment``, read again on change."""
        try:
            cm = await self.store.get(DEPLOYMENT_KEY)
        except NotFoundError:
            return progress.DEFAULT_DEADLINE
        version = str(cm["metadata"].get("resourceVersion", ""))
        if self._deadline is not None and self._deadline[0] == version:
            return self._deadline[1]
        data = cm.get("data")
        deadline, warnings = progress.deadline_from_configmap(
            data if isinstance(data, Mapping) else None
        )
        for warning in warnings:
            log.warning("%s/%s: %s", progress.CONFIG_NAMESPACE, progress.CONFIG_MAP, warning)
        self._deadline = (version, deadline)
        return deadline

    async def autoscaler_config(self) -> autoscaling.AutoscalerConfig:
        """ConfigMap ``config-autoscaler``, read again on change (its warnings are the serving
        data plane's to log: it applies the same ConfigMap)."""
        try:
            cm = await self.store.get(AUTOSCALER_KEY)
        except NotFoundError:
            return autoscaling.AutoscalerConfig()
        version = str(cm["metadata"].get("resourceVersion", ""))
        if self._autoscaler is not None and self._autoscaler[0] == version:
            return self._autoscaler[1]
        data = cm.get("data")
        config, _ = autoscaling.config_from_configmap(data if isinstance(data, Mapping) else None)
        self._autoscaler = (version, config)
        return config

    async def catalog(self) -> images.ImageCatalog:
        """The image catalog, read again when its ConfigMap changed."""
        try:
            cm = await self.store.get(CATALOG_KEY)
        except NotFoundError:
            return images.DEFAULT_CATALOG
        version = str(cm["metadata"].get("resourceVersion", ""))
        if self._catalog is not None and self._catalog[0] == version:
            return self._catalog[1]
        data = cm.get("data")
        catalog, warnings = images.catalog_from_configmap(
            {str(k): str(v) for k, v in data.items()} if isinstance(data, Mapping) else None
        )
        for warning in warnings:
            log.warning("%s/%s: %s", images.CONFIG_NAMESPACE, images.CONFIG_MAP, warning)
        self._catalog = (version, catalog)
        return catalog

    def parse(self, obj: Obj) -> Obj:
        return obj

    async def observe_deletion(self, key: ResourceKey) -> None:
        self._scheduled.pop(key, None)

    async def reconcile_kind(self, current: Reconciling[Obj]) -> None:
        key, obj, status = current.key, current.obj, current.status
        container = _container(obj)
        image_problem: str | None = None
        try:
            images.resolve_command(await self.catalog(), container)
        except images.ImageNotRunnable as err:
            image_problem = err.message
        listed = await self.store.list(PODS, key.namespace)
        pods = [p for p in listed.items if _labels(p).get(REVISION_LABEL) == key.name]
        exceeded = None
        at_zero = False
        if image_problem is None and not _ever_available(status):
            at_zero = revision_status.starts_at_zero(obj, await self.autoscaler_config())
            if at_zero:
                self._scheduled.pop(key, None)  # no deadline: it waits for its first request
            else:
                exceeded = await self._deadline_exceeded(key, obj, pods)
        revision_status.compute_status(
            status,
            obj,
            pods,
            image_problem=image_problem,
            clock=self.clock,
            deadline_exceeded=exceeded,
            zero_initial_scale=at_zero,
        )
        generation = obj["metadata"].get("generation", 1)
        meta.set_observed_generation(status, generation if isinstance(generation, int) else 1)

    async def _deadline_exceeded(
        self, key: ResourceKey, obj: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]
    ) -> str | None:
        """The message when ``obj`` had no ready Pod within its progress deadline; before
        the deadline, ``None`` and a reconcile is scheduled for when it passes."""
        if any(revision_status.pod_is_ready(p) for p in pods):
            return None
        deadline = progress.revision_deadline(obj, await self.default_deadline())
        left = progress.remaining(obj, deadline, self.clock())
        if left is None:
            return None
        if left > 0:
            due = round(self.clock().timestamp() + left, 1)
            if self._requeue is not None and self._scheduled.get(key) != due:
                self._scheduled[key] = due
                self._requeue(key, left + 0.05)
            return None
        self._scheduled.pop(key, None)
        container = str(_container(obj).get("name") or revision_api.DEFAULT_CONTAINER_NAME)
        events = (await self.store.list(EVENTS, key.namespace)).items
        return progress.exceeded_message(deadline, progress.pod_hint(pods, container, events))


def _ever_available(status: Mapping[str, Any]) -> bool:
    available = CONDITIONS.get(status, revision_status.RESOURCES_AVAILABLE)
    return available is not None and available.is_true


def _container(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = obj.get("spec")
    containers = spec.get("containers") if isinstance(spec, Mapping) else None
    if isinstance(containers, list) and containers and isinstance(containers[0], Mapping):
        return containers[0]
    return {}


def _labels(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    labels = meta.metadata_of(obj).get("labels")
    return labels if isinstance(labels, Mapping) else {}


def revision_controller(store: ResourceStore, clock: Clock) -> Controller:
    """Watches Revisions, their Pods, the image catalog and ConfigMaps ``config-deployment``
    and ``config-autoscaler``."""
    recorder = EventRecorder(store, "revision-controller", clock=clock)
    requeue = LateRequeue()
    reconciler = RevisionReconciler(store, clock, recorder, requeue)

    async def of_pod(event: WatchEvent) -> Iterable[ResourceKey]:
        name = _labels(event.object).get(REVISION_LABEL)
        if not isinstance(name, str) or not name:
            return []
        namespace = str(event.object["metadata"].get("namespace", ""))
        return [ResourceKey(REVISIONS, namespace, name)]

    revisions = every(store, REVISIONS)

    async def all_revisions(event: WatchEvent) -> Iterable[ResourceKey]:
        metadata = event.object["metadata"]
        if (metadata.get("namespace"), metadata.get("name")) not in (
            (CATALOG_KEY.namespace, CATALOG_KEY.name),
            (DEPLOYMENT_KEY.namespace, DEPLOYMENT_KEY.name),
            (AUTOSCALER_KEY.namespace, AUTOSCALER_KEY.name),
        ):
            return []
        return await revisions(event)

    controller = requeue.controller = Controller(
        "revision",
        store,
        reconciler.reconcile,
        [own(REVISIONS), Watch(PODS, of_pod), Watch(CONFIGMAPS, all_revisions)],
    )
    return controller
