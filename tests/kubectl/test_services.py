"""core/v1 Services end to end, through the real kubectl and plain HTTP on kawa's port.

Two Pods run kawa's event_display image (each on its own host port, named ``http``) behind a
Service whose ``targetPort`` names that port: the Endpoints list both, requests by ``Host``
(``<svc>.<ns>.svc.cluster.local``, ``<svc>.<ns>.svc``, ``<svc>.<ns>``) and by path
(``/services/<ns>/<svc>/``) reach both; a Trigger whose subscriber is the Service delivers to
it, the event sent with Knative's broker-ingress ``Host``; a Service with no ready Pod answers
503 saying so; ``kubectl expose`` builds a Service kawa accepts.
"""

from __future__ import annotations

import http.client
import itertools
import json
import re
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from ..e2e.e2e_support import KawaProcess, free_port
from ..waiting import wait_until
from .kubectl_support import Kubectl, condition, header

pytestmark = pytest.mark.slow

NS = "svcs"
IMAGE = "gcr.io/knative-releases/knative.dev/eventing/cmd/event_display"
PODS = ("display-a", "display-b")
_ids = itertools.count(1)


def pod(name: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": "display"}},
        "spec": {
            "containers": [
                {
                    "name": "display",
                    "image": IMAGE,
                    "ports": [{"name": "http", "containerPort": port}],
                }
            ]
        },
    }


def service(name: str, selector: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": "http"}]},
    }


def send(
    kawa: KawaProcess, path: str, host: str | None = None, event_id: str | None = None
) -> tuple[int, str, str]:
    """POST a CloudEvent to kawa's port: (status, body, the event's id)."""
    event_id = event_id or f"svc-{next(_ids)}"
    headers = {
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-source": "/test",
        "ce-type": "test.services",
        "content-type": "application/json",
    }
    if host is not None:
        headers["Host"] = host
    connection = http.client.HTTPConnection("127.0.0.1", kawa.port, timeout=30)
    try:
        connection.request("POST", path, body=b'{"hello": 1}', headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode(), event_id
    finally:
        connection.close()


@pytest.fixture(scope="module")
def displays(kawa: KawaProcess, kubectl_module: Kubectl) -> Iterator[Kubectl]:
    kubectl = kubectl_module
    port = free_port()
    kubectl.apply(
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
            # one port for both: each Pod listens on its own loopback address
            *(pod(name, port) for name in PODS),
            service("display", {"app": "display"}),
            {
                "apiVersion": "eventing.knative.dev/v1",
                "kind": "Broker",
                "metadata": {"name": "default", "namespace": NS},
            },
        ]
    )

    def both_ready() -> bool:
        found = kubectl.json("get", "endpoints", "display", "-n", NS)
        ready = [a for s in found.get("subsets") or [] for a in s.get("addresses") or []]
        return len(ready) == 2

    wait_until(both_ready, 30, "the Endpoints never listed both Pods")
    yield kubectl
    kubectl.run("delete", "namespace", NS, "--wait=false")


