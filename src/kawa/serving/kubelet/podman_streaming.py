"""``kubectl exec`` and ``kubectl port-forward`` into containers run by podman (ADR 0057).

A command runs as ``podman exec [-i] [-t] <container> argv...`` (the container's name from
:func:`.podman.container_name`, through its ``containerID``), itself a host process started
as the process runtime starts one (:func:`.streaming.start`): on pipes, or with ``-t`` on a
pseudo-terminal of its own, whose resizes podman passes on to the container's terminal.
The command gets the container's environment, user and working directory from podman; its
exit code is podman's (127/126 when it cannot start, with podman's words on stderr).

Killing ``podman exec`` does not end the command in the container, so each command carries
the container's watchdog marker with a suffix of its own (``KAWA_KUBELET=<marker>/exec-<id>``,
:mod:`.watchdog`): a client gone kills the processes so marked, and kawa's death or the
container's end kills them with the container's. A port is the Pod's address and the port
published there (``-p <podIP>:<port>:<port>``), as for processes.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence

from kawa.serving.kubelet import streaming, watchdog
from kawa.serving.kubelet.podman import Podman
from kawa.serving.kubelet.streaming import NOT_FOUND, Execution, Output, StartError, Target

SCHEME = "podman"
"""The ``containerID`` scheme of podman's containers (``podman://<name>``)."""


def exec_args(
    name: str, argv: Sequence[str], *, stdin: bool, tty: bool, marker: str = ""
) -> list[str]:
    """The arguments of ``podman exec`` for ``argv`` in the container ``name`` (pure)."""
    args = ["exec"]
    if stdin:
        args.append("-i")
    if tty:
        args.append("-t")
    if marker:
        args += ["-e", f"{watchdog.MARKER}={marker}"]
    return [*args, name, *argv]


class PodmanStreaming:
    """:class:`~.streaming.StreamingRuntime` for containers that podman runs."""

    def __init__(self, podman: Podman) -> None:
        self.podman = podman

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
        name = target.container_id.partition("://")[2]
        container_marker = target.env.get(watchdog.MARKER, "")
        marker = f"{container_marker}/exec-{secrets.token_hex(6)}" if container_marker else ""
        args = exec_args(name, argv, stdin=stdin, tty=tty, marker=marker)
        started = streaming.start(
            [self.podman.executable, *args], self.podman.env(), None, output, stdin=stdin, tty=tty
        )
        return _PodmanExecution(started, marker)

    async def connect(
        self, target: Target, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(target.pod_ip, port)


class _PodmanExecution:
    """A ``podman exec`` whose kill also ends the command in the container."""

    def __init__(self, command: Execution, marker: str) -> None:
        self._command = command
        self._marker = marker
        self._ended = False

    async def write(self, data: bytes) -> None:
        await self._command.write(data)

    def close_stdin(self) -> None:
        self._command.close_stdin()

    def resize(self, width: int, height: int) -> None:
        self._command.resize(width, height)

    async def wait(self) -> int:
        code = await self._command.wait()
        self._ended = True
        return code

    def kill(self) -> None:
        self._command.kill()
        if self._marker and not self._ended:
            loop = asyncio.get_running_loop()
            loop.run_in_executor(None, watchdog.kill_marked, self._marker)
