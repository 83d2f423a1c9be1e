"""The seam between the Pod worker and what runs its containers (ADR 0060).

A :class:`ContainerRuntime` turns one container of a Pod into a :class:`Launch`: a host
process (its argv, environment and working directory) that *is* the container for as long as
it runs. Its stdout and stderr are the container's output, its exit status the container's,
so the worker's pumps, logs, restart policy, back-off and probes are the same for every
runtime. What differs is behind this protocol: how the image becomes an argv and what may
stop the container before it is started (:meth:`ContainerRuntime.prepare` waits in
Kubernetes' error states: ``ImageNotRunnable``, ``ErrImagePull``, ``ErrImageNeverPull``,
``CreateContainerConfigError``), how an ``exec`` probe enters it, and how it is stopped and
removed.

Two runtimes implement it: :class:`~.process_runtime.ProcessRuntime` (kawa's image catalog
maps an image to a host program) and :class:`~.podman_run.PodmanRuntime` (the OCI image in a
podman container). Both are checked by one contract test suite
(``tests/serving/kubelet/test_runtime_contract.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from kawa.serving.kubelet.container import ContainerRunner
    from kawa.serving.kubelet.pod_view import PodView


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


class ContainerRuntime(Protocol):
    """What runs a Pod's containers (see the module)."""

    @property
    def scheme(self) -> str:
        """The scheme of ``containerID`` and ``imageID`` (``kawa``, ``podman``)."""
        ...

    async def prepare(self, pod: PodView, runner: ContainerRunner) -> Launch:
        """The next run of ``runner``; waits, with the container in an error state, until it
        can be started (the image present, the environment and volumes built)."""
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
