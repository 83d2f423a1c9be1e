"""Graceful Pod deletion end to end: the real ``kubectl delete`` against kawa's API server
and the kubelet (Terminating, SIGTERM, SIGKILL after the grace period, then the object goes)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kawa.errors import NotFoundError
from kawa.store.sqlite import SqliteResourceStore

from ...waiting import eventually
from .kubelet_support import (
    KUBECTL,
    Kubectl,
    Node,
    alive,
    conditions,
    pid_of,
    pod_key,
    pod_obj,
    running_kubelet,
    sh,
)

pytestmark = pytest.mark.skipif(not KUBECTL.exists(), reason=f"{KUBECTL} is not installed")

STUBBORN = "trap 'echo got TERM' TERM; echo up; while true; do sleep 0.1; done"


async def _gone(node: Node, name: str) -> bool:
    try:
        await node.get(name)
    except NotFoundError:
        return True
    return False


async def test_kubectl_delete_waits_out_the_grace_period(node: Node, kubectl: Kubectl) -> None:
    await node.create(pod_obj("stubborn", [sh(STUBBORN)]))
    pod = await node.wait_pod("stubborn", lambda p: conditions(p).get("Ready") == "True")
    pid = pid_of(pod)
    loop = asyncio.get_running_loop()
    began = loop.time()
    deleting = asyncio.create_task(kubectl("delete", "pod", "stubborn", "--grace-period=3"))

    async def terminating() -> str | None:
        code, out, _ = await kubectl("get", "pods", "--no-headers")
        return out if code == 0 and "Terminating" in out else None

    listed = await eventually(terminating, timeout=3, message="kubectl get pods: Terminating")
    assert listed.split()[:3] == ["stubborn", "1/1", "Terminating"]
    assert alive(pid)  # it ignores SIGTERM...
    code, out, err = await deleting
    took = loop.time() - began
    assert (code, out) == (0, 'pod "stubborn" deleted\n'), err
    assert 2.5 <= took < 10, took  # ...until SIGKILL, then kubectl sees the object go
    assert not alive(pid)
    assert await _gone(node, "stubborn")
    killing = [e for e in await node.events("stubborn") if e["reason"] == "Killing"]
    assert [e["message"] for e in killing] == ["Stopping container c"]


async def test_a_process_that_stops_on_sigterm_is_removed_at_once(
    node: Node, kubectl: Kubectl
) -> None:
    await node.create(pod_obj("polite", [sh("sleep 60")], grace=30))
    pod = await node.wait_pod("polite", lambda p: conditions(p).get("Ready") == "True")
    began = asyncio.get_running_loop().time()
    code, out, err = await kubectl("delete", "pod", "polite")
    assert (code, out) == (0, 'pod "polite" deleted\n'), err
    assert asyncio.get_running_loop().time() - began < 5
    assert not alive(pid_of(pod))


async def test_force_deletion_is_immediate(node: Node, kubectl: Kubectl) -> None:
    await node.create(pod_obj("forced", [sh(STUBBORN)], grace=30))
    pod = await node.wait_pod("forced", lambda p: conditions(p).get("Ready") == "True")
    began = asyncio.get_running_loop().time()
    code, _, err = await kubectl("delete", "pod", "forced", "--grace-period=0", "--force")
    assert code == 0, err
    assert asyncio.get_running_loop().time() - began < 5
    assert await _gone(node, "forced")
    pid = pid_of(pod)
    await eventually(lambda: _dead(pid), timeout=3, message="the process killed at once")


async def test_finished_pods_go_at_once(node: Node, kubectl: Kubectl) -> None:
    await node.create(pod_obj("done", [sh("true")], restart_policy="Never"))
    await node.wait_phase("done", "Succeeded")
    code, out, err = await kubectl("delete", "pod", "done", "--wait=false")
    assert (code, out) == (0, 'pod "done" deleted\n'), err
    assert await _gone(node, "done")


async def test_a_pod_left_terminating_by_a_previous_kawa_is_removed(tmp_path: Path) -> None:
    store = SqliteResourceStore(str(tmp_path / "store.db"))
    try:
        obj = pod_obj("orphan", [sh("sleep 60")])
        obj["spec"]["nodeName"] = "kawa"
        created = await store.create(pod_key("orphan"), obj)
        created["metadata"].update(
            deletionTimestamp="2024-01-01T00:00:30Z", deletionGracePeriodSeconds=30
        )
        await store.update(pod_key("orphan"), created)  # as the API server's delete does
        async with running_kubelet(tmp_path / "data", store) as node:
            await eventually(lambda: _gone(node, "orphan"), timeout=5, message="the Pod removed")
            assert not await node.events("orphan")  # never started
    finally:
        await store.close()


async def _dead(pid: int) -> bool:
    return not alive(pid)
