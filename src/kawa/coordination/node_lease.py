"""Each node's heartbeat: a Lease named after the node in ``kube-node-lease``.

As Kubernetes' kubelet does, a :class:`NodeLease` renews ``kube-node-lease/<node>`` every
:data:`RENEW_INTERVAL` seconds (``holderIdentity`` the node, ``leaseDurationSeconds``
:data:`LEASE_DURATION`, ``renewTime`` now), so ``kubectl get leases -n kube-node-lease``
shows which nodes are alive. The Lease is owned by the node's Node object when one exists
(deleting the Node deletes it; it is made again at the next renewal). A failed renewal is
logged and tried again at the next one. Started by :mod:`kawa.runtime` on every node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any, Final

from kawa.apis import core
from kawa.coordination import leases
from kawa.coordination.election import LEASES, WallClock
from kawa.errors import AlreadyExistsError, ConflictError, KawaError, NotFoundError
from kawa.store.base import ResourceKey, ResourceStore

log = logging.getLogger(__name__)

NAMESPACE: Final = "kube-node-lease"
LEASE_DURATION: Final = 40
"""Seconds a node's lease lasts without renewal (Kubernetes' kubelet default)."""
RENEW_INTERVAL: Final = 10.0
"""Seconds between two renewals (a quarter of the duration, as the kubelet renews)."""


def _now() -> datetime:
    return datetime.now(UTC)


class NodeLease:
    """Keeps ``kube-node-lease/<node>`` renewed (see the module docstring)."""

    def __init__(
        self,
        store: ResourceStore,
        node: str,
        *,
        interval: float = RENEW_INTERVAL,
        duration: int = LEASE_DURATION,
        wall: WallClock = _now,
    ) -> None:
        self.store = store
        self.node = node
        self.key = ResourceKey(LEASES, NAMESPACE, node)
        self.interval = interval
        self.duration = duration
        self._wall = wall
        self.renewed = asyncio.Event()
        """Set once the lease was first written."""

    async def run(self) -> None:
        while True:
            try:
                await self.renew()
                self.renewed.set()
            except KawaError as err:
                log.warning("the lease of node %s was not renewed: %s", self.node, err)
            await asyncio.sleep(self.interval)

    async def renew(self) -> None:
        """Write the lease once: create it, or renew it (a conflict: tried at the next one)."""
        spec = {
            "holderIdentity": self.node,
            "leaseDurationSeconds": self.duration,
            "renewTime": leases.micro_time(self._wall()),
        }
        try:
            current = await self.store.get(self.key)
        except NotFoundError:
            with_owner = await self._owner()
            obj = {"apiVersion": leases.API_VERSION, "kind": leases.KIND, "spec": spec}
            obj["metadata"] = {"name": self.node, "namespace": NAMESPACE, **with_owner}
            with contextlib.suppress(AlreadyExistsError):  # another writer: renewed next time
                await self.store.create(self.key, obj)
            return
        current["spec"] = {**(current.get("spec") or {}), **spec}
        try:
            await self.store.update(self.key, current)
        except (ConflictError, NotFoundError) as err:
            log.debug("the lease of node %s: %s (renewed at the next try)", self.node, err)

    async def _owner(self) -> dict[str, Any]:
        try:
            node = await self.store.get(ResourceKey(core.NODE.resource, "", self.node))
        except NotFoundError:
            return {}
        uid = (node.get("metadata") or {}).get("uid")
        if not uid:
            return {}
        reference = {"apiVersion": "v1", "kind": "Node", "name": self.node, "uid": uid}
        return {"ownerReferences": [reference]}
