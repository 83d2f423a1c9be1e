"""What the leader's node controllers know: every Node, heartbeat Lease and Pod, kept by watches.

:class:`ClusterView` follows Nodes, the Leases of ``kube-node-lease`` and Pods with
informers (list, then watch), keeps the latest copy of each, feeds the Lease renewals to a
:class:`~kawa.controllers.nodes.health.Health`, and sets :attr:`ClusterView.changed` on every
change so that the scheduler wakes at once (no polling for new Pods). The scheduler and the
node lifecycle controller (:mod:`.scheduler`, :mod:`.lifecycle`) read it; they also
:meth:`ClusterView.put` what they wrote, so that their next decision sees it before the watch
brings it back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from kawa.apis import core
from kawa.controllers.nodes.health import Health
from kawa.coordination import node_lease
from kawa.coordination.election import LEASES
from kawa.reconciler.informer import inform
from kawa.store.base import Obj, ResourceStore, WatchEvent

NODES = core.NODE.resource
PODS = core.POD.resource
Key = tuple[str, str]


def key_of(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


class ClusterView:
    """Nodes, node Leases and Pods as last seen (see the module docstring)."""

    def __init__(
        self, store: ResourceStore, health: Health, monotonic: Callable[[], float]
    ) -> None:
        self.store = store
        self.health = health
        self.monotonic = monotonic
        self.nodes: dict[str, Obj] = {}
        self.pods: dict[Key, Obj] = {}
        self.changed = asyncio.Event()
        self.synced = asyncio.Event()
        self._listed: set[str] = set()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._follow(NODES, None, self._on_node))
            group.create_task(self._follow(LEASES, node_lease.NAMESPACE, self._on_lease))
            group.create_task(self._follow(PODS, None, self._on_pod))

    async def _follow(
        self, resource: str, namespace: str | None, handle: Callable[[str, Obj], None]
    ) -> None:
        async def changed(event: WatchEvent) -> None:
            handle(event.type, event.object)
            self.changed.set()

        async def listed(items: list[Obj]) -> None:
            present = {key_of(i) for i in items}
            if resource == NODES:
                for name in [n for n in self.nodes if ("", n) not in present]:
                    del self.nodes[name]
            elif resource == PODS:
                for gone in [k for k in self.pods if k not in present]:
                    del self.pods[gone]
            self._listed.add(resource)
            if len(self._listed) == 3:
                self.synced.set()
            self.changed.set()

        await inform(self.store, resource, changed, namespace=namespace, on_listed=listed)

    def _on_node(self, type_: str, node: Obj) -> None:
        name = key_of(node)[1]
        if type_ == "DELETED":
            self.nodes.pop(name, None)
            return
        self.nodes[name] = node
        self.health.heard_of(name, self.monotonic())

    def _on_lease(self, type_: str, lease: Obj) -> None:
        name = key_of(lease)[1]
        if type_ == "DELETED":
            return  # an expired node stays lost; a deleted Node takes its Lease with it
        spec = lease.get("spec") or {}
        self.health.saw_lease(name, str(spec.get("renewTime") or ""), self.monotonic())

    def _on_pod(self, type_: str, pod: Obj) -> None:
        self.put(pod, deleted=type_ == "DELETED")

    def put(self, pod: Obj, *, deleted: bool = False) -> None:
        """Record ``pod`` as it is now (a newer copy wins, by resourceVersion)."""
        key = key_of(pod)
        if deleted:
            self.pods.pop(key, None)
            return
        old = self.pods.get(key)
        if old is not None and _version(old) > _version(pod) and _uid(old) == _uid(pod):
            return
        self.pods[key] = pod
        node = str((pod.get("spec") or {}).get("nodeName") or "")
        if node:
            self.health.heard_of(node, self.monotonic())


def _version(obj: Obj) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


def _uid(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")
