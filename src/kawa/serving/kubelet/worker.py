"""The life of one Pod on the kubelet: run its containers, restart, report, stop.

A :class:`PodWorker` runs a Pod the scheduler bound to its node: the init containers one after
the other, then every container under the Pod's ``restartPolicy`` (``Always``, ``OnFailure``,
``Never``) with the kubelet's crash-loop back-off (the first restart is immediate, then
``initial * 2^n`` capped at the maximum, reset after ten minutes of running), checks readiness
(:mod:`.probes`; a declared port that stays closed is explained in an ``Unhealthy`` Event and
the ``ContainersReady`` condition), sets ``KAWA_KUBELET`` in every container's environment
(:mod:`.watchdog`) and writes the Pod's status (phase as Kubernetes' ``getPhase``, conditions,
containerStatuses) whenever it changes, re-reading the Pod on a write conflict.
:meth:`PodWorker.stop` is called when the Pod is deleted or kawa stops: from then on no
container is started again, whatever the worker was doing (starting a container, backing off,
reaping an exit), and the stop waits at most :data:`STOP_TASK_TIMEOUT` for the worker's task
before it stops the containers anyway. Created by :class:`kawa.serving.kubelet.Kubelet`.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import io
import logging
import signal
from collections.abc import Mapping
from typing import Any, Final

from kawa.apis import core
from kawa.apis.core import pod_status as ps
from kawa.errors import ConflictError, NotFoundError
from kawa.serving.kubelet import network, probes, steps
from kawa.serving.kubelet import status as status_mod
from kawa.serving.kubelet.container import ContainerRunner
from kawa.serving.kubelet.container_runtime import ContainerRuntime
from kawa.serving.kubelet.logs import log_dir
from kawa.serving.kubelet.node import Node
from kawa.serving.kubelet.runtimes import Runtimes
from kawa.store.base import Obj, ResourceKey
from kawa.tasks import cancel_and_wait

log = logging.getLogger(__name__)

PODS: Final = core.POD.resource
MAX_GRACE: Final = 30.0
BACKOFF_RESET: Final = 600.0
"""A container that ran this long without trouble starts its back-off afresh."""
IMPLICIT_WARN_AFTER: Final = 3.0
"""Seconds a declared port may stay closed before kawa says why the container is not ready."""
_EXEC_POLL_MIN: Final = 0.1
STOP_TASK_TIMEOUT: Final = 10.0
"""Seconds :meth:`PodWorker.stop` waits for the worker's task to end before it stops the
containers without it (and logs the task's stack: a bug)."""


class PodWorker:
    """Runs one Pod (one uid) until it ends or is stopped."""

    def __init__(self, node: Node, pod: Obj, runtimes: Runtimes) -> None:
        self.node = node
        self.runtimes = runtimes
        self.pod = pod
        meta = pod.get("metadata") or {}
        self.namespace = str(meta.get("namespace") or "default")
        self.name = str(meta.get("name") or "")
        self.uid = str(meta.get("uid") or "")
        self.key = ResourceKey(PODS, self.namespace, self.name)
        spec = pod.get("spec") or {}
        self.restart_policy = str(spec.get("restartPolicy") or "Always")
        grace = spec.get("terminationGracePeriodSeconds")
        self.grace = min(float(grace), MAX_GRACE) if isinstance(grace, int) else MAX_GRACE
        self.log_directory = log_dir(node.logs_root, self.namespace, self.name, self.uid)
        self.status: dict[str, Any] = copy.deepcopy(pod.get("status") or {})
        self.pod_ip = node.network.allocate(self.uid, self.status.get("podIP"))
        self.init_runners = self._runners(spec.get("initContainers"), init=True)
        self.runners = self._runners(spec.get("containers"), init=False)
        self.initialized = not self.init_runners
        self.init_failed = False
        self.stopping = False
        self.task: asyncio.Task[None] | None = None
        self._stopper: asyncio.Task[None] | None = None
        self._stop_deadline = 0.0
        self._dirty = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._restore()

    def _runners(self, items: Any, *, init: bool) -> list[ContainerRunner]:
        return [
            ContainerRunner(
                item,
                init=init,
                log_directory=self.log_directory,
                max_log_bytes=self.node.max_log_bytes,
                pids=self.node.pids,
                clock=self.node.clock,
            )
            for item in (items if isinstance(items, list) else ())
            if isinstance(item, Mapping)
        ]

    def _restore(self) -> None:
        """Continue from a status a previous kawa wrote (its processes are gone)."""
        for key, runners in (
            ("initContainerStatuses", self.init_runners),
            ("containerStatuses", self.runners),
        ):
            entries = {
                e.get("name"): e for e in self.status.get(key) or () if isinstance(e, Mapping)
            }
            for runner in runners:
                if runner.name in entries:
                    runner.restore(entries[runner.name])
        if self.init_runners and all(
            r.state.get("terminated", {}).get("exitCode") == 0 for r in self.init_runners
        ):
            self.initialized = True

    def find(self, container: str) -> ContainerRunner | None:
        for runner in self.init_runners + self.runners:
            if runner.name == container:
                return runner
        return None

    def observe(self, pod: Obj) -> None:
        """A newer copy of the Pod from the watch (kept to write the status onto)."""
        self.pod = pod

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(
            self.run(), name=f"kubelet-pod-{self.namespace}/{self.name}"
        )

    async def run(self) -> None:
        self._writer = asyncio.get_running_loop().create_task(self._write_loop())
        try:
            await self._run()
        except NotFoundError:  # deleted meanwhile: the watch stops this worker
            self.stopping = True
        finally:
            if not self.stopping:
                self.changed()
                await self._flush()

    async def _run(self) -> None:
        self.changed()
        for runner in self.init_runners:
            if self.initialized:
                break
            code = await self._supervise(runner)
            if code != 0:
                self.init_failed = True
                self.changed()
                return
        self.initialized = True
        self.changed()
        async with asyncio.TaskGroup() as group:
            for runner in self.runners:
                group.create_task(self._supervise(runner))

    async def stop(self, grace: float | None = None, *, events: bool = True) -> None:
        """Stop every container (SIGTERM, SIGKILL after ``grace`` seconds, at most
        :data:`MAX_GRACE`; default: the Pod's ``terminationGracePeriodSeconds``); no more
        writes. Called again while stopping, it only shortens the grace period."""
        loop = asyncio.get_running_loop()
        wait = self.grace if grace is None else min(max(grace, 0.0), MAX_GRACE)
        deadline = loop.time() + wait
        self.stopping = True  # at once: the supervisors check it before any (re)start
        if self._stopper is None:
            self._stop_deadline = deadline
            self._stopper = loop.create_task(self._stop(events))
        elif deadline < self._stop_deadline:
            self._stop_deadline = deadline
            loop.call_later(wait, self._kill_all)
        await asyncio.shield(self._stopper)

    def kill_all(self) -> None:
        """SIGKILL every container's process group now (shutdown gave up waiting)."""
        self._kill_all()

    def _kill_all(self) -> None:
        for runner in self.init_runners + self.runners:
            if runner.child is not None:
                runner.child.signal_group(signal.SIGKILL)

    async def _stop(self, events: bool) -> None:
        self.stopping = True
        if self.task is not None and not await _cancel(self.task, STOP_TASK_TIMEOUT):
            log.error(
                "kubelet: the worker of pod %s/%s did not end %gs after it was cancelled; "
                "stopping its containers without it:\n%s",
                self.namespace,
                self.name,
                STOP_TASK_TIMEOUT,
                _stack(self.task),
            )
        if self._writer is not None:
            await _cancel(self._writer)
        live = [r for r in self.init_runners + self.runners if r.child and r.running]
        for runner in live:
            if events:
                self.node.event(
                    self.pod,
                    "Normal",
                    "Killing",
                    f"Stopping container {runner.name}",
                    field_path=_field_path(runner),
                )
        wait = max(0.0, self._stop_deadline - asyncio.get_running_loop().time())
        await asyncio.gather(*(r.stop(wait) for r in self.init_runners + self.runners))

    # -- one container -----------------------------------------------------------------

    def _should_restart(self, runner: ContainerRunner, code: int) -> bool:
        if runner.init:
            return code != 0 and self.restart_policy != "Never"
        if self.restart_policy == "Always":
            return True
        return self.restart_policy == "OnFailure" and code != 0

    async def _supervise(self, runner: ContainerRunner) -> int:
        """Run ``runner`` under the restart policy; the exit code of its last run."""
        crashes = 0
        code = self._resume(runner)
        if code is not None and not self._should_restart(runner, code):
            return code
        if code is not None:
            runner.restart_count += 1
        while True:
            self._unless_stopping()
            code = await self._run_once(runner)
            self.changed()
            if not self._should_restart(runner, code):
                return code
            if asyncio.get_running_loop().time() - runner.run_started >= BACKOFF_RESET:
                crashes = 0
            delay = self.node.config.backoff(crashes)
            crashes += 1
            if delay > 0:
                runner.last_state = runner.state
                runner.state = ps.waiting(
                    "CrashLoopBackOff",
                    f"back-off {delay:g}s restarting failed container={runner.name} "
                    f"pod={self.name}_{self.namespace}({self.uid})",
                )
                self.node.event(
                    self.pod,
                    "Warning",
                    "BackOff",
                    f"Back-off restarting failed container {runner.name} in pod "
                    f"{self.name}_{self.namespace}({self.uid})",
                    field_path=_field_path(runner),
                )
                self.changed()
                await asyncio.sleep(delay)
            self._unless_stopping()
            runner.restart_count += 1

    def _unless_stopping(self) -> None:
        """Raise CancelledError once :meth:`stop` was called: a cancellation the task lost
        (swallowed somewhere it awaited) must not let a stopped Pod's container start again."""
        if self.stopping:
            raise asyncio.CancelledError

    def _resume(self, runner: ContainerRunner) -> int | None:
        """The exit code a previous kawa left this container with, if it had started."""
        if "terminated" in runner.state:
            return int(runner.state["terminated"].get("exitCode") or 0)
        if runner.running:  # its process died with the previous kawa
            runner.state = runner.terminated(
                137,
                reason="ContainerStatusUnknown",
                message="The container could not be located when the pod was terminated",
            )
            return 137
        return None

    def runtime_for(self, runner: ContainerRunner) -> ContainerRuntime:
        """podman for an image the catalog does not map (when there is podman), else
        host processes."""
        return self.runtimes.for_container(self.node.catalog, runner.spec)

    def field_path(self, runner: ContainerRunner) -> str:
        return _field_path(runner)

    def config_error(self, runner: ContainerRunner, message: str) -> None:
        """The container waits in ``CreateContainerConfigError`` (Event ``Failed``)."""
        runner.state = ps.waiting("CreateContainerConfigError", message)
        self.node.event(
            self.pod, "Warning", "Failed", f"Error: {message}", field_path=_field_path(runner)
        )
        self.changed()

    async def _run_once(self, runner: ContainerRunner) -> int:
        runtime = self.runtime_for(runner)
        launch = await runtime.prepare(self, runner)
        self._unless_stopping()  # stopped while it prepared
        env, cwd = launch.container_env or launch.env, launch.cwd
        if "terminated" in runner.state:
            runner.last_state = runner.state
        try:
            runner.start(launch, runtime)
        except OSError as err:
            runner.run_started = asyncio.get_running_loop().time()
            message = _start_error(err, launch.argv, cwd)
            runner.container_id = ""
            runner.state = runner.terminated(128, reason="StartError", message=message)
            self.node.event(
                self.pod,
                "Warning",
                "Failed",
                f"Error: {message}",
                field_path=_field_path(runner),
            )
            return 128
        path = _field_path(runner)
        self.node.event(
            self.pod, "Normal", "Created", f"Created container {runner.name}", field_path=path
        )
        self.node.event(
            self.pod, "Normal", "Started", f"Started container {runner.name}", field_path=path
        )
        self.changed()
        checks: list[asyncio.Task[None]] = []
        if not runner.init:
            loop = asyncio.get_running_loop()
            checks.append(loop.create_task(self._readiness(runner, env, cwd)))
            liveness = probes.probe_of(runner.spec, "livenessProbe", host=self.pod_ip)
            if liveness is not None:
                probe, probe_env = self.in_container(runner, liveness, env)
                watch = probes.liveness(self, runner, probe, probe_env, cwd)
                checks.append(loop.create_task(watch))
        try:
            code = await runner.wait_exit()
        finally:
            for check in checks:
                await _cancel(check)
        runner.ready = False
        runner.state = runner.terminated(code)
        return code

    async def _readiness(
        self, runner: ContainerRunner, env: dict[str, str], cwd: str | None
    ) -> None:
        probe = probes.readiness_probe(runner.spec, host=self.pod_ip)
        probe, env = self.in_container(runner, probe, env)
        if probe.kind == "none":
            runner.ready = True
            self.changed()
            return
        loop = asyncio.get_running_loop()
        await asyncio.sleep(probe.initial_delay)
        began = loop.time()
        ever_ready = False
        successes = failures = 0
        warned = -1e9
        while True:
            ok, why = await probes.check(probe, env, cwd)
            successes, failures = (successes + 1, 0) if ok else (0, failures + 1)
            now = loop.time()
            if not runner.ready and ok and successes >= probe.success_threshold:
                runner.ready = ever_ready = True
                runner.hint = ""
                self.changed()
                if not probe.explicit:
                    return
            elif runner.ready and failures >= probe.failure_threshold:
                runner.ready = False
                self.changed()
            if not ok and not probe.explicit and now - began >= IMPLICIT_WARN_AFTER:
                loopback_only = probe.host != probes.HOST and await probes.listens(
                    probes.HOST, probe.port
                )
                hint = _listen_hint(probe, env, loopback_only=loopback_only)
                if runner.hint != hint:
                    runner.hint = hint
                    self.changed()
                if now - warned >= probe.period:
                    warned = now
                    self.node.event(
                        self.pod,
                        "Warning",
                        "Unhealthy",
                        f"Readiness probe failed: {hint}",
                        field_path=_field_path(runner),
                    )
            if (
                not ok
                and probe.explicit
                and (ever_ready or now - began >= probe.period)
                and now - warned >= probe.period
            ):
                warned = now
                self.node.event(
                    self.pod,
                    "Warning",
                    "Unhealthy",
                    f"Readiness probe failed: {why}",
                    field_path=_field_path(runner),
                )
            if ever_ready:
                interval = probe.period
            else:
                interval = self.node.config.readiness_poll_interval
                if probe.kind == "exec":
                    interval = max(interval, _EXEC_POLL_MIN)
            await asyncio.sleep(interval)

    def in_container(
        self, runner: ContainerRunner, probe: probes.Probe, env: dict[str, str]
    ) -> tuple[probes.Probe, dict[str, str]]:
        """An exec probe runs inside the container (``podman exec`` for podman's)."""
        if runner.runtime is None or runner.launch is None or probe.kind != "exec":
            return probe, env
        argv = runner.runtime.exec_argv(runner.launch, probe.command)
        return dataclasses.replace(probe, command=tuple(argv)), env

    # -- status ------------------------------------------------------------------------

    def phase(self) -> str:
        return status_mod.pod_phase(
            self.runners,
            initialized=self.initialized,
            init_failed=self.init_failed,
            restart_policy=self.restart_policy,
        )

    def build_status(self) -> dict[str, Any]:
        """The Pod's ``status`` now."""
        status_mod.fill_status(
            self.status,
            self.runners,
            self.init_runners,
            phase=self.phase(),
            initialized=self.initialized,
            pod_ip=self.pod_ip,
            host_ip=self.node.address,
            clock=self.node.clock,
        )
        return copy.deepcopy(self.status)

    def changed(self) -> None:
        """Something the status shows changed: write it soon."""
        self._dirty.set()

    async def _write_loop(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            await self._write()

    async def _flush(self) -> None:
        """Write the final status now (the write loop is stopped)."""
        if self._writer is not None:
            await _cancel(self._writer)
        if not self.stopping:
            await self._write()

    async def _write(self) -> None:
        status = self.build_status()
        obj = self.pod
        for _ in range(20):
            if obj.get("status") == status:
                return
            new = dict(obj, status=status)
            try:
                self.pod = await steps.finish(
                    self.node.store.update(self.key, new, status_only=True)
                )
                return
            except ConflictError:
                try:
                    obj = self.pod = await self.node.store.get(self.key)
                except NotFoundError:
                    return
                if (obj.get("metadata") or {}).get("uid") != self.uid:
                    return
            except NotFoundError:
                return
        log.warning("kubelet: could not write the status of pod %s/%s", self.namespace, self.name)


async def _cancel(task: asyncio.Task[Any], timeout: float | None = None) -> bool:
    """Cancel ``task`` and wait until it ended (at most ``timeout`` seconds); whether it did.
    Never swallows the caller's own cancellation (:mod:`kawa.tasks`)."""
    ended = await cancel_and_wait(task, timeout)
    if ended and not task.cancelled() and (err := task.exception()) is not None:
        log.warning("kubelet: %s failed while it was cancelled: %r", task.get_name(), err)
    return ended


def _stack(task: asyncio.Task[Any]) -> str:
    buffer = io.StringIO()
    task.print_stack(file=buffer)
    return buffer.getvalue()


def _start_error(err: OSError, argv: list[str], cwd: str | None) -> str:
    """The kubelet-like message for a process that could not start."""
    if isinstance(err, FileNotFoundError) and cwd and err.filename == cwd:
        return (
            f"failed to start container: chdir to cwd ({cwd!r}) set in config.json failed: "
            "no such file or directory"
        )
    if isinstance(err, FileNotFoundError):
        return f'failed to start container: exec: "{argv[0]}": executable file not found in $PATH'
    if isinstance(err, PermissionError):
        return f'failed to start container: exec: "{argv[0]}": permission denied'
    return f"failed to start container: {err}"


def _listen_hint(probe: probes.Probe, env: Mapping[str, str], *, loopback_only: bool) -> str:
    """Why the implicit readiness check of a container fails, and what to do about it."""
    if loopback_only:
        return (
            f"the container listens on {probes.HOST}:{probe.port} only, not on its Pod's "
            f"address {probe.host}: listen on all addresses (0.0.0.0) or on ${network.POD_IP_ENV}"
        )
    where = f"nothing listens on {probe.host}:{probe.port}"
    if env.get("PORT") == str(probe.port):
        return f"{where} (the container must listen on $PORT={probe.port})"
    return f"{where} (the container must listen on its ports[0].containerPort {probe.port})"


def _field_path(runner: ContainerRunner) -> str:
    """``involvedObject.fieldPath`` of an Event about one container, as the kubelet writes it."""
    return f"spec.{'initContainers' if runner.init else 'containers'}{{{runner.name}}}"
