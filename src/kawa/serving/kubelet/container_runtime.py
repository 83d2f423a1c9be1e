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

from typing import TYPE_CHECKING, Protocol

from kawa.serving.kubelet.launch import Launch, RunningRuntime

if TYPE_CHECKING:
    from kawa.serving.kubelet.container import ContainerRunner
    from kawa.serving.kubelet.pod_view import PodView


class ContainerRuntime(RunningRuntime, Protocol):
    """What runs a Pod's containers (see the module)."""

    async def prepare(self, pod: PodView, runner: ContainerRunner) -> Launch:
        """The next run of ``runner``; waits, with the container in an error state, until it
        can be started (the image present, the environment and volumes built)."""
        ...
