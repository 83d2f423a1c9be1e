"""The autoscaler of one Revision: samples its concurrency, decides, creates and deletes Pods.

Knative runs a Deployment per Revision and a KPA that sets its replicas; kawa's
:class:`RevisionScaler` is both. :class:`~kawa.serving.dataplane.ServingDataPlane` makes one
per Revision in the store and feeds it the Revision's Pods (label
``serving.knative.dev/revision``); the scaler keeps the router's
:class:`~kawa.serving.activator.Throttler` endpoints in step with the ready ones.

Every ``tick-interval`` it takes the throttler's average concurrency as a sample, runs the
pure KPA step :func:`kawa.serving.kpa.decide` and makes the Pod count match. It
never creates more Pods than the requests in flight plus waiting at the peak of the last tick
(or min-/initial-scale): with a target below one request per Pod, the KPA's answer to a burst
would be more processes than requests.

* up: new Pods from :func:`kawa.serving.revision_pods.revision_pod` on a free loopback port, unless
  the image cannot run here (then requests fail fast with the catalog's message);
* down: surplus Pods (not ready ones first, then the newest) leave the endpoints at once and
  are deleted from the store when their requests in flight are done (at most the Revision's
  ``timeoutSeconds`` later); the kubelet stops their processes.
* lost: a Pod failed ``NodeLost`` (its node stopped renewing its Lease,
  :mod:`kawa.controllers.nodes.lifecycle`) leaves the scale at once: a replacement is made,
  and the lost Pod deleted.

A request for a Revision without instances wakes the scaler at once (scale from zero). A new
Revision (never ``ResourcesAvailable``) starts with ``initial-scale`` Pods and keeps at least
that many until they were all ready once and a stable window (the current one: a changed
``stable-window`` or ``window`` applies) has passed since the scaler started.

Several processes sharing a store (nodes, workers) each run a scaler per Revision, for their
own router's throttler, but only the one whose :class:`~kawa.serving.concurrency.Scaling`
says it decides (the elected leader) creates and deletes Pods: it adds the others' latest
reports to its own sample. The others send a :class:`~kawa.serving.concurrency.Report` each
tick instead, and at once when a request waits for a Revision without instances. A process
that has just begun deciding scales up but not down for a stable window (its window lacks
the others' past). The Pods it creates carry its identity in :data:`SCALED_BY_ANNOTATION`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import socket
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from kawa import images
from kawa.apis import core
from kawa.apis.serving import autoscaling
from kawa.errors import ConflictError, KawaError, NotFoundError
from kawa.serving import concurrency, kpa
from kawa.serving import revision_pods as pods
from kawa.serving.activator import Throttler
from kawa.store.base import Obj, ResourceKey, ResourceStore

log = logging.getLogger(__name__)

PODS = core.POD.resource
SCALED_BY_ANNOTATION = "autoscaling.kawa.dev/scaled-by"
"""On a Revision's Pod made by one of several processes: the identity of the one that decided
it (the leader then)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _node_lost(pod: Mapping[str, Any]) -> bool:
    """Failed by the node lifecycle controller: its node stopped renewing its Lease."""
    status = pod.get("status") or {}
    return bool(status.get("phase") == "Failed" and status.get("reason") == "NodeLost")


def _ever_available(revision: Mapping[str, Any]) -> bool:
    status = revision.get("status") or {}
    for condition in status.get("conditions") or []:
        if isinstance(condition, Mapping) and condition.get("type") == "ResourcesAvailable":
            return condition.get("status") == "True"
    return False


def _timeout(revision: Mapping[str, Any]) -> float:
    value = (revision.get("spec") or {}).get("timeoutSeconds")
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return float(value)
    return 300.0


