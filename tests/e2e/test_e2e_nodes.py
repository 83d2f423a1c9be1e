"""Pods across nodes: three ``kawa up --nats`` nodes on one private nats-server, each listening
on the address it advertises (``127.0.0.2``, ``.3``, ``.4``), as on machines of their own.

All register their Node (``kubectl get nodes`` lists ``a``, ``b`` and ``c`` with their
``InternalIP``); the leader's scheduler puts the three Pods of a Deployment one on each node
(the fewest Pods first), and each node's kubelet runs only its own. A Knative Service at
min-scale 1 gets its one Pod on a node that does not lead (a Pod bound to the leader by name
makes it the busier) and answers by ``Host`` and by its URL through every node: the two
others relay to the Pod's node. After a SIGKILL of that node, its Lease is no longer
renewed: within the node monitor grace period its Node turns ``Unknown`` and its Pods
``Failed`` (``NodeLost``); the ReplicaSet makes a replacement and the Revision's autoscaler a
new Pod (the lost one deleted), which the scheduler puts on the live nodes, and the Service
answers through both of them again, every time."""

from __future__ import annotations

import subprocess
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from kawa.apiserver import access

from ..nats_support import nats_server
from ..waiting import wait_until
from .e2e_support import KawaProcess, free_port, start_together, stop_together
from .serving_support import (
    KSVC,
    PODS,
    answers_through,
    ballast,
    knative_service,
    ksvc_pods,
    ksvc_url,
    ready,
    relays_to,
    sleeping,
)

GRACE = 4.0
"""--node-monitor-grace-period of the test's nodes (seconds)."""


def node(tmp_path: Path, name: str, nats: str, advertise: str | None = None) -> KawaProcess:
    """Node ``name``, advertised at and listening on ``127.0.0.2`` for ``a``, ``.3`` for
    ``b``... unless ``advertise`` says otherwise."""
    address = advertise or f"127.0.0.{ord(name) - ord('a') + 2}"
    return KawaProcess(
        tmp_path,
        tmp_path / f"data-{name}",
        free_port(),
        free_port(),
        (
            "--node-name", name,
            "--advertise-address", address,
            "--leader-lease-duration", "3",
            "--node-monitor-grace-period", str(GRACE),
        ),
        nats,
        address,
    )  # fmt: skip


def deployment(replicas: int) -> dict[str, Any]:
    labels = {"app": "sleeper"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "sleeper", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": sleeping()},
        },
    }


def ready_nodes(kawa: KawaProcess) -> set[str]:
    status, found = kawa.request("GET", "/api/v1/nodes")
    if status != 200:
        return set()
    return {n["metadata"]["name"] for n in found["items"] if ready(n)}


def running_pods(kawa: KawaProcess, selector: str = "app%3Dsleeper") -> dict[str, str]:
    """Running Pods of the Deployment (or of ``selector``): name -> node."""
    status, found = kawa.request("GET", f"{PODS}?labelSelector={selector}")
    if status != 200:
        return {}
    return {
        p["metadata"]["name"]: p["spec"].get("nodeName", "")
        for p in found["items"]
        if p.get("status", {}).get("phase") == "Running"
    }


