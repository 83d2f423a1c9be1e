"""kawa (in-process, on SQLite) leads at once under its node name, keeps its node's heartbeat
Lease, runs its controllers (a Broker becomes Ready), and releases the leader lease when it
stops."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kawa.coordination import leases
from kawa.coordination.election import CONTROLLERS_LEASE, LEASES, SYSTEM_NAMESPACE
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ..broker.broker_support import Kawa, broker, running_kawa
from ..waiting import eventually

PATH = "/apis/coordination.k8s.io/v1/namespaces"


async def lease(kawa: Kawa, namespace: str, name: str) -> dict[str, Any] | None:
    async with kawa.session.get(f"{kawa.url}{PATH}/{namespace}/leases/{name}") as resp:
        return dict(await resp.json()) if resp.status == 200 else None


async def test_one_kawa_leads_heartbeats_and_releases(tmp_path: Path) -> None:
    async with running_kawa(tmp_path, node_name="n1") as kawa:

        async def led() -> dict[str, Any] | None:
            found = await lease(kawa, SYSTEM_NAMESPACE, CONTROLLERS_LEASE)
            return found if found and found["spec"].get("holderIdentity") == "n1" else None

        leader = await eventually(led, 10, "n1 never led")
        assert leader["spec"]["leaseDurationSeconds"] == 15
        node = await eventually(lambda: lease(kawa, "kube-node-lease", "n1"), 10, "no node lease")
        assert node["spec"]["holderIdentity"] == "n1"
        # the lease lasts the node monitor's grace period (kawa up's default)
        assert node["spec"]["leaseDurationSeconds"] == 20

        async def registered() -> dict[str, Any] | None:  # the kubelet's Node, named n1
            async with kawa.session.get(f"{kawa.url}/api/v1/nodes/n1") as resp:
                return dict(await resp.json()) if resp.status == 200 else None

        registered_node = await eventually(registered, 10, "no Node n1")
        addresses = registered_node["status"]["addresses"]
        assert {"type": "InternalIP", "address": "127.0.0.1"} in addresses
        await kawa.apply(broker())
        await kawa.wait_ready("Broker", "default")
    store = SqliteResourceStore(str(tmp_path / "resources.db"))
    try:
        stored = await store.get(ResourceKey(LEASES, SYSTEM_NAMESPACE, CONTROLLERS_LEASE))
    finally:
        await store.close()
    assert leases.read(stored).holder == ""
    assert leases.read(stored).duration == leases.RELEASED_DURATION
