"""A kubelet runs only the Pods bound to its node, and stops the containers of a Pod the
node lifecycle controller failed ``NodeLost`` (it was replaced elsewhere meanwhile)."""

from __future__ import annotations

import asyncio

from kawa.store.base import ResourceKey

from ...waiting import eventually
from .kubelet_support import Node, alive, pid_of, pod_obj, sh


async def test_a_pod_of_another_node_is_not_run(node: Node) -> None:
    await node.store.create(
        ResourceKey("nodes", "", "other"),
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "other"}, "spec": {}},
    )
    elsewhere = pod_obj("elsewhere", [sh("sleep 60")])
    elsewhere["spec"]["nodeName"] = "other"
    await node.create(elsewhere)
    here = await node.create(pod_obj("here", [sh("sleep 60")]))
    await node.wait_phase(here["metadata"]["name"], "Running")
    await asyncio.sleep(0.2)
    assert ("default", "elsewhere") not in node.kubelet.workers
    untouched = await node.get("elsewhere")
    assert "containerStatuses" not in untouched.get("status", {})


async def test_a_pod_failed_node_lost_is_stopped(node: Node) -> None:
    await node.create(pod_obj("lost", [sh("sleep 60")]))
    running = await node.wait_phase("lost", "Running")
    pid = pid_of(running)
    failed = dict(
        running,
        status={**running["status"], "phase": "Failed", "reason": "NodeLost"},
    )
    await node.store.update(ResourceKey("pods", "default", "lost"), failed, status_only=True)

    async def stopped() -> bool:
        return not alive(pid)

    await eventually(stopped, 10.0, "the lost Pod's container still runs")
    await asyncio.sleep(0.3)
    pod = await node.get("lost")  # kept (its owner decides), not written over by the kubelet
    assert (pod["status"]["phase"], pod["status"]["reason"]) == ("Failed", "NodeLost")