@pytest.mark.slow
def test_pods_spread_over_nodes_and_move_off_a_killed_one(tmp_path: Path) -> None:
    with nats_server(tmp_path / "nats") as nats:
        nodes = {name: node(tmp_path, name, nats) for name in "abc"}
        a, b = nodes["a"], nodes["b"]
        try:
            start_together(nodes.values())
            wait_until(lambda: ready_nodes(a) == set(nodes), 20, "the nodes never got Ready")
            listed = subprocess.run(
                ["kubectl", "--kubeconfig", str(b.data_dir / access.KUBECONFIG_FILE),
                 "get", "nodes", "-o", "wide", "--no-headers"],
                capture_output=True, text=True, timeout=20, check=True,
            ).stdout  # fmt: skip
            rows = {line.split()[0]: line.split() for line in listed.splitlines()}
            assert set(rows) == set(nodes), listed
            assert "127.0.0.3" in rows["b"], listed  # b's InternalIP

            def leader() -> str:
                path = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kawa-controllers"
                status, lease = a.request("GET", path)
                return str(lease["spec"].get("holderIdentity") or "") if status == 200 else ""

            lead = wait_until(leader, 15, "no leader")
            status, body = b.request(
                "POST", "/apis/apps/v1/namespaces/default/deployments", deployment(3)
            )
            assert status == 201, body

            def all_running() -> dict[str, str] | None:
                found = running_pods(a)
                return found if len(found) == 3 else None

            spread = wait_until(all_running, 30, "the Deployment's Pods never ran")
            assert sorted(spread.values()) == ["a", "b", "c"], spread

            # one more Pod on the leader: the Service's Pod goes to a node that does not lead
            status, body = a.request("POST", PODS, ballast("ballast", lead))
            assert status == 201, body
            status, body = b.request("POST", KSVC, knative_service())
            assert status == 201, body
            [(ksvc_pod, victim_name)] = wait_until(
                lambda: list(ksvc_pods(a).items()), 40, "the Knative Service's Pod never ran"
            )
            assert victim_name != lead, (victim_name, lead)
            url = wait_until(lambda: ksvc_url(a), 40, "the Knative Service never got Ready")
            path = urllib.parse.urlsplit(url).path
            assert path == "/serving/default/display", url
            # through every node: the two others relay to the Pod's node
            relayed = wait_until(
                lambda: answers_through(nodes, path), 20, "the Service did not answer"
            )
            assert relayed == relays_to(nodes, victim_name)

            victim = nodes[victim_name]
            survivors = {n: k for n, k in nodes.items() if n != victim_name}
            survivor = nodes[lead]
            [lost_pod] = [p for p, n in spread.items() if n == victim_name]
            victim.kill()
            killed = time.monotonic()

            def replaced() -> dict[str, str] | None:
                found = running_pods(survivor)
                live = {p: n for p, n in found.items() if n in survivors}
                return live if len(live) == 3 and lost_pod not in found else None

            moved = wait_until(replaced, GRACE + 25, "the lost Pod was never replaced")
            took = time.monotonic() - killed
            # the grace period, then a replacement scheduled and started on a loaded machine
            assert took < GRACE + 15, took
            assert set(moved.values()) == set(survivors), moved

            # the Service's new Pod runs on a live node and answers through both of them
            def ksvc_moved() -> dict[str, set[str]] | None:
                pods = ksvc_pods(survivor)
                if ksvc_pod in pods or not pods:
                    return None
                return answers_through(survivors, path)

            relayed = wait_until(ksvc_moved, GRACE + 25, "the Service never answered again")
            took = time.monotonic() - killed
            assert took < GRACE + 15, took
            [(new_pod, holder)] = ksvc_pods(survivor).items()
            assert holder in survivors, (new_pod, holder)
            assert relayed == relays_to(survivors, holder)
            for _ in range(5):  # and every time: no live node still sends to the lost Pod
                assert answers_through(survivors, path) == relays_to(survivors, holder)
            # the Service and its Revision stay (or are again) Ready
            assert wait_until(lambda: ksvc_url(survivor), 10, "the Service is not Ready") == url
            revision = "/apis/serving.knative.dev/v1/namespaces/default/revisions/display-00001"
            wait_until(
                lambda: ready(survivor.request("GET", revision)[1]),
                10,
                "the Revision is not Ready",
            )
            # the lost Pods: the sleeper Failed (its ReplicaSet keeps it), the Service's deleted
            status, lost = survivor.request("GET", f"{PODS}/{lost_pod}")
            assert status == 200, lost
            assert (lost["status"]["phase"], lost["status"]["reason"]) == ("Failed", "NodeLost")
            wait_until(
                lambda: survivor.request("GET", f"{PODS}/{ksvc_pod}")[0] == 404,
                10,
                "the Service's lost Pod was never deleted",
            )
            status, gone = survivor.request("GET", f"/api/v1/nodes/{victim_name}")
            gone_ready = [c for c in gone["status"]["conditions"] if c["type"] == "Ready"]
            assert gone_ready[0]["status"] == "Unknown", gone_ready
        finally:
            stop_together(nodes.values())
