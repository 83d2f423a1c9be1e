"""Which container runtime a kubelet uses: ``kawa up --runtime auto|process|podman``.

``process`` runs every container as host processes (kawa's zero-dependency default);
``podman`` runs the images the image catalog does not map in podman containers
(:mod:`.podman`) and fails with a clear message when podman is missing or does not work;
``auto`` (the default) is podman when it is present and works, else processes. The choice is
logged and shown on the Node (``nodeInfo.containerRuntimeVersion``). Called by
:mod:`kawa.runtime`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final, Literal

from kawa import images
from kawa.errors import KawaError
from kawa.serving.kubelet import podman as podman_mod

log = logging.getLogger(__name__)

RuntimeMode = Literal["auto", "process", "podman"]
MODES: Final = ("auto", "process", "podman")


class RuntimeUnavailable(KawaError):
    """``--runtime podman`` without a working podman."""


def choose(mode: str, data_dir: Path) -> podman_mod.Podman | None:
    """The podman to run containers with, or None for host processes (blocking)."""
    if mode == "process":
        log.info("kubelet: container runtime: host processes (--runtime process)")
        images.set_container_engine(False)
        return None
    found, why = podman_mod.find(data_dir)
    if found is None:
        if mode == "podman":
            raise RuntimeUnavailable(f"--runtime podman: {why}")
        log.info("kubelet: container runtime: host processes (%s)", why)
        images.set_container_engine(False)
        return None
    log.info(
        "kubelet: container runtime: podman %s (images kawa does not map run in containers)",
        found.version,
    )
    images.set_container_engine(True)
    return found
