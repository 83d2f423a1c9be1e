"""Support for the e2e tests of Pods and Knative Services across nodes.

A Knative Service at min-scale 1 (``event-display``), its Ready Pods and URL as the API
shows them, and :func:`answers_through`: a CloudEvent to it through each node, by ``Host``
and by the path form of its URL, with the node that relayed it to the Pod
(``Kawa-Relayed-By``). Used by ``test_e2e_nodes.py`` and ``test_e2e_three_nodes.py``.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterable, Mapping
from typing import Any

from .e2e_support import KawaProcess

PODS = "/api/v1/namespaces/default/pods"
KSVC = "/apis/serving.knative.dev/v1/namespaces/default/services"
DISPLAY = "gcr.io/knative-releases/knative.dev/eventing/cmd/event_display"
RELAYED_BY = "Kawa-Relayed-By"


def sleeping() -> dict[str, Any]:
    """A Pod spec: one ``busybox`` that sleeps, stopped within a second."""
    return {
        "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "c", "image": "busybox", "args": ["sh", "-c", "sleep 3600"]}],
    }


def ballast(name: str, node: str, cpu: str = "") -> dict[str, Any]:
    """A sleeping Pod bound to ``node`` by name (requesting ``cpu``): it makes that node the
    busier in the scheduler's eyes."""
    spec = sleeping()
    if cpu:
        spec["containers"][0]["resources"] = {"requests": {"cpu": cpu}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "ballast"}},
        "spec": {**spec, "nodeName": node},
    }


def knative_service() -> dict[str, Any]:
    """The Knative Service ``display`` at min-scale 1."""
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "display", "namespace": "default"},
        "spec": {
            "template": {
                "metadata": {"annotations": {"autoscaling.knative.dev/min-scale": "1"}},
                "spec": {"containers": [{"image": DISPLAY}]},
            }
        },
    }


def ready(obj: Mapping[str, Any]) -> bool:
    """Whether ``obj``'s ``Ready`` condition is ``True``."""
    status = obj.get("status")
    conditions = status.get("conditions") or [] if isinstance(status, dict) else []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def ksvc_pods(kawa: KawaProcess) -> dict[str, str]:
    """The Knative Service's Ready Pods: name -> node."""
    status, found = kawa.request(
        "GET", f"{PODS}?labelSelector=serving.knative.dev%2Fservice%3Ddisplay"
    )
    if status != 200:
        return {}
    return {
        p["metadata"]["name"]: p["spec"].get("nodeName", "") for p in found["items"] if ready(p)
    }


def ksvc_url(kawa: KawaProcess) -> str | None:
    """The Knative Service's ``status.url`` once it is Ready."""
    status, found = kawa.request("GET", f"{KSVC}/display")
    return str(found["status"]["url"]) if status == 200 and ready(found) else None


def send_event(kawa: KawaProcess, path: str, host: str | None) -> tuple[int, str | None]:
    """A CloudEvent to ``path`` on ``kawa`` (with ``Host: host``): the answer's status (202
    from event-display itself) and the node that relayed it to the Pod, if any."""
    conn = http.client.HTTPConnection(kawa.host, kawa.port, timeout=10)
    headers = {
        "Content-Type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": f"e2e-{time.monotonic_ns()}",
        "ce-source": "/e2e/nodes",
        "ce-type": "e2e.nodes",
        **({"Host": host} if host else {}),
    }
    try:
        conn.request("POST", path, body=b'{"hello": "nodes"}', headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader(RELAYED_BY)
    except OSError:
        return 0, None
    finally:
        conn.close()


def answers_through(nodes: Mapping[str, KawaProcess], path: str) -> dict[str, set[str]] | None:
    """Through every node of ``nodes``, by ``Host`` (Knative's host name) and by ``path``
    (the path form of ``status.url``): the nodes that relayed the 202s (none: the Pod is on
    that node), or None while a request gets another answer."""
    relayed: dict[str, set[str]] = {}
    for name, kawa in nodes.items():
        relayed[name] = set()
        for target, host in (("/", "display.default.example.com"), (path, None)):
            status, by = send_event(kawa, target, host)
            if status != 202:
                return None
            relayed[name] |= {by} if by else set()
    return relayed


def relays_to(nodes: Iterable[str], holder: str) -> dict[str, set[str]]:
    """What :func:`answers_through` gives when the Pod is on ``holder``."""
    return {n: set() if n == holder else {holder} for n in nodes}