@pytest.fixture(scope="module")
def kubectl_module(kawa: KawaProcess, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(kawa.data_dir / "kubeconfig", tmp_path_factory.mktemp("kube-cache"))


def logs(kubectl: Kubectl, name: str) -> str:
    run = kubectl.run("logs", name, "-n", NS)
    return run.stdout if run.code == 0 else ""


def delivered_to(kubectl: Kubectl, event_id: str) -> list[str]:
    return [name for name in PODS if re.search(rf"id: {event_id}\b", logs(kubectl, name))]


def test_kubectl_shows_the_service_its_endpoints_and_slices(displays: Kubectl) -> None:
    table = displays.ok("get", "svc", "display", "-n", NS)
    assert header(table) == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    cells = table.splitlines()[1].split()
    assert cells[1:3] == ["ClusterIP", cells[2]]
    assert cells[2].startswith("10.")
    assert cells[3:5] == ["<none>", "80/TCP"]
    endpoints = displays.ok("get", "ep", "display", "-n", NS)
    assert header(endpoints) == ["NAME", "ENDPOINTS", "AGE"]
    assert len(endpoints.splitlines()[1].split()[1].split(",")) == 2
    slices = displays.json(
        "get", "endpointslices", "-n", NS, "-l", "kubernetes.io/service-name=display"
    )
    assert len(slices["items"]) == 1  # both Pods serve the same port
    assert len(slices["items"][0]["endpoints"]) == 2
    assert {s["metadata"]["ownerReferences"][0]["name"] for s in slices["items"]} == {"display"}
    described = displays.ok("describe", "svc", "display", "-n", NS)
    assert "Selector:" in described
    assert "app=display" in described
    pod_ips = {
        p["status"]["podIP"]
        for p in displays.json("get", "pods", "-n", NS, "-l", "app=display")["items"]
    }
    assert all(f"{ip}:" in described for ip in pod_ips), described


@pytest.mark.parametrize(
    ("path", "host"),
    [
        ("/", f"display.{NS}.svc.cluster.local"),
        ("/", f"display.{NS}.svc.cluster.local:80"),
        ("/", f"display.{NS}.svc"),
        ("/", f"display.{NS}"),
        (f"/services/{NS}/display/", None),
        (f"/services/{NS}/display:80/", None),
    ],
)
def test_requests_reach_both_endpoints(
    displays: Kubectl, kawa: KawaProcess, path: str, host: str | None
) -> None:
    reached: set[str] = set()
    for _ in range(4):
        status, body, event_id = send(kawa, path, host)
        assert status == 202, body
        reached.update(
            wait_until(
                lambda event_id=event_id: delivered_to(displays, event_id),  # type: ignore[misc]
                15,
                f"event {event_id} never reached a display",
            )
        )
    assert reached == set(PODS)


def test_unknown_port_and_unready_service_say_why(displays: Kubectl, kawa: KawaProcess) -> None:
    status, body, _ = send(kawa, f"/services/{NS}/display:8443/")
    assert status == 404
    assert "has no port 8443 (its ports: 80)" in body
    displays.apply(service("nobody", {"app": "nobody"}))

    def answered() -> tuple[int, str] | None:
        status, body, _ = send(kawa, "/", f"nobody.{NS}.svc.cluster.local")
        return (status, body) if status != 404 else None  # until the proxy knows it

    status, body = wait_until(answered, 15, "the Service never became known")
    assert status == 503
    assert "has no ready endpoint for port 80" in body
    assert "no running Pod matches app=nobody" in body
    status, body, _ = send(kawa, f"/services/{NS}/missing/")
    assert status == 404
    assert "no Service 'missing'" in body


def test_a_trigger_delivers_to_a_v1_service(displays: Kubectl, kawa: KawaProcess) -> None:
    displays.apply(
        {
            "apiVersion": "eventing.knative.dev/v1",
            "kind": "Trigger",
            "metadata": {"name": "to-display", "namespace": NS},
            "spec": {
                "broker": "default",
                "subscriber": {"ref": {"apiVersion": "v1", "kind": "Service", "name": "display"}},
            },
        }
    )

    def ready() -> dict[str, Any] | None:
        found = displays.json("get", "trigger", "to-display", "-n", NS)
        ok = condition(found)
        return found if ok is not None and ok["status"] == "True" else None

    trigger = wait_until(ready, 30, "the Trigger never became Ready")
    assert trigger["status"]["subscriberUri"] == f"{kawa.url}/services/{NS}/display"
    # Knative's broker ingress URL form, by Host
    status, body, event_id = send(
        kawa, f"/{NS}/default", "broker-ingress.knative-eventing.svc.cluster.local"
    )
    assert status == 202, body
    wait_until(
        lambda: delivered_to(displays, event_id), 30, "the Trigger never delivered the event"
    )
    status, body, _ = send(kawa, "/nope", "broker-ingress.knative-eventing.svc.cluster.local")
    assert status == 404
    assert "/<namespace>/<broker>" in body


def test_a_cluster_name_uri_is_delivered_through_kawa(displays: Kubectl, kawa: KawaProcess) -> None:
    # Knative's examples write sinks as cluster names: kawa's delivery connects those to itself
    displays.apply(
        {
            "apiVersion": "eventing.knative.dev/v1",
            "kind": "Trigger",
            "metadata": {"name": "by-name", "namespace": NS},
            "spec": {
                "broker": "default",
                "filter": {"attributes": {"type": "test.by-name"}},
                "subscriber": {"uri": f"http://display.{NS}.svc.cluster.local"},
            },
        }
    )

    def ready() -> bool:
        ok = condition(displays.json("get", "trigger", "by-name", "-n", NS))
        return ok is not None and ok["status"] == "True"

    wait_until(ready, 30, "the Trigger never became Ready")
    event_id = f"by-name-{next(_ids)}"
    connection = http.client.HTTPConnection("127.0.0.1", kawa.port, timeout=30)
    try:
        connection.request(
            "POST",
            f"/brokers/{NS}/default",
            body=b"{}",
            headers={
                "ce-specversion": "1.0",
                "ce-id": event_id,
                "ce-source": "/test",
                "ce-type": "test.by-name",
            },
        )
        assert connection.getresponse().status == 202
    finally:
        connection.close()
    wait_until(lambda: delivered_to(displays, event_id), 30, "never delivered by cluster name")


SENDER = """\
import os, time, urllib.request
n = 0
while True:
    n += 1
    headers = {"ce-specversion": "1.0", "ce-id": f"from-source-{n}", "ce-source": "/sender",
               "ce-type": "test.from-source", "content-type": "application/json"}
    try:
        urllib.request.urlopen(urllib.request.Request(
            os.environ["K_SINK"], data=b"{}", headers=headers, method="POST"), timeout=5).read()
    except OSError as err:
        print(err, flush=True)
    time.sleep(0.5)
"""


def test_a_container_source_sends_to_a_v1_service(displays: Kubectl, kawa: KawaProcess) -> None:
    displays.apply(
        {
            "apiVersion": "sources.knative.dev/v1",
            "kind": "ContainerSource",
            "metadata": {"name": "sender", "namespace": NS},
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "sender",
                                "image": "docker.io/library/python:3.11-slim",
                                "command": [sys.executable, "-c", SENDER],
                            }
                        ]
                    }
                },
                "sink": {"ref": {"apiVersion": "v1", "kind": "Service", "name": "display"}},
            },
        }
    )
    try:
        found = wait_until(
            lambda: (
                displays.json("get", "containersource", "sender", "-n", NS)
                .get("status", {})
                .get("sinkUri")
            ),
            30,
            "the ContainerSource never resolved its sink",
        )
        assert found == f"{kawa.url}/services/{NS}/display"
        wait_until(
            lambda: delivered_to(displays, "from-source-1"), 30, "the source's event never arrived"
        )
    finally:
        displays.run("delete", "containersource", "sender", "-n", NS)


