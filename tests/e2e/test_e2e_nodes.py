"""Pods across nodes: two ``kawa up --nats`` nodes on one private nats-server.

Both register their Node (``kubectl get nodes`` lists ``a`` and ``b`` with their
``InternalIP``); the leader's scheduler puts the two Pods of a Deployment one on each node
(the fewest Pods first), and each node's kubelet runs only its own. After a SIGKILL of the
node that does not lead, its Lease is no longer renewed: within the node monitor's grace
period its Node turns ``Unknown`` and its Pod ``Failed`` (``NodeLost``); the ReplicaSet makes
a replacement, which the scheduler puts on the survivor, where it runs."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from kawa.apiserver import access

from ..nats_support import nats_server
from ..waiting import wait_until
from .e2e_support import KawaProcess, free_port

GRACE = 4.0
"""--node-monitor-grace-period of the test's nodes (seconds)."""
PODS = "/api/v1/namespaces/default/pods"


def node(tmp_path: Path, name: str, nats: str, advertise: str | None = None) -> KawaProcess:
    """Node ``name``; advertised at ``127.0.0.2`` for ``a``, ``.3`` for ``b``... unless
    ``advertise`` says otherwise (kawa listens on 127.0.0.1: a test that reaches a Pod through
    another node needs that address)."""
    return KawaProcess(
        tmp_path,
        tmp_path / f"data-{name}",
        free_port(),
        free_port(),
        (
            "--node-name", name,
            "--advertise-address", advertise or f"127.0.0.{ord(name) - ord('a') + 2}",
            "--leader-lease-duration", "3",
            "--node-monitor-grace-period", str(GRACE),
        ),
        nats,
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
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {"name": "c", "image": "busybox", "args": ["sh", "-c", "sleep 3600"]}
                    ],
                },
            },
        },
    }


def ready_nodes(kawa: KawaProcess) -> set[str]:
    status, found = kawa.request("GET", "/api/v1/nodes")
    if status != 200:
        return set()
    return {
        n["metadata"]["name"]
        for n in found["items"]
        if any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in n.get("status", {}).get("conditions", [])
        )
    }


def running_pods(kawa: KawaProcess) -> dict[str, str]:
    """Running Pods of the Deployment: name -> node."""
    status, found = kawa.request("GET", f"{PODS}?labelSelector=app%3Dsleeper")
    if status != 200:
        return {}
    return {
        p["metadata"]["name"]: p["spec"].get("nodeName", "")
        for p in found["items"]
        if p.get("status", {}).get("phase") == "Running"
    }


@pytest.mark.slow
def test_pods_spread_over_nodes_and_move_off_a_killed_one(tmp_path: Path) -> None:
    with nats_server(tmp_path / "nats") as url:
        a, b = node(tmp_path, "a", url), node(tmp_path, "b", url)
        try:
            a.start()
            b.start()
            wait_until(lambda: ready_nodes(a) == {"a", "b"}, 20, "the nodes never got Ready")
            listed = subprocess.run(
                ["kubectl", "--kubeconfig", str(b.data_dir / access.KUBECONFIG_FILE),
                 "get", "nodes", "-o", "wide", "--no-headers"],
                capture_output=True, text=True, timeout=20, check=True,
            ).stdout  # fmt: skip
            rows = {line.split()[0]: line.split() for line in listed.splitlines()}
            assert set(rows) == {"a", "b"}, listed
            assert "127.0.0.3" in rows["b"], listed  # b's InternalIP

            def leader() -> str:
                path = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kawa-controllers"
                status, lease = a.request("GET", path)
                return str(lease["spec"].get("holderIdentity") or "") if status == 200 else ""

            lead = wait_until(leader, 15, "no leader")
            status, body = b.request(
                "POST", "/apis/apps/v1/namespaces/default/deployments", deployment(2)
            )
            assert status == 201, body

            def both_running() -> dict[str, str] | None:
                found = running_pods(a)
                return found if len(found) == 2 else None

            spread = wait_until(both_running, 30, "the Deployment's Pods never ran")
            assert sorted(spread.values()) == ["a", "b"], spread

            survivor, victim = (a, b) if lead == "a" else (b, a)
            victim_name = "b" if lead == "a" else "a"
            [lost_pod] = [p for p, n in spread.items() if n == victim_name]
            victim.kill()
            killed = time.monotonic()

            def replaced() -> dict[str, str] | None:
                found = running_pods(survivor)
                on_survivor = {p: n for p, n in found.items() if n == lead}
                return on_survivor if len(on_survivor) == 2 and lost_pod not in found else None

            moved = wait_until(replaced, GRACE + 25, "the lost Pod was never replaced")
            took = time.monotonic() - killed
            # the grace period, then a replacement scheduled and started on a loaded machine
            assert took < GRACE + 15, took
            assert set(moved.values()) == {lead}
            status, lost = survivor.request("GET", f"{PODS}/{lost_pod}")
            assert status == 200, lost
            assert (lost["status"]["phase"], lost["status"]["reason"]) == ("Failed", "NodeLost")
            status, gone = survivor.request("GET", f"/api/v1/nodes/{victim_name}")
            ready = [c for c in gone["status"]["conditions"] if c["type"] == "Ready"]
            assert ready[0]["status"] == "Unknown", ready
        finally:
            a.stop()
            b.stop()
