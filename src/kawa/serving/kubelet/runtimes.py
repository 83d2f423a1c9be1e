"""Which :class:`~.container_runtime.ContainerRuntime` runs a container: podman for an image
kawa's catalog does not map (when podman is there), host processes otherwise. The kubelet
owns them and gives them to its Pod workers (the node, which the runtimes read, does not
hold them: no import cycle between the node and the runtimes)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kawa import images
from kawa.serving.kubelet.container_runtime import ContainerRuntime
from kawa.serving.kubelet.podman import Podman
from kawa.serving.kubelet.podman_run import PodmanRuntime
from kawa.serving.kubelet.process_runtime import ProcessRuntime


@dataclass(slots=True)
class Runtimes:
    """The node's runtimes."""

    podman: PodmanRuntime | None = None
    """The runtime for images the catalog does not map (None: processes)."""
    process: ContainerRuntime = field(default_factory=ProcessRuntime)
    """The runtime of the images the catalog maps (and of all, without podman)."""

    @classmethod
    def of(cls, podman: Podman | None) -> Runtimes:
        return cls(PodmanRuntime(podman) if podman is not None else None)

    def for_container(
        self, catalog: images.ImageCatalog, spec: Mapping[str, Any]
    ) -> ContainerRuntime:
        """podman for an image the catalog does not map (when there is podman), else host
        processes."""
        if self.podman is not None and images.runs_in_container(catalog, spec):
            return self.podman
        return self.process
