"""Pod traffic across nodes: two ``kawa up --nats`` nodes on one private nats-server, each
reaching the other's Pods through the other's kawa.

Both nodes run on this machine (the Pods' loopback addresses would be reachable directly),
so every check asserts the request went through the Pod's node: the answer carries
``Kawa-Relayed-By: <that node>``, which only a relay adds. (1) a v1 Service whose only Pod is
bound to ``b`` answers through ``a``'s Service proxy by ``Host``; (2) a Knative Service at
min-scale 1 answers through the router of the node that does not hold its Pod; (3) a relay
refuses a target that is not one of its own Pods (421), and a request to a Pod on the node
that received it goes straight there (no relay)."""

from __future__ import annotations

import http.client
from pathlib import Path
from typing import Any

import pytest

from ..nats_support import nats_server
from ..waiting import wait_until
from .e2e_support import KawaProcess
from .test_e2e_nodes import node, ready_nodes

IMAGE = "gcr.io/knative-releases/knative.dev/eventing/cmd/event_display"
RELAYED_BY = "Kawa-Relayed-By"
TARGET = "Kawa-Pod-Target"
KSVC = "/apis/serving.knative.dev/v1/namespaces/default/services"


def deployment() -> dict[str, Any]:
    labels = {"app": "web"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeName": "b",
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {"name": "web", "image": IMAGE, "ports": [{"containerPort": 8080}]}
                    ],
                },
            },
        },
    }


def v1_service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def knative_service() -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "display", "namespace": "default"},
        "spec": {
            "template": {
                "metadata": {"annotations": {"autoscaling.knative.dev/min-scale": "1"}},
                "spec": {"containers": [{"image": IMAGE}]},
            }
        },
    }


def call(kawa: KawaProcess, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", kawa.port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        conn.close()


def ready_endpoint(kawa: KawaProcess, name: str) -> dict[str, Any] | None:
    status, found = kawa.request("GET", f"/api/v1/namespaces/default/endpoints/{name}")
    if status != 200:
        return None
    for subset in found.get("subsets") or []:
        for address in subset.get("addresses") or []:
            return dict(address, port=subset["ports"][0]["port"])
    return None


def ksvc_pod(kawa: KawaProcess) -> dict[str, Any] | None:
    selector = "serving.knative.dev%2Fservice%3Ddisplay"
    status, found = kawa.request("GET", f"/api/v1/namespaces/default/pods?labelSelector={selector}")
    assert status == 200, found
    for pod in found["items"]:
        ready = any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in pod.get("status", {}).get("conditions", [])
        )
        if ready and pod["spec"].get("nodeName"):
            return dict(pod)
    return None


def ksvc_ready(kawa: KawaProcess) -> bool:
    status, found = kawa.request("GET", f"{KSVC}/display")
    conditions = found.get("status", {}).get("conditions", []) if status == 200 else []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


@pytest.mark.slow
def test_pods_are_reached_through_their_node(tmp_path: Path) -> None:
    with nats_server(tmp_path / "nats") as url:
        # both on this machine, where kawa listens; only the relay header tells them apart
        a, b = node(tmp_path, "a", url, "127.0.0.1"), node(tmp_path, "b", url, "127.0.0.1")
        by_name = {"a": a, "b": b}
        try:
            a.start()
            b.start()
            wait_until(lambda: ready_nodes(a) == {"a", "b"}, 20, "the nodes never got Ready")
            status, body = a.request(
                "POST", "/apis/apps/v1/namespaces/default/deployments", deployment()
            )
            assert status == 201, body
            status, body = a.request("POST", "/api/v1/namespaces/default/services", v1_service())
            assert status == 201, body
            status, body = a.request("POST", KSVC, knative_service())
            assert status == 201, body

            # (1) a v1 Service's Pod on b, through a's Service proxy by Host
            endpoint = wait_until(lambda: ready_endpoint(a, "web"), 40, "web never got ready")
            assert endpoint["nodeName"] == "b", endpoint
            host = {"Host": "web.default.svc.cluster.local"}
            status, headers, text = call(a, "/healthz", host)
            assert status == 200, text
            assert headers.get(RELAYED_BY) == "b", headers
            status, headers, text = call(b, "/healthz", host)  # on its own node: direct
            assert status == 200, text
            assert RELAYED_BY not in headers, headers

            # (2) a Knative Service's Pod, through the router of the node that lacks it
            pod = wait_until(lambda: ksvc_pod(a), 40, "the Knative Service's Pod never ran")
            holder = pod["spec"]["nodeName"]
            other = by_name["b" if holder == "a" else "a"]
            wait_until(lambda: ksvc_ready(other), 40, "the Knative Service never got Ready")
            for path, headers_in in (
                ("/serving/default/display/healthz", {}),
                ("/healthz", {"Host": "display.default.svc.cluster.local"}),
            ):
                status, headers, text = call(other, path, headers_in)
                assert status == 200, text
                assert headers.get(RELAYED_BY) == holder, headers

            # (3) a relay refuses what is not one of its Pods
            web_pod = f"{endpoint['ip']}:{endpoint['port']}"
            status, _, text = call(a, "/healthz", {TARGET: web_pod})  # web's Pod is on b
            assert status == 421, text
            assert "relays only to the declared ports of its own Pods" in text, text
            status, _, text = call(b, "/healthz", {TARGET: f"127.0.0.1:{a.port}"})
            assert status == 421, text
            status, headers, text = call(b, "/healthz", {TARGET: web_pod})  # b's own Pod
            assert status == 200, text
            assert headers.get(RELAYED_BY) == "b", headers
        finally:
            a.stop()
            b.stop()
