"""A container that declares a port but listens elsewhere (it ignores ``$PORT``) is never
ready: after a few seconds kawa says why, in an ``Unhealthy`` Event and in the Pod's
``ContainersReady`` condition."""

from __future__ import annotations

from typing import Any

from .kubelet_support import PYTHON, Node, conditions, free_port, pod_obj, sh


def _condition(pod: dict[str, Any], kind: str) -> dict[str, Any]:
    for condition in pod.get("status", {}).get("conditions", []):
        if condition["type"] == kind:
            return dict(condition)
    return {}


async def test_a_closed_port_is_explained(node: Node) -> None:
    port = free_port()
    container = sh("echo I listen nowhere; sleep 60", ports=[{"containerPort": port}])
    await node.create(pod_obj("deaf", [container]))
    pod_ip = (await node.wait_pod("deaf", lambda p: "podIP" in p.get("status", {})))["status"][
        "podIP"
    ]
    hint = f"nothing listens on {pod_ip}:{port} (the container must listen on $PORT={port})"
    events = await node.wait_events("deaf", {"Unhealthy"}, timeout=15)
    unhealthy = [e for e in events if e["reason"] == "Unhealthy"]
    assert [(e["type"], e["message"]) for e in unhealthy] == [
        ("Warning", f"Readiness probe failed: {hint}")
    ]
    assert unhealthy[0]["involvedObject"]["fieldPath"] == "spec.containers{c}"
    pod = await node.wait_pod("deaf", lambda p: hint in _condition(p, "ContainersReady")["message"])
    ready = _condition(pod, "ContainersReady")
    assert ready["status"] == "False"
    assert ready["message"] == f"containers with unready status: [c]; c: {hint}"
    assert conditions(pod)["Ready"] == "False"


async def test_the_hint_goes_once_the_port_opens(node: Node) -> None:
    port = free_port()
    # a program that opens its port only after 4 s (the sleep is the behaviour under test)
    server = (
        "import http.server, time\n"
        "time.sleep(4)\n"
        f"http.server.HTTPServer(('', {port}), http.server.BaseHTTPRequestHandler)"
        ".serve_forever()\n"
    )
    container = {
        "name": "c",
        "image": "python",
        "command": [PYTHON, "-c", server],
        "ports": [{"containerPort": port}],
    }
    await node.create(pod_obj("late", [container]))
    await node.wait_pod(
        "late", lambda p: "nothing listens" in _condition(p, "ContainersReady").get("message", "")
    )
    pod = await node.wait_pod("late", lambda p: conditions(p).get("Ready") == "True", timeout=15)
    assert "nothing listens" not in _condition(pod, "ContainersReady").get("message", "")
