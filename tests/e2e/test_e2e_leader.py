"""Two ``kawa up --nats`` nodes on one private nats-server: one leads the controllers, the
other takes over within the lease duration when the leader is SIGKILLed.

Each node has its own data dir, ports and ``--node-name`` (``a``, ``b``); both share the
JetStream store and event log. The leader's Lease (``kube-system/kawa-controllers``) and
both heartbeat Leases (``kube-node-lease``) are read through the API. After the SIGKILL, a
Trigger applied through the survivor becomes Ready: its controllers run there now."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ..nats_support import nats_server
from ..waiting import wait_until
from .e2e_support import KawaProcess, broker, free_port, trigger

LEASE_DURATION = 3.0
LEASES = "/apis/coordination.k8s.io/v1/namespaces"


def holder(kawa: KawaProcess) -> str:
    status, lease = kawa.request("GET", f"{LEASES}/kube-system/leases/kawa-controllers")
    return str(lease["spec"].get("holderIdentity") or "") if status == 200 else ""


def node(tmp_path: Path, name: str, nats: str) -> KawaProcess:
    return KawaProcess(
        tmp_path,
        tmp_path / f"data-{name}",
        free_port(),
        free_port(),
        ("--node-name", name, "--leader-lease-duration", str(LEASE_DURATION)),
        nats,
    )


@pytest.mark.slow
def test_the_survivor_leads_after_the_leader_is_killed(tmp_path: Path) -> None:
    with nats_server(tmp_path / "nats") as url:
        a, b = node(tmp_path, "a", url), node(tmp_path, "b", url)
        try:
            a.start()
            wait_until(lambda: holder(a) == "a", 15, "a never led")
            b.start()
            a.create(broker())
            b.wait_ready("brokers", "default", timeout=20)
            assert holder(b) == "a"

            def node_leases() -> set[str]:
                status, found = b.request("GET", f"{LEASES}/kube-node-lease/leases")
                return {i["metadata"]["name"] for i in found["items"]} if status == 200 else set()

            wait_until(lambda: node_leases() >= {"a", "b"}, 15, "no heartbeat Leases")

            a.kill()
            killed = time.monotonic()
            wait_until(lambda: holder(b) == "b", 15, "b never took over")
            took = time.monotonic() - killed
            # the lease duration, plus a retry period and a loaded machine's slack
            assert took < LEASE_DURATION + 3.0, took

            b.create(trigger("after-failover", "http://127.0.0.1:9/"))
            b.wait_ready("triggers", "after-failover", timeout=20)
        finally:
            a.stop()
            b.stop()
