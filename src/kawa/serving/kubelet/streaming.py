"""What a container runtime offers ``kubectl exec`` and ``kubectl port-forward``.

The protocol handlers (:mod:`.exec_handler`) speak to kubectl; a runtime only runs a command
in a container and opens a connection to a Pod's port, through the small interface
:class:`StreamingRuntime`: :meth:`~StreamingRuntime.exec` starts a command with its standard
streams (or a terminal) and gives back an :class:`Execution` (stdin in, a resize, the exit
code out); :meth:`~StreamingRuntime.connect` opens a TCP connection to a port of the Pod.

:class:`ProcessStreaming` is the process runtime's (ADR 0030, ``docs/pods.md``): a
container is a host process, so a command runs as another host process with the environment
and working directory of the container's current run (its watchdog marker included: should
kawa die, the watchdog kills it with the container's), in a session of its own, on pipes or
on a pseudo-terminal; a port is the Pod's loopback address and that port. The kubelet holds
a :class:`PerContainer`, which hands each container to the runtime that runs it (by its
``containerID``: :mod:`.podman_streaming` for ``podman://``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import pty
import signal
import struct
import subprocess
import termios
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from kawa.serving.kubelet import process

Output = Callable[[int, bytes], Awaitable[None]]
"""Where an execution's output goes: ``(stream, data)``, stream 1 stdout or 2 stderr."""

STDOUT = 1
STDERR = 2
NOT_FOUND = 127
NOT_EXECUTABLE = 126


@dataclass(frozen=True, slots=True)
class Target:
    """A container where a command runs: what the runtime needs of its Pod."""

    namespace: str
    pod: str
    uid: str
    container: str
    pod_ip: str
    env: Mapping[str, str]
    working_dir: str | None
    container_id: str = ""
    """``<runtime>://<id>`` (``podman://<name>``, ``kawa://<pid>``): which runtime runs it."""


class StartError(Exception):
    """The command could not be started; ``code`` is the shell's (126, 127)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Execution(Protocol):
    """A running command."""

    async def write(self, data: bytes) -> None:
        """Feed its stdin."""
        ...

    def close_stdin(self) -> None: ...

    def resize(self, width: int, height: int) -> None:
        """Its terminal's new size (ignored without a terminal)."""
        ...

    async def wait(self) -> int:
        """Its exit code, once its output was delivered."""
        ...

    def kill(self) -> None: ...