class RevisionScaler:
    """Pods and scaling of one Revision (see the module docstring). Run :meth:`run` in a task."""

    def __init__(
        self,
        store: ResourceStore,
        revision: Obj,
        settings: autoscaling.ScalingSettings,
        *,
        catalog: images.ImageCatalog,
        clock: Callable[[], float],
        scaling: concurrency.Scaling | None = None,
    ) -> None:
        metadata = revision["metadata"]
        self.namespace: str = metadata.get("namespace", "")
        self.name: str = metadata["name"]
        self._store = store
        self._revision = revision
        self._settings = settings
        self._catalog = catalog
        self._clock = clock
        self._scaling = scaling or concurrency.Scaling()
        self._reported = False
        """Whether the last report sent said the Revision was busy here."""
        self._poked = asyncio.Event()
        self.throttler = Throttler(
            f"{self.namespace}/{self.name}",
            container_concurrency=settings.container_concurrency,
            capacity=settings.activator_capacity,
            clock=clock,
            on_demand=self.poke,
        )
        self.pods: dict[str, Obj] = {}
        self._order: dict[str, int] = {}
        self._created = 0
        self._draining: set[str] = set()
        self._drainers: set[asyncio.Task[None]] = set()
        self._samples: deque[kpa.Sample] = deque()
        self._initial = not _ever_available(revision) and settings.initial_scale > 0
        """Holding initial-scale: until that many Pods were ready and a stable window passed
        (the KPA then has a full window of samples)."""
        self._initial_reached = False
        self._started_at = clock()
        self._state = kpa.ScaleState(last_active=clock() if self._initial else None)
        self._started = False
        self._image_problem: str | None = None
        self._check_image()
        self.desired: int | None = None
        """The last decided scale (``None``: another process decides; for metrics)."""

    @property
    def settings(self) -> autoscaling.ScalingSettings:
        return self._settings

    @property
    def timeout(self) -> float:
        """The Revision's request timeout in seconds."""
        return _timeout(self._revision)

    @property
    def owners(self) -> tuple[str, str]:
        """The Revision's Configuration and Service names ("" when it has none)."""
        labels = self._revision.get("metadata", {}).get("labels") or {}
        return (
            str(labels.get("serving.knative.dev/configuration", "")),
            str(labels.get("serving.knative.dev/service", "")),
        )

    def current(self) -> list[str]:
        """Pods counted as the Revision's scale (not being drained)."""
        return [name for name in self.pods if name not in self._draining]

    def ready(self) -> list[str]:
        return [n for n in self.current() if pods.pod_is_ready(self.pods[n])]

    # -- inputs from the data plane -------------------------------------------------------

    def update(
        self,
        revision: Obj,
        settings: autoscaling.ScalingSettings,
        catalog: images.ImageCatalog,
    ) -> None:
        self._revision = revision
        self._settings = settings
        self._catalog = catalog
        self.throttler.container_concurrency = settings.container_concurrency
        self.throttler.capacity = settings.activator_capacity
        self._check_image()
        self._sync_endpoints()

    def on_pod(self, pod: Obj, *, deleted: bool) -> None:
        name = pod["metadata"]["name"]
        if deleted:
            self.pods.pop(name, None)
            self._order.pop(name, None)
            self._draining.discard(name)
        else:
            if name not in self.pods and self._state.last_active is None:
                self._state = kpa.ScaleState(self._clock())  # adopted: keep it a while
            self.pods[name] = pod
            self._order.setdefault(name, -1)
            if _node_lost(pod) and name not in self._draining and self._scaling.deciding:
                self._drain(name)  # its node is gone: replaced now, then deleted
                self.poke()
        self._sync_endpoints()

    def poke(self) -> None:
        """Decide now (a request waits and the Revision has no instance)."""
        self._poked.set()

    def _sync_endpoints(self) -> None:
        ready: dict[str, tuple[str, int]] = {}
        for name in self.ready():
            endpoint = pods.pod_endpoint(self.pods[name])
            if endpoint is not None:
                ready[name] = endpoint
        self.throttler.set_endpoints(ready)
        if self._initial and len(ready) >= self._settings.initial_scale:
            self._initial_reached = True

    def _check_image(self) -> None:
        containers = (self._revision.get("spec") or {}).get("containers") or [{}]
        try:
            images.resolve_command(self._catalog, containers[0])
        except images.ImageNotRunnable as exc:
            if self._image_problem != exc.message:
                log.warning("revision %s/%s: %s", self.namespace, self.name, exc.message)
            self._image_problem = exc.message
        else:
            self._image_problem = None
        self.throttler.set_unavailable(self._image_problem)

    # -- the loop ------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            while True:
                await self.tick()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._settings.tick_interval):
                        await self._poked.wait()
                self._poked.clear()
        finally:
            for task in self._drainers:
                task.cancel()

    async def tick(self) -> None:
        """One decision, then make the Pod count match it; or, when another process decides,
        one report to it."""
        now = self._clock()
        settings = self._settings
        scaling = self._scaling
        local = self.throttler.take_sample(now)
        if not scaling.deciding:
            self.desired = None
            self._samples.clear()
            await self._report(local)
            return
        self._reported = False
        remote = scaling.reports.total(
            self.namespace, self.name, now=now, max_age=concurrency.max_age(settings.tick_interval)
        )
        self._samples.append(kpa.Sample(now, local + remote.concurrency))
        while self._samples and self._samples[0].time <= now - settings.stable_window:
            self._samples.popleft()
        decision = kpa.decide(
            self._samples,
            now=now,
            ready=len(self.throttler.endpoints),
            state=self._state,
            settings=settings,
        )
        self._state = decision.state
        desired = decision.desired
        current = len(self.current())
        peak = self.throttler.sample_peak + remote.peak
        in_flight = self.throttler.concurrency + remote.now
        if desired > current:
            # no more processes than requests: the peak of in flight plus waiting this tick
            demand = max(peak, in_flight)
            desired = min(desired, max(current, math.ceil(demand), settings.min_scale))
        if self._initial:
            if self._initial_reached and now >= self._started_at + settings.stable_window:
                self._initial = False
            else:
                desired = max(desired, settings.initial_scale)
        if (in_flight or peak) and not current:
            desired = max(desired, 1)
        if desired < current and scaling.holding(now, settings.stable_window):
            desired = current
        self.desired = desired
        await self.scale_to(desired)

    async def _report(self, local: float) -> None:
        """Tell the deciding process what this one saw (nothing while idle, after once)."""
        scaling = self._scaling
        if scaling.publish is None:
            return
        report = concurrency.Report(
            scaling.sender,
            self.namespace,
            self.name,
            local,
            self.throttler.sample_peak,
            self.throttler.concurrency,
        )
        if report.active or self._reported:
            self._reported = report.active
            await scaling.publish(report)

    async def scale_to(self, desired: int) -> None:
        current = self.current()
        if desired > len(current):
            if self._image_problem is not None:
                return
            for _ in range(desired - len(current)):
                await self._create_pod()
        elif desired < len(current):
            for name in self._victims(current, len(current) - desired):
                self._drain(name)

    def _victims(self, current: list[str], count: int) -> list[str]:
        def key(name: str) -> tuple[bool, int, str]:
            pod = self.pods[name]
            created = str(pod["metadata"].get("creationTimestamp", ""))
            return (pods.pod_is_ready(pod), -self._order.get(name, -1), created)

        # not ready first, then the newest (created last by this scaler, then by timestamp)
        ordered = sorted(current, key=key)
        return ordered[:count]

    async def _create_pod(self) -> None:
        for _ in range(3):
            name = pods.pod_name(self.name, secrets.token_hex(5))
            pod = pods.revision_pod(self._revision, name=name, port=free_port())
            if self._scaling.shared:
                pod["metadata"]["annotations"][SCALED_BY_ANNOTATION] = self._scaling.sender
            try:
                created = await self._store.create(ResourceKey(PODS, self.namespace, name), pod)
            except ConflictError:
                continue
            except KawaError as exc:
                log.error("revision %s/%s: cannot create a pod: %s", self.namespace, self.name, exc)
                return
            self._created += 1
            self._order[name] = self._created
            self.pods.setdefault(name, created)
            return

    def _drain(self, name: str) -> None:
        self._draining.add(name)
        endpoint = self.throttler.drain(name)
        task = asyncio.get_running_loop().create_task(self._delete_when_idle(name, endpoint))
        self._drainers.add(task)
        task.add_done_callback(self._drainers.discard)

    async def _delete_when_idle(self, name: str, endpoint: Any) -> None:
        if endpoint is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.timeout):
                    await endpoint.idle.wait()
        try:
            await self._store.delete(ResourceKey(PODS, self.namespace, name))
        except NotFoundError:
            pass
        except KawaError as exc:
            log.error(
                "revision %s/%s: cannot delete pod %s: %s", self.namespace, self.name, name, exc
            )
            self._draining.discard(name)