def test_kubectl_expose_pod(displays: Kubectl) -> None:
    out = displays.ok(
        "expose",
        "pod",
        "display-a",
        "-n",
        NS,
        "--name",
        "exposed",
        "--port",
        "8000",
        "--target-port",
        "http",
    )
    assert "service/exposed exposed" in out
    found = displays.json("get", "svc", "exposed", "-n", NS)
    assert found["spec"]["selector"] == {"app": "display"}
    assert found["spec"]["ports"][0]["targetPort"] == "http"


def test_kubectl_create_service_sends_protobuf_kawa_reads(displays: Kubectl) -> None:
    made = displays.ok(
        "create", "service", "nodeport", "made", "-n", NS, "--tcp=5678:8080", "--node-port=30001"
    )
    assert "service/made created" in made
    found = displays.json("get", "svc", "made", "-n", NS)
    assert found["spec"]["type"] == "NodePort"
    assert found["spec"]["selector"] == {"app": "made"}
    assert found["spec"]["ports"] == [
        {
            "name": "5678-8080",
            "port": 5678,
            "protocol": "TCP",
            "targetPort": 8080,
            "nodePort": 30001,
        }
    ]
    displays.ok(
        "create", "service", "clusterip", "hl", "-n", NS, "--clusterip=None", "--tcp=80:http"
    )
    headless = displays.json("get", "svc", "hl", "-n", NS)
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["ports"][0]["targetPort"] == "http"
    displays.ok("create", "service", "externalname", "ext", "-n", NS, "--external-name=x.example")
    table = displays.ok("get", "svc", "ext", "-n", NS, "--no-headers").split()
    assert table[1:4] == ["ExternalName", "<none>", "x.example"]
    by_type = displays.ok("get", "svc", "-n", NS, "--field-selector", "spec.type=NodePort")
    assert [line.split()[0] for line in by_type.splitlines()[1:]] == ["made"]


def test_kawa_as_http_proxy_reaches_cluster_names(displays: Kubectl, kawa: KawaProcess) -> None:
    # what a program with http_proxy=<kawa> sends: absolute-form request targets
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": kawa.url}))
    with opener.open(f"http://display.{NS}.svc.cluster.local/healthz?x=1", timeout=30) as got:
        assert got.status == 200
        assert got.read() == b"ok\n"


def test_a_bad_service_gets_kubernetes_errors(displays: Kubectl) -> None:
    bad = service("bad", {"app": "x"})
    bad["spec"]["ports"] = [{"port": 80, "nodePort": 30080}, {"port": 70000}]
    refused = displays.fails("apply", "-f", "-", stdin=json.dumps(bad))
    assert 'Service "bad" is invalid' in refused.stderr, refused.stderr
    for expected in (
        "spec.ports[0].name: Required value",
        "spec.ports[1].name: Required value",
        "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
        "spec.ports[1].port",
    ):
        assert expected in refused.stderr, refused.stderr
    displays.apply(service("fixed", {"app": "x"}))
    moved = service("fixed", {"app": "x"})
    moved["spec"]["clusterIP"] = "10.96.0.77"
    refused = displays.fails("apply", "-f", "-", stdin=json.dumps(moved))
    assert "spec.clusterIP: Invalid value" in refused.stderr, refused.stderr
    assert "field is immutable" in refused.stderr
