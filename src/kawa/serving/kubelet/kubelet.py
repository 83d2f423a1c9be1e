"""The node agent: runs the core/v1 Pods of the store as local child processes.

:meth:`Kubelet.run` first kills what a previous kawa left running (pid files), reads its
ConfigMaps (``knative-serving/config-kawa-kubelet`` for settings,
``knative-serving/config-kawa-images`` for the image catalog), lists the Pods and starts a
:class:`~.worker.PodWorker` for each one bound to its node (``spec.nodeName``, set by the
scheduler on the leader, :mod:`kawa.controllers.nodes`) that is not finished, then sets
:attr:`ready` and follows the watches: a Pod bound to its node gets a worker; one the node
lifecycle controller marked ``NodeLost`` (this node was unreachable) is stopped; a Pod deleted
gracefully (a ``deletionTimestamp``, set by the API server) is stopped (Event ``Killing``,
SIGTERM, then SIGKILL after ``deletionGracePeriodSeconds``, at most 30 s) and then removed from
the store with its logs; a Pod removed from the store at once (the autoscaler, garbage
collectors, ``--force``) is stopped the same way after the fact; a changed ConfigMap applies at
once. When cancelled, it stops every container (short grace) before returning, waiting at most
:data:`SHUTDOWN_TIMEOUT` (what has not stopped by then is killed and logged).

A watchdog process (:mod:`.watchdog`) runs beside it: should kawa die, even by SIGKILL, it
kills every process the containers started (the next run does it too, at startup).

:meth:`Kubelet.pod_log` serves the ``log`` subresource (:mod:`.log_handler`),
:meth:`Kubelet.pod_exec` and :meth:`Kubelet.pod_port_forward` ``exec`` and ``portforward``
(:mod:`.exec_handler`, through :attr:`Kubelet.streaming`). Created and run by
:mod:`kawa.runtime`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from kawa import images
from kawa.apis import core
from kawa.apis.conditions import Clock, system_clock
from kawa.apis.core import pod as core_pod
from kawa.apis.core import pod_status
from kawa.errors import KawaError, NotFoundError
from kawa.reconciler.informer import inform
from kawa.serving.kubelet import config as config_mod
from kawa.serving.kubelet import exec_handler, log_handler, node_status, process, steps, volumes
from kawa.serving.kubelet.container import ContainerRunner
from kawa.serving.kubelet.node import Node
from kawa.serving.kubelet.podman import Podman
from kawa.serving.kubelet.podman_streaming import SCHEME, PodmanStreaming
from kawa.serving.kubelet.runtimes import Runtimes
from kawa.serving.kubelet.status import TERMINAL
from kawa.serving.kubelet.streaming import PerContainer, ProcessStreaming, StreamingRuntime, Target
from kawa.serving.kubelet.worker import PODS, PodWorker
from kawa.store.base import Obj, ResourceKey, ResourceStore, WatchEvent

log = logging.getLogger(__name__)

CONFIGMAPS: Final = core.CONFIG_MAP.resource
SHUTDOWN_GRACE: Final = 2.0
"""Seconds a container gets between SIGTERM and SIGKILL when kawa stops."""
SHUTDOWN_TIMEOUT: Final = 20.0
"""Seconds kawa waits for its Pods to stop before it kills what is left and goes on (a Pod
worker that does not stop is a bug: it is logged, it does not hang kawa's shutdown)."""

VOLUME_SYNC_INTERVAL: Final = 10.0
"""Seconds between two refreshes of the running Pods' configMap and secret volumes (Kubernetes'
kubelet syncs them about every minute; a renewed OIDC token must arrive well within its hour)."""

LogHandler = Callable[[web.Request, Any], Awaitable[web.StreamResponse]]


class Kubelet:
    """Runs the Pods bound to ``node_name`` as processes; see the module."""

    def __init__(
        self,
        store: ResourceStore,
        data_dir: Path,
        *,
        node_name: str = core_pod.NODE_NAME,
        address: str = node_status.DEFAULT_ADDRESS,
        clock: Clock = system_clock,
        podman: Podman | None = None,
    ) -> None:
        self.store = store
        self.node = Node(
            store,
            Path(data_dir),
            node_name=node_name,
            clock=clock,
            address=address,
            podman=podman,
        )
        self.runtimes = Runtimes.of(podman)
        self.volume_sync_interval = VOLUME_SYNC_INTERVAL
        self.ready = asyncio.Event()
        self.workers: dict[tuple[str, str], PodWorker] = {}
        self._stopping: dict[asyncio.Task[None], PodWorker | None] = {}
        """Tasks stopping (and removing) Pods, with the worker each stops."""
        self._terminating: set[tuple[str, str]] = set()
        self._watchdog: process.Watchdog | None = None
        in_podman = {SCHEME: PodmanStreaming(podman)} if podman is not None else {}
        self.streaming: StreamingRuntime = PerContainer(in_podman, ProcessStreaming())
        """How ``kubectl exec`` and ``port-forward`` reach containers (:mod:`.streaming`,
        :mod:`.podman_streaming` for those podman runs)."""

    # -- run -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run Pods until cancelled, then stop every container."""
        process.kill_leftovers(self.node.node_id, self.node.pids)
        if self.node.podman is not None:
            await asyncio.to_thread(self.node.podman.sweep, self.node.node_id)
        self._watchdog = process.Watchdog(self.node.node_id, self.node.pids)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.node.publish_events(), name="kubelet-events")
                config_rv = await self._load_config()
                listed = await self.store.list(PODS)
                self._remove_stale_logs(listed.items)
                for pod in listed.items:
                    self._on_pod("ADDED", pod)
                self.ready.set()
                node = self.node
                beat = node_status.heartbeat(
                    self.store,
                    node.node_name,
                    node.root.parent,
                    node.clock,
                    node.address,
                    port=node.port,
                    runtime_version=node.podman.runtime_version if node.podman else "",
                )
                group.create_task(beat, name="kubelet-node")
                group.create_task(self._watch_config(config_rv), name="kubelet-config")
                group.create_task(self._watch_pods(listed.resource_version), name="kubelet-pods")
                group.create_task(self._sync_volumes(), name="kubelet-volumes")
        finally:
            await steps.finish(self._shutdown())

    async def _sync_volumes(self) -> None:
        """Keep the running Pods' configMap and secret volumes up to date (:func:`volumes.refresh`)
        until cancelled."""
        while True:
            await asyncio.sleep(self.volume_sync_interval)
            for worker in list(self.workers.values()):
                try:
                    changed = await volumes.refresh(self.store, self.node.root, worker.pod)
                except (KawaError, OSError) as err:
                    log.warning("pod %s: its volumes could not be refreshed: %s", worker.key, err)
                    continue
                if changed:
                    log.info("pod %s: volumes %s refreshed", worker.key, ", ".join(changed))

    async def _shutdown(self) -> None:
        workers = list(self.workers.values())
        self.workers.clear()
        loop = asyncio.get_running_loop()
        stops: dict[asyncio.Task[None], PodWorker | None] = {
            loop.create_task(
                w.stop(min(SHUTDOWN_GRACE, w.grace), events=False),
                name=f"stop pod {w.namespace}/{w.name}",
            ): w
            for w in workers
        }
        stops.update(self._stopping)
        if stops:
            _, late = await asyncio.wait(stops, timeout=SHUTDOWN_TIMEOUT)
            if late:
                log.error(
                    "kubelet: %d pod stop(s) did not end within %gs of kawa's shutdown; "
                    "killing their processes: %s",
                    len(late),
                    SHUTDOWN_TIMEOUT,
                    ", ".join(sorted(t.get_name() for t in late)),
                )
                for task in late:
                    if (worker := stops[task]) is not None:
                        worker.kill_all()
                    task.cancel()
        if self._watchdog is not None:
            await self._watchdog.stop()  # it kills what the containers left outside their groups
            self._watchdog = None
        if self.runtimes.podman is not None:
            await self.runtimes.podman.close()  # its API relay
        await self.node.flush_events(1.0)

    async def _watch_pods(self, since: int | None) -> None:
        async def changed(event: WatchEvent) -> None:
            self._on_pod(event.type, event.object)

        async def listed(pods: list[Obj]) -> None:  # a Pod gone while unwatched stops
            seen = {(_meta(p).get("namespace", ""), _meta(p).get("name", "")) for p in pods}
            for key in [k for k in self.workers if k not in seen]:
                self._stop_worker(self.workers.pop(key))

        await inform(self.store, PODS, changed, since=since, on_listed=listed)

    def _on_pod(self, type_: str, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        uid = str(meta.get("uid") or "")
        worker = self.workers.get(key)
        if worker is not None and (worker.uid != uid or type_ == "DELETED"):
            del self.workers[key]
            forced = pod_status.grace_of(pod) if worker.uid == uid else None
            self._stop_worker(worker, forced)  # forced: --grace-period=0 --force
            worker = None
        if type_ == "DELETED":
            return
        if (pod.get("spec") or {}).get("nodeName") != self.node.node_name:
            return  # not bound yet (the scheduler binds it), or another node's
        if worker is not None and _lost(pod):  # replaced elsewhere: stop, keep the object
            del self.workers[key]
            self._stop_worker(worker)
            return
        grace = pod_status.grace_of(pod)
        if grace is not None:  # deleted gracefully: stop it, then remove the object
            if worker is not None:
                worker.observe(pod)
            self._terminate(key, uid, worker, grace)
            return
        if worker is not None:
            worker.observe(pod)
            return
        if (pod.get("status") or {}).get("phase") in TERMINAL:
            return
        worker = PodWorker(self.node, pod, self.runtimes)
        self.workers[key] = worker
        worker.start()
        if worker.task is not None:
            worker.task.add_done_callback(_log_failure)

    def _terminate(
        self, key: tuple[str, str], uid: str, worker: PodWorker | None, grace: float
    ) -> None:
        """Stop a Pod that has a ``deletionTimestamp`` (Event ``Killing``, SIGTERM, SIGKILL
        after ``grace``), then remove it from the store, as the kubelet does."""
        if key in self._terminating:
            if worker is not None:  # a shorter grace period may have come
                self._track(worker.stop(grace), worker)
            return
        self._terminating.add(key)

        async def terminate() -> None:
            try:
                if worker is not None:
                    await worker.stop(grace)
                    self.node.network.release(worker.uid)
                    if self.workers.get(key) is worker:
                        del self.workers[key]
                await self._remove(ResourceKey(PODS, *key), uid)
                if worker is not None:
                    await asyncio.to_thread(shutil.rmtree, worker.log_directory, True)
                    volumes.remove(self.node.root, worker.uid)
            finally:
                self._terminating.discard(key)

        self._track(terminate(), worker)

    async def _remove(self, key: ResourceKey, uid: str) -> None:
        """Delete the Pod ``key`` from the store if it is still the one with ``uid``."""
        with contextlib.suppress(NotFoundError):
            current = await self.store.get(key)
            if (current.get("metadata") or {}).get("uid") == uid:
                await steps.finish(self.store.delete(key))

    def _track(self, coroutine: Coroutine[Any, Any, None], worker: PodWorker | None) -> None:
        name = f"stop pod {worker.namespace}/{worker.name}" if worker else "remove pod"
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        task.add_done_callback(_log_failure)
        self._stopping[task] = worker
        task.add_done_callback(lambda done: self._stopping.pop(done, None))

    def _stop_worker(self, worker: PodWorker, grace: float | None = None) -> None:
        async def stop() -> None:
            await worker.stop(grace)
            self.node.network.release(worker.uid)
            await asyncio.to_thread(shutil.rmtree, worker.log_directory, True)
            volumes.remove(self.node.root, worker.uid)

        self._track(stop(), worker)

    def _remove_stale_logs(self, pods: list[Obj]) -> None:
        """Remove the log directories of Pods that no longer exist."""
        uids = {str((p.get("metadata") or {}).get("uid") or "") for p in pods}
        root = self.node.logs_root
        if not root.is_dir():
            return
        for directory in root.iterdir():
            if directory.name.rpartition("_")[2] not in uids:
                shutil.rmtree(directory, ignore_errors=True)

    # -- config ----------------------------------------------------------------------------

    async def _load_config(self) -> int:
        listed = await self.store.list(CONFIGMAPS, config_mod.CONFIG_NAMESPACE)
        found = {str((c.get("metadata") or {}).get("name")): c for c in listed.items}
        for name in (config_mod.CONFIG_MAP, images.CONFIG_MAP):
            self._apply_config(name, found.get(name))
        return listed.resource_version

    async def _watch_config(self, since: int) -> None:
        async def changed(event: WatchEvent) -> None:
            self._on_config(event)

        async def listed(maps: list[Obj]) -> None:  # a ConfigMap gone while unwatched
            found = {str((c.get("metadata") or {}).get("name")) for c in maps}
            for name in (config_mod.CONFIG_MAP, images.CONFIG_MAP):
                if name not in found:
                    self._apply_config(name, None)

        await inform(
            self.store,
            CONFIGMAPS,
            changed,
            namespace=config_mod.CONFIG_NAMESPACE,
            since=since,
            on_listed=listed,
        )

    def _on_config(self, event: WatchEvent) -> None:
        name = str((event.object.get("metadata") or {}).get("name"))
        self._apply_config(name, None if event.type == "DELETED" else event.object)

    def _apply_config(self, name: str, obj: Obj | None) -> None:
        data = obj.get("data") if obj is not None else None
        data = data if isinstance(data, dict) else None
        where = f"{config_mod.CONFIG_NAMESPACE}/{name}"
        if name == config_mod.CONFIG_MAP:
            self.node.config, warnings = config_mod.config_from_configmap(data)
        elif name == images.CONFIG_MAP:
            catalog, warnings = images.catalog_from_configmap(data)
            self.node.set_catalog(catalog)
        else:
            return
        for warning in warnings:
            log.warning("kubelet: ConfigMap %s: %s", where, warning)

    # -- logs ------------------------------------------------------------------------------

    async def pod_log(self, request: web.Request, target: Any) -> web.StreamResponse:
        """The ``log`` subresource of a Pod (register with ``ApiServer.add_subresource``)."""
        return await log_handler.serve(self, request, target)

    @property
    def logs_root(self) -> Path:
        """The directory of the Pods' log files (for :mod:`.log_handler`)."""
        return self.node.logs_root

    def container_runner(
        self, namespace: str, name: str, uid: str, container: str
    ) -> ContainerRunner | None:
        """The runner of that container, if this kubelet runs its Pod (for :mod:`.log_handler`)."""
        worker = self.workers.get((namespace, name))
        return worker.find(container) if worker is not None and worker.uid == uid else None

    # -- exec and port-forward ----------------------------------------------------------

    async def pod_exec(self, request: web.Request, target: Any) -> web.StreamResponse:
        """The ``exec`` subresource of a Pod (:mod:`.exec_handler`)."""
        return await exec_handler.serve_exec(self, request, target)

    async def pod_port_forward(self, request: web.Request, target: Any) -> web.StreamResponse:
        """The ``portforward`` subresource of a Pod (:mod:`.exec_handler`)."""
        return await exec_handler.serve_port_forward(self, request, target)

    def streaming_target(
        self, namespace: str, name: str, uid: str, container: str
    ) -> Target | None:
        """That container, if it runs here now (for :mod:`.exec_handler`)."""
        worker = self.workers.get((namespace, name))
        runner = self.container_runner(namespace, name, uid, container)
        if worker is None or runner is None or not runner.running or runner.child is None:
            return None
        return Target(
            namespace,
            name,
            uid,
            container,
            worker.pod_ip,
            runner.env,
            runner.cwd,
            container_id=runner.container_id,
        )


def _log_failure(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("kubelet: %s failed", task.get_name(), exc_info=error)


def log_handler_for(kubelet: Kubelet) -> LogHandler:
    """The ``log`` subresource handler of ``kubelet`` (``kubelet.pod_log``)."""
    return kubelet.pod_log


def _lost(pod: Obj) -> bool:
    """Marked ``Failed`` by the node lifecycle controller while this node was unreachable."""
    status = pod.get("status") or {}
    return bool(status.get("phase") == "Failed" and status.get("reason") == "NodeLost")


def _meta(obj: Obj) -> dict[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, dict) else {}
