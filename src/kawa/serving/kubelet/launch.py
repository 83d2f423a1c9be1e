"""One run of a container, and what a running container needs of its runtime (a leaf: the
container runner holds both, :mod:`.container_runtime` builds on them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Launch:
    """One run of a container, ready to start as a host process."""

    argv: list[str]
    env: dict[str, str]
    """The environment of the host process (for podman: of the ``podman run`` command)."""
    cwd: str | None = None
    name: str = ""
    """The runtime's own name of the container ("" for a host process)."""
    container_env: dict[str, str] = field(default_factory=dict)
    """The container's environment as the container sees it (probes, ``kubectl exec``)."""
    user: tuple[int, int] | None = None
    """The uid and gid the host process runs as (None: kawa's own)."""


class RunningRuntime(Protocol):
    """What a started container uses of the runtime that started it."""

    @property
    def scheme(self) -> str:
        """The scheme of ``containerID`` and ``imageID`` (``kawa``, ``podman``)."""
        ...

    def container_id(self, launch: Launch, pid: int) -> str:
        """The ``containerID`` of a run started as the host process ``pid``."""
        ...

    def exec_argv(self, launch: Launch, command: Sequence[str]) -> list[str]:
        """The host argv that runs ``command`` inside the running container (exec probes)."""
        ...

    async def stop(self, launch: Launch, grace: float) -> float:
        """Ask the container to stop (SIGTERM, SIGKILL after ``grace`` seconds) before its
        host process is signalled; the grace left for that process."""
        ...

    async def remove(self, launch: Launch) -> None:
        """Remove what is left of the container once its host process ended."""
        ...
