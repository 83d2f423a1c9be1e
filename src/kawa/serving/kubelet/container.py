"""One container of a Pod: its runs as processes, its output and its reported state.

A :class:`ContainerRunner` starts one run at a time (:meth:`ContainerRunner.start`), pumps
the process' stdout/stderr into the container's :class:`~.logs.LogWriter`, and waits for
the exit (:meth:`ContainerRunner.wait_exit`) or stops the run (:meth:`ContainerRunner.stop`).
It holds what ``status.containerStatuses[]`` reports (state, lastState, restartCount,
ready, containerID); the restart policy and back-off are the Pod worker's
(:mod:`kawa.serving.kubelet.worker`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kawa import images
from kawa.apis.conditions import Clock, format_time
from kawa.apis.core import pod_status as ps
from kawa.serving.kubelet import process, steps, watchdog
from kawa.serving.kubelet.launch import Launch, RunningRuntime
from kawa.serving.kubelet.logs import LogWriter

DRAIN_TIMEOUT = 1.0
"""How long output is still read after a process ended (its pipes closed by then)."""


class ContainerRunner:
    """The state and the current run of one container."""

    def __init__(
        self,
        spec: Mapping[str, Any],
        *,
        init: bool,
        log_directory: Path,
        max_log_bytes: Callable[[], int],
        pids: process.PidFiles,
        clock: Clock,
    ) -> None:
        self.spec = spec
        self.name = str(spec.get("name") or "")
        self.image = str(spec.get("image") or "")
        self.init = init
        self.state: dict[str, Any] = ps.waiting("ContainerCreating")
        self.last_state: dict[str, Any] = {}
        self.restart_count = 0
        self.ready = False
        self.hint = ""
        """Why the container is not ready, when kawa can tell (its port stays closed)."""
        self.container_id = ""
        self.started_once = False
        self.runs = 0
        self.run_started = 0.0
        self.child: process.Child | None = None
        self.env: Mapping[str, str] = {}
        self.cwd: str | None = None
        """The current run's environment and working directory (``kubectl exec`` uses them)."""
        self.writer = LogWriter(log_directory, self.name, max_log_bytes)
        self._pids = pids
        self._clock = clock
        self._drained: list[asyncio.Future[None]] = []
        self._finished = True
        self._marker = ""
        self.runtime: RunningRuntime | None = None
        self.launch: Launch | None = None
        """The runtime and launch of the current (or last) run."""

    # -- status ------------------------------------------------------------------------

    def status_entry(self) -> dict[str, Any]:
        """This container's ``containerStatuses[]`` entry."""
        entry: dict[str, Any] = {
            "name": self.name,
            "image": self.image,
            "imageID": f"{self.scheme}://{images.normalize_image(self.image)}"
            if self.started_once
            else "",
            "ready": self.ready,
            "restartCount": self.restart_count,
            "started": "running" in self.state,
            "state": self.state,
            "lastState": self.last_state,
        }
        if self.container_id:
            entry["containerID"] = self.container_id
        return entry

    @property
    def scheme(self) -> str:
        return self.runtime.scheme if self.runtime is not None else "kawa"

    @property
    def running(self) -> bool:
        return "running" in self.state

    def restore(self, entry: Mapping[str, Any]) -> None:
        """Take over a status written by a previous kawa (its process is gone)."""
        count = entry.get("restartCount")
        if isinstance(count, int) and not isinstance(count, bool):
            self.restart_count = count
        for key in ("state", "lastState"):
            value = entry.get(key)
            if isinstance(value, Mapping) and value:
                if key == "state":
                    self.state = dict(value)
                else:
                    self.last_state = dict(value)
        self.container_id = str(entry.get("containerID") or "")
        self.started_once = bool(self.container_id)

    # -- one run -----------------------------------------------------------------------

    def start(self, launch: Launch, runtime: RunningRuntime) -> None:
        """Start a run of ``launch`` by ``runtime``; OSError when its host process cannot be
        started."""
        self.writer.start_run()
        self.runs += 1
        self._finished = False
        try:
            child = process.spawn(launch.argv, launch.env, launch.cwd, user=launch.user)
        except OSError:
            self._finished = True
            self.writer.close()
            raise
        self._pids.add(child.pid)
        self.env, self.cwd = dict(launch.container_env or launch.env), launch.cwd
        self._marker = launch.env.get(watchdog.MARKER, "")
        self.child = child
        self.started_once = True
        self.runtime, self.launch = runtime, launch
        self.container_id = runtime.container_id(launch, child.pid)
        self.run_started = asyncio.get_running_loop().time()
        self.state = ps.running(format_time(self._clock()))
        self._drained = [self._pump(child.stdout, "stdout"), self._pump(child.stderr, "stderr")]

    def _pump(self, fd: int, stream: str) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if data:
                self.writer.feed(stream, data)
                return
            loop.remove_reader(fd)
            os.close(fd)
            if not done.done():
                done.set_result(None)

        loop.add_reader(fd, readable)
        return done

    async def wait_exit(self) -> int:
        """Wait for the run's process to exit; its Kubernetes exit code."""
        child = self.child
        if child is None:
            raise RuntimeError(f"container {self.name} is not running")
        status = await child.wait()
        await self._finish(child)
        return process.exit_code(status)

    async def stop(self, grace: float) -> None:
        """Stop the run (SIGTERM, SIGKILL after ``grace``) and finish its bookkeeping."""
        child = self.child
        if child is None or self._finished:
            return
        if self.runtime is not None and self.launch is not None:
            grace = await steps.finish(self.runtime.stop(self.launch, grace))
        await child.stop(grace)
        await self._finish(child)

    async def _finish(self, child: process.Child) -> None:
        """Kill what the process left in its group (and outside it, by its marker), drain its
        output, close its log."""
        if self._finished:
            return
        self._finished = True
        child.signal_group(signal.SIGKILL)
        try:
            if self.runtime is not None and self.launch is not None:
                await steps.finish(self.runtime.remove(self.launch))
            if self._marker:  # what it started outside its group (setsid, double fork...)
                await steps.finish(asyncio.to_thread(watchdog.kill_marked, self._marker))
            if self._drained:  # asyncio.wait leaves them pending on timeout (not cancelled)
                await asyncio.wait(self._drained, timeout=DRAIN_TIMEOUT)
        finally:
            for fd, future in zip((child.stdout, child.stderr), self._drained, strict=True):
                if not future.done():
                    with contextlib.suppress(ValueError, OSError):
                        asyncio.get_running_loop().remove_reader(fd)
                        os.close(fd)
            self.writer.close()
            self._pids.remove(child.pid)
            self.ready = False
            self.hint = ""

    def terminated(self, code: int, *, reason: str = "", message: str = "") -> dict[str, Any]:
        """The ``terminated`` state of the run that just ended (the start time kept)."""
        running = self.state.get("running") or {}
        started = str(running.get("startedAt") or format_time(self._clock()))
        state = ps.terminated(code, started, format_time(self._clock()), reason)
        if self.container_id:
            state["terminated"]["containerID"] = self.container_id
        if message:
            state["terminated"]["message"] = message
        elif code != 0 and self.writer.tail:
            state["terminated"]["message"] = "\n".join(self.writer.tail)[-2048:]
        return state
