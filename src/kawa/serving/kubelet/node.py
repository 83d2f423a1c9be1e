"""What every Pod worker of a kubelet shares: the store, settings, image catalog, Events.

The :class:`Node` is owned by :class:`kawa.serving.kubelet.Kubelet`, which replaces
``config`` and ``catalog`` when their ConfigMaps change (workers read them when they need
them, so changes apply live). Events are queued and written in order by one task
(:meth:`Node.publish_events`), off the path that starts containers. Store writes are
finished despite cancellation everywhere in the kubelet (:mod:`.steps`): a write is never
abandoned half-way when a Pod or the kubelet is stopped.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kawa import images
from kawa.apis.conditions import Clock
from kawa.reconciler.events import EventRecorder, EventType
from kawa.serving.kubelet import process, steps, watchdog
from kawa.serving.kubelet.api_access import ApiAccess
from kawa.serving.kubelet.config import KubeletConfig
from kawa.serving.kubelet.network import PodNetwork
from kawa.serving.kubelet.podman import Podman
from kawa.store.base import ResourceStore

log = logging.getLogger(__name__)

KUBELET = "kubelet"


def node_id(data_dir: Path) -> str:
    """The id that marks the processes of the kubelet using ``data_dir`` (stable across runs,
    so that the next run finds what a killed one left)."""
    return hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]


_Event = tuple[str, dict[str, Any], EventType, str, str, str]


class Node:
    """Shared state of one kubelet (see the module docstring)."""

    def __init__(
        self,
        store: ResourceStore,
        data_dir: Path,
        *,
        node_name: str,
        clock: Clock,
        address: str = "127.0.0.1",
        podman: Podman | None = None,
    ) -> None:
        self.store = store
        self.podman = podman
        self.api: ApiAccess | None = None
        """kawa's API as Pods reach it (set once it listens; :mod:`.service_account`)."""
        self.node_name = node_name
        self.address = address
        """The node's ``InternalIP`` (``kawa up --advertise-address``), the Pods' ``hostIP``."""
        self.port = 0
        """kawa's HTTP port at ``address`` (set once it listens), reported as the Node's
        kubelet endpoint: other nodes reach this node's Pods through it."""
        self.clock = clock
        self.root = data_dir / "kubelet"
        self.logs_root = self.root / "logs"
        self.pids = process.PidFiles(self.root / "pids")
        self.node_id = node_id(data_dir)
        self.config = KubeletConfig()
        self.catalog = images.DEFAULT_CATALOG
        self.catalog_changed = asyncio.Event()
        self.network = PodNetwork()
        self._recorders = {KUBELET: EventRecorder(store, KUBELET, host=node_name, clock=clock)}
        self._events: asyncio.Queue[_Event] = asyncio.Queue()

    def marker(self, uid: str, container: str) -> str:
        """The ``KAWA_KUBELET`` value of a container's processes (see :mod:`.watchdog`)."""
        return watchdog.marker_value(self.node_id, uid, container)

    def set_catalog(self, catalog: images.ImageCatalog) -> None:
        if catalog != self.catalog:
            self.catalog = catalog
            old, self.catalog_changed = self.catalog_changed, asyncio.Event()
            old.set()

    def max_log_bytes(self) -> int:
        return self.config.log_max_bytes

    def event(
        self,
        pod: Mapping[str, Any],
        type_: EventType,
        reason: str,
        message: str,
        *,
        component: str = KUBELET,
        field_path: str = "",
    ) -> None:
        """Queue an Event about ``pod`` (written soon, in order); ``field_path`` names the
        container it is about (``spec.containers{name}``), as the kubelet's Events do."""
        involved = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": dict(pod.get("metadata") or {}),
        }
        self._events.put_nowait((component, involved, type_, reason, message, field_path))

    async def publish_events(self) -> None:
        """Write queued Events until cancelled."""
        while True:
            component, obj, type_, reason, message, path = await self._events.get()
            # finished: a store write cancelled half-way must not be left unfinished
            recorder = self._recorders[component]
            await steps.finish(recorder.record(obj, type_, reason, message, field_path=path))

    async def flush_events(self, timeout: float) -> None:
        """Write what is still queued (on shutdown), for at most ``timeout`` seconds."""

        async def drain() -> None:
            while not self._events.empty():
                component, obj, type_, reason, message, path = self._events.get_nowait()
                await self._recorders[component].record(
                    obj, type_, reason, message, field_path=path
                )

        try:
            await asyncio.wait_for(drain(), timeout)
        except TimeoutError:
            log.warning("kubelet: %d event(s) not recorded at shutdown", self._events.qsize())
