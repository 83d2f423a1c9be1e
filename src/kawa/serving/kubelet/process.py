"""Child processes of the kubelet: spawning, exit, signals and leftovers of a previous run.

Every container runs as the leader of its own process group and session
(``start_new_session``), so stopping it reaches everything it started (``sh -c 'a & b'``).
The child asks Linux to SIGKILL it when kawa dies (``PR_SET_PDEATHSIG``, set through ctypes
before exec), so even a SIGKILLed kawa leaves no container behind; what it started (even in
another session) is killed by the :class:`Watchdog` process (:mod:`.watchdog`), or else by
the next kawa (:func:`kill_leftovers`), found by its environment marker and from the pid
files under ``<data_dir>/kubelet/pids`` (one file per running container: pid and start
time, to never signal a recycled pid).

``PR_SET_PDEATHSIG`` fires when the *thread* that forked dies: containers are spawned from
the event loop's thread, which lives as long as kawa. Exits are seen through a pidfd (no
child watcher thread, no SIGCHLD handler), with polling where pidfds are missing.
Used by :mod:`kawa.serving.kubelet.container`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from kawa import deathsig, files
from kawa.serving.kubelet import watchdog

log = logging.getLogger(__name__)


def _child_setup(parent: int) -> Callable[[], None]:
    def setup() -> None:  # runs in the child between fork and exec
        deathsig.arm(signal.SIGKILL)
        if os.getppid() != parent:  # kawa died before the death signal was armed
            os._exit(137)

    return setup


class PidFiles:
    """One file per running container under ``directory``: ``<pid>`` holding its start time."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def add(self, pid: int) -> None:
        files.write_private(self.directory / str(pid), (watchdog.start_time(pid) or "").encode())

    def remove(self, pid: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.directory / str(pid)).unlink()


def kill_leftovers(node_id: str, pids: PidFiles) -> list[int]:
    """SIGKILL what a previous run of this node left: the sessions of its pid files and every
    process marked with its ``node_id``; the pids killed."""
    killed = watchdog.sweep(node_id, pids.directory)
    if killed:
        log.warning("killed %d process(es) left over by a previous run", len(killed))
    return killed


class Watchdog:
    """The watchdog process of a running kubelet (see :mod:`.watchdog`)."""

    def __init__(self, node_id: str, pids: PidFiles) -> None:
        read, self._write = os.pipe()  # the write end is not inherited by any child
        try:
            argv = [sys.executable, "-I", "-S", watchdog.__file__, node_id, str(os.getpid())]
            self.proc = subprocess.Popen(
                [*argv, str(pids.directory)],
                stdin=read,
                stdout=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C meant for kawa does not reach it
            )
        except BaseException:
            os.close(self._write)
            raise
        finally:
            os.close(read)

    async def stop(self, timeout: float = 5.0) -> None:
        """Let it sweep and exit (kawa stops cleanly), then reap it."""
        if self._write >= 0:
            os.close(self._write)
            self._write = -1
        try:
            await asyncio.to_thread(self.proc.wait, timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait)


class Child:
    """One running container process (a process group and session leader)."""

    def __init__(self, proc: subprocess.Popen[bytes], stdout: int, stderr: int) -> None:
        self.proc = proc
        self.pid = proc.pid
        self.stdout = stdout
        self.stderr = stderr
        self._exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._poller: asyncio.Task[None] | None = None
        self._watch()

    def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            fd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            self._poller = loop.create_task(self._poll())
            return

        def readable() -> None:
            loop.remove_reader(fd)
            os.close(fd)
            self._reap()

        loop.add_reader(fd, readable)

    async def _poll(self) -> None:
        while not self._reap():  # noqa: ASYNC110 - no pidfd: nothing to wait on but time
            await asyncio.sleep(0.05)

    def _reap(self) -> bool:
        code = self.proc.poll()
        if code is None:
            return False
        if not self._exited.done():
            self._exited.set_result(code)
        return True

    @property
    def returncode(self) -> int | None:
        return self._exited.result() if self._exited.done() else None

    async def wait(self) -> int:
        """The exit status: the exit code, or ``-signal`` when killed by a signal."""
        return await asyncio.shield(self._exited)

    def signal_group(self, sig: int) -> None:
        """Send ``sig`` to the whole process group (harmless when it is gone)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    async def stop(self, grace: float) -> int:
        """SIGTERM the group, SIGKILL it after ``grace`` seconds; the exit status."""
        if self.returncode is None:
            self.signal_group(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wait(), timeout=max(grace, 0.0))
        self.signal_group(signal.SIGKILL)
        return await self.wait()


def spawn(
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: str | None,
    *,
    capture: bool = True,
    user: tuple[int, int] | None = None,
) -> Child:
    """Start ``argv`` in a new session (as ``user``: uid and gid, with no supplementary
    groups); OSError if it cannot start.

    Its output is on pipes (``Child.stdout``/``stderr``, non-blocking) when ``capture``,
    else discarded (the fds are then -1).
    """
    readers, writers = [-1, -1], [subprocess.DEVNULL, subprocess.DEVNULL]
    if capture:
        readers[0], writers[0] = os.pipe()
        readers[1], writers[1] = os.pipe()
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=writers[0],
            stderr=writers[1],
            env=dict(env),
            cwd=cwd or None,
            start_new_session=True,
            user=user[0] if user else None,
            group=user[1] if user else None,
            extra_groups=[] if user else None,
            preexec_fn=_child_setup(os.getpid()),  # noqa: PLW1509 - only async-signal-safe calls
        )
    except BaseException:
        for fd in readers:
            if fd >= 0:
                os.close(fd)
        raise
    finally:
        for fd in writers:
            if fd >= 0:
                os.close(fd)
    for fd in readers:
        if fd >= 0:
            os.set_blocking(fd, False)
    return Child(proc, readers[0], readers[1])


def exit_code(status: int) -> int:
    """Kubernetes' exit code for a Popen status (128 + signal for a killed process)."""
    return 128 - status if status < 0 else status
