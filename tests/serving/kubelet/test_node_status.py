"""kawa's Node status: the machine's capacity, conditions whose transition time stays while
the status does, and the node created once then only its status reported."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from kawa.apis import core
from kawa.serving.kubelet import node_status
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore


def test_status_keeps_transition_times(tmp_path: Path) -> None:
    first = node_status.status(tmp_path, "2026-01-01T00:00:00Z")
    later = node_status.status(tmp_path, "2026-01-01T00:00:30Z", first)
    ready = next(c for c in later["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
    assert ready["lastHeartbeatTime"] == "2026-01-01T00:00:30Z"
    assert ready["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert int(later["capacity"]["cpu"]) >= 1
    assert later["capacity"]["pods"] == "110"


def test_report_creates_then_updates_the_status(tmp_path: Path) -> None:
    async def run() -> None:
        store = SqliteResourceStore(":memory:")
        times = iter([datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 1, tzinfo=UTC)])
        key = ResourceKey(core.NODE.resource, "", "kawa")
        await node_status.report(store, "kawa", tmp_path, lambda: next(times))
        node = await store.get(key)
        node["metadata"]["labels"]["team"] = "a"
        await store.update(key, node)
        await node_status.report(store, "kawa", tmp_path, lambda: next(times))
        node = await store.get(key)
        assert node["metadata"]["labels"]["team"] == "a"
        assert node["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] == ""
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["lastHeartbeatTime"] == "2026-01-01T00:01:00Z"
        await store.close()

    asyncio.run(run())


def test_the_advertised_address_is_the_internal_ip(tmp_path: Path) -> None:
    status = node_status.status(tmp_path, "2026-01-01T00:00:00Z", address="10.1.2.3")
    assert status["addresses"][0] == {"type": "InternalIP", "address": "10.1.2.3"}
    default = node_status.status(tmp_path, "2026-01-01T00:00:00Z")
    assert default["addresses"][0] == {"type": "InternalIP", "address": "127.0.0.1"}
