"""The real ``kubectl logs`` against kawa's API server and the kubelet's log handler."""

from __future__ import annotations

import re

import pytest

from .kubelet_support import KUBECTL, Kubectl, Node, conditions, container_status, pod_obj, sh

pytestmark = pytest.mark.skipif(not KUBECTL.exists(), reason=f"{KUBECTL} is not installed")


async def test_kubectl_logs(node: Node, kubectl: Kubectl) -> None:
    labels = {"serving.knative.dev/service": "hello"}
    for name in ("hello-1", "hello-2"):
        script = f"echo {name} says hi; echo {name} again; sleep 60"
        containers = [sh(script, name="user-container"), sh("sleep 60", name="queue-proxy")]
        await node.create(pod_obj(name, containers, labels=labels))
    for name in ("hello-1", "hello-2"):
        await node.wait_pod(name, lambda p: conditions(p).get("Ready") == "True")
    await node.wait_pod("hello-2", lambda p: _has(node, p, "user-container", "again"))
    await node.wait_pod("hello-1", lambda p: _has(node, p, "user-container", "again"))

    code, out, err = await kubectl("logs", "hello-1", "-c", "user-container")
    assert (code, out) == (0, "hello-1 says hi\nhello-1 again\n"), err
    code, out, err = await kubectl("logs", "hello-1", "-c", "user-container", "--tail=1")
    assert out == "hello-1 again\n", err
    code, out, err = await kubectl("logs", "hello-1", "-c", "user-container", "--since=1h")
    assert out == "hello-1 says hi\nhello-1 again\n", err
    code, out, err = await kubectl("logs", "hello-1", "-c", "user-container", "--timestamps")
    assert re.fullmatch(r"\S+Z hello-1 says hi\n\S+Z hello-1 again\n", out), out + err
    code, out, err = await kubectl(
        "logs", "-l", "serving.knative.dev/service=hello", "-c", "user-container"
    )
    assert code == 0, err
    assert sorted(out.splitlines()) == sorted(
        ["hello-1 says hi", "hello-1 again", "hello-2 says hi", "hello-2 again"]
    )
    code, out, err = await kubectl("logs", "hello-1", "-c", "nope")
    assert code != 0
    assert "container nope is not valid for pod hello-1" in err


async def test_kubectl_logs_follow_and_previous(node: Node, kubectl: Kubectl) -> None:
    await node.configure("config-kawa-kubelet", {"crash-loop-backoff-initial": "100ms"})
    script = "for i in 1 2 3; do echo n$i; sleep 0.2; done"
    await node.create(pod_obj("counter", [sh(script)], restart_policy="Never"))
    await node.wait_pod("counter", lambda p: container_status(p).get("ready") is True)
    code, out, err = await kubectl("logs", "-f", "counter")
    assert (code, out) == (0, "n1\nn2\nn3\n"), err
    await node.create(pod_obj("crashy", [sh("echo boom; exit 2")]))
    await node.wait_pod("crashy", lambda p: container_status(p).get("restartCount", 0) >= 1)
    code, out, err = await kubectl("logs", "crashy", "--previous")
    assert (code, out) == (0, "boom\n"), err


def _has(node: Node, pod: dict[str, object], container: str, text: str) -> bool:
    try:
        return text in node.log_file(pod, container).read_text()
    except FileNotFoundError:
        return False