class StreamingRuntime(Protocol):
    """What exec and port-forward need of a container runtime."""

    async def exec(
        self,
        target: Target,
        argv: Sequence[str],
        output: Output,
        *,
        stdin: bool,
        tty: bool,
    ) -> Execution:
        """Start ``argv`` in the container; :class:`StartError` when it cannot start."""
        ...

    async def connect(
        self, target: Target, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TCP connection to ``port`` of the Pod (OSError when refused)."""
        ...


class PerContainer:
    """:class:`StreamingRuntime` choosing, for each container, the runtime that runs it: by
    the scheme of its ``container_id`` (``podman``...), processes otherwise."""

    def __init__(self, runtimes: Mapping[str, StreamingRuntime], default: StreamingRuntime) -> None:
        self._runtimes = dict(runtimes)
        self._default = default

    def of(self, target: Target) -> StreamingRuntime:
        scheme, found, _ = target.container_id.partition("://")
        return self._runtimes.get(scheme, self._default) if found else self._default

    async def exec(
        self,
        target: Target,
        argv: Sequence[str],
        output: Output,
        *,
        stdin: bool,
        tty: bool,
    ) -> Execution:
        return await self.of(target).exec(target, argv, output, stdin=stdin, tty=tty)

    async def connect(
        self, target: Target, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await self.of(target).connect(target, port)


class ProcessStreaming:
    """:class:`StreamingRuntime` for containers that are host processes."""

    async def exec(
        self,
        target: Target,
        argv: Sequence[str],
        output: Output,
        *,
        stdin: bool,
        tty: bool,
    ) -> Execution:
        if not argv:
            raise StartError(NOT_FOUND, "exec: no command given")
        env = dict(target.env)
        if tty:
            env.setdefault("TERM", "xterm")
        return start(argv, env, target.working_dir, output, stdin=stdin, tty=tty)

    async def connect(
        self, target: Target, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(target.pod_ip, port)


def start(
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: str | None,
    output: Output,
    *,
    stdin: bool,
    tty: bool,
) -> Execution:
    """Run ``argv`` as a host process in a session of its own, on pipes (stdin only when
    ``stdin``) or on a pseudo-terminal of its own (``tty``); :class:`StartError` when it
    cannot start. The runtimes' common ground: a podman exec is such a process too."""
    return _ProcessExecution.start(argv, env, cwd, output, stdin=stdin, tty=tty)


def _controlling_terminal() -> None:  # in the child, after setsid: fd 0 is the terminal
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _start_error(err: OSError, argv: Sequence[str]) -> StartError:
    if err.errno == errno.ENOENT:
        return StartError(NOT_FOUND, f'exec: "{argv[0]}": executable file not found in $PATH')
    if err.errno in (errno.EACCES, errno.EPERM, errno.ENOEXEC):
        return StartError(NOT_EXECUTABLE, f'exec: "{argv[0]}": permission denied')
    return StartError(NOT_EXECUTABLE, f'exec: "{argv[0]}": {err.strerror or err}')


class _ProcessExecution:
    def __init__(self, proc: subprocess.Popen[bytes], stdin_fd: int, readers: list[int]) -> None:
        self._proc = proc
        self._child = process.Child(proc, -1, -1)
        self._stdin = stdin_fd
        self._terminal = -1
        self._drained: list[asyncio.Future[None]] = []
        self._readers = readers

    @classmethod
    def start(
        cls,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: str | None,
        output: Output,
        *,
        stdin: bool,
        tty: bool,
    ) -> _ProcessExecution:
        parent_fds: list[int] = []
        child_fds: list[int] = []
        try:
            if tty:
                master, slave = pty.openpty()
                parent_fds.append(master)
                child_fds.append(slave)
                streams = {"stdin": slave, "stdout": slave, "stderr": slave}
            else:
                out_r, out_w = os.pipe()
                err_r, err_w = os.pipe()
                parent_fds += [out_r, err_r]
                child_fds += [out_w, err_w]
                streams = {"stdin": subprocess.DEVNULL, "stdout": out_w, "stderr": err_w}
                if stdin:
                    in_r, in_w = os.pipe()
                    os.set_blocking(in_w, False)
                    parent_fds.append(in_w)
                    child_fds.append(in_r)
                    streams["stdin"] = in_r
            try:
                proc = subprocess.Popen(
                    list(argv),
                    env=dict(env),
                    cwd=cwd or None,
                    start_new_session=True,
                    preexec_fn=_controlling_terminal if tty else None,  # noqa: PLW1509
                    **streams,  # type: ignore[call-overload]
                )
            except OSError as err:
                raise _start_error(err, argv) from None
        except BaseException:
            for fd in parent_fds:
                os.close(fd)
            raise
        finally:
            for fd in child_fds:
                os.close(fd)
        if tty:
            execution = cls(proc, parent_fds[0], [parent_fds[0]])
            execution._terminal = parent_fds[0]
            execution._drained = [execution._pump(parent_fds[0], STDOUT, output, close=False)]
        else:
            stdin_fd = parent_fds[2] if stdin else -1
            execution = cls(proc, stdin_fd, parent_fds[:2])
            execution._drained = [
                execution._pump(parent_fds[0], STDOUT, output),
                execution._pump(parent_fds[1], STDERR, output),
            ]
        return execution

    def _pump(
        self, fd: int, stream: int, output: Output, *, close: bool = True
    ) -> asyncio.Future[None]:
        """Copy ``fd`` to ``output`` until its end (a terminal ends with EIO)."""

        async def pump() -> None:
            loop = asyncio.get_running_loop()
            os.set_blocking(fd, False)
            readable = asyncio.Event()
            loop.add_reader(fd, readable.set)
            try:
                while True:
                    await readable.wait()
                    readable.clear()
                    try:
                        data = os.read(fd, 65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        return
                    await output(stream, data)
            finally:
                loop.remove_reader(fd)
                if close:
                    os.close(fd)

        return asyncio.ensure_future(pump())

    async def write(self, data: bytes) -> None:
        if self._stdin < 0:
            return
        view = memoryview(data)
        while view:
            try:
                written = os.write(self._stdin, view)
            except BlockingIOError:
                await asyncio.sleep(0.01)
                continue
            except OSError:  # the command closed its stdin
                return
            view = view[written:]

    def close_stdin(self) -> None:
        if self._terminal >= 0:  # a terminal's end of input: its EOF character
            with contextlib.suppress(OSError):
                os.write(self._terminal, b"\x04")
            return
        if self._stdin >= 0:
            os.close(self._stdin)
            self._stdin = -1

    def resize(self, width: int, height: int) -> None:
        if self._terminal >= 0 and width > 0 and height > 0:
            with contextlib.suppress(OSError):
                fcntl.ioctl(
                    self._terminal, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0)
                )

    async def wait(self) -> int:
        code = await self._child.wait()
        if self._terminal >= 0:
            # the terminal's output ends when its last holder is gone (EIO): give what the
            # command left a moment to drain, the command's children may keep it open
            await asyncio.wait(self._drained, timeout=0.5)
            for future in self._drained:
                future.cancel()
        else:
            await asyncio.wait(self._drained, timeout=2.0)
        return 128 - code if code < 0 else code

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        for future in self._drained:
            future.cancel()
        if self._stdin >= 0 and self._stdin != self._terminal:
            with contextlib.suppress(OSError):
                os.close(self._stdin)
            self._stdin = -1
        if self._terminal >= 0:
            with contextlib.suppress(OSError):
                os.close(self._terminal)
            self._terminal = -1
        # the process is reaped when it is gone (Child watches its pidfd)
