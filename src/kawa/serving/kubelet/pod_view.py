"""What the container helpers (:mod:`.probes`, :mod:`.podman_run`) use of the
:class:`~kawa.serving.kubelet.worker.PodWorker` running their Pod: a protocol, so they need
not import the worker that imports them."""

from __future__ import annotations

from typing import Protocol

from kawa.serving.kubelet.container import ContainerRunner
from kawa.serving.kubelet.node import Node
from kawa.store.base import Obj


class PodView(Protocol):
    @property
    def node(self) -> Node: ...

    @property
    def pod(self) -> Obj: ...

    @property
    def name(self) -> str: ...

    @property
    def uid(self) -> str: ...

    @property
    def pod_ip(self) -> str: ...

    @property
    def grace(self) -> float: ...

    def config_error(self, runner: ContainerRunner, message: str) -> None:
        """The container cannot be configured: say why on its status and in an Event."""
        ...

    def field_path(self, runner: ContainerRunner) -> str:
        """The container's ``spec.containers{name}`` path, for its Events."""
        ...

    def changed(self) -> None:
        """Something the Pod's status shows changed: write it soon."""
        ...
