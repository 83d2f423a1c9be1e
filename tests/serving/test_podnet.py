"""Which node's kawa a request to a Pod goes through, and what a node relays (pure)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kawa.serving import podnet
from kawa.serving.kubelet import node_status
from kawa.serving.podnet import Directory, Hop


def node(name: str, ip: str | None = "10.0.0.2", port: Any = 7080) -> dict[str, Any]:
    status: dict[str, Any] = {"daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}
    if ip is not None:
        status["addresses"] = [
            {"type": "Hostname", "address": name},
            {"type": "InternalIP", "address": ip},
        ]
    return {"metadata": {"name": name}, "status": status}


def pod(
    name: str = "web-1",
    node_name: str = "b",
    ip: str | None = "127.1.2.3",
    ports: tuple[int, ...] = (8080,),
    phase: str = "Running",
) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase}
    if ip is not None:
        status["podIP"] = ip
    return {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeName": node_name,
            "containers": [{"name": "c", "ports": [{"containerPort": p} for p in ports]}],
        },
        "status": status,
    }


def test_a_node_is_reached_at_its_internal_ip_and_kubelet_port() -> None:
    assert podnet.node_endpoint(node("b")) == ("10.0.0.2", 7080)
    assert podnet.node_endpoint(node("b", port=0)) is None  # not reported (an older kubelet)
    assert podnet.node_endpoint(node("b", port=True)) is None
    assert podnet.node_endpoint(node("b", ip=None)) is None
    assert podnet.node_endpoint({"metadata": {"name": "b"}}) is None


def test_the_kubelet_reports_kawas_port_as_its_endpoint(tmp_path: Path) -> None:
    status = node_status.status(tmp_path, "2025-01-01T00:00:00Z", address="10.0.0.2", port=7080)
    assert podnet.node_endpoint({"status": status}) == ("10.0.0.2", 7080)


def test_a_pod_on_this_node_or_an_unknown_one_is_reached_directly() -> None:
    here = Directory("a")
    here.set_node(node("b"))
    assert here.route("a", ("127.1.2.3", 8080)) == Hop(("127.1.2.3", 8080))
    assert here.route(None, ("127.1.2.3", 8080)) == Hop(("127.1.2.3", 8080))
    assert here.route("", ("127.1.2.3", 8080)) == Hop(("127.1.2.3", 8080))
    # a node whose kawa port is not known: as with one node
    assert here.route("c", ("127.1.2.3", 8080)) == Hop(("127.1.2.3", 8080))


def test_a_pod_on_another_node_goes_through_that_nodes_kawa() -> None:
    here = Directory("a")
    here.set_node(node("b", "10.0.0.2", 7080))
    assert here.route("b", ("127.1.2.3", 8080)) == Hop(("10.0.0.2", 7080), "127.1.2.3:8080")
    here.set_node(node("b", "10.0.0.9", 7081))  # moved
    assert here.route("b", ("127.1.2.3", 8080)).connect == ("10.0.0.9", 7081)
    here.remove_node("b")
    assert here.route("b", ("127.1.2.3", 8080)) == Hop(("127.1.2.3", 8080))


def test_a_node_relays_only_to_declared_ports_of_its_own_live_pods() -> None:
    b = Directory("b")
    b.set_pod(pod(ports=(8080, 9090)))
    b.set_pod(pod("elsewhere", node_name="a", ip="127.1.9.9"))
    b.set_pod(pod("no-ip", ip=None))
    b.set_pod(pod("done", ip="127.1.5.5", phase="Succeeded"))
    assert b.allows(("127.1.2.3", 8080))
    assert b.allows(("127.1.2.3", 9090))
    assert not b.allows(("127.1.2.3", 22))  # not a declared port
    assert not b.allows(("127.1.9.9", 8080))  # another node's Pod
    assert not b.allows(("127.1.5.5", 8080))  # ended
    assert not b.allows(("127.0.0.1", 7080))  # kawa itself, or anything else on loopback
    b.set_pod(pod(ports=(9090,)))  # its ports changed
    assert not b.allows(("127.1.2.3", 8080))
    b.remove_pod("default", "web-1")
    assert not b.allows(("127.1.2.3", 9090))


def test_a_target_two_pods_declare_stays_until_both_are_gone() -> None:
    b = Directory("b")
    b.set_pod(pod("old"))
    b.set_pod(pod("new"))  # the address given again before the old Pod's deletion arrived
    b.remove_pod("default", "old")
    assert b.allows(("127.1.2.3", 8080))
    b.set_pod(pod("new", phase="Failed"))
    assert not b.allows(("127.1.2.3", 8080))
    b.set_pod(pod("new"))
    b.clear_pods()
    assert not b.allows(("127.1.2.3", 8080))


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("127.1.2.3:8080", ("127.1.2.3", 8080)),
        (" 10.0.0.1:80 ", ("10.0.0.1", 80)),
        ("127.1.2.3", None),
        ("127.1.2.3:0", None),
        ("127.1.2.3:65536", None),
        ("127.1.2:80", None),
        ("127.1.2.256:80", None),
        ("localhost:80", None),
        ("[::1]:80", None),
        ("127.1.2.3:8o", None),
    ],
)
def test_the_target_header_is_an_ipv4_address_and_port(
    text: str, wanted: tuple[str, int] | None
) -> None:
    assert podnet.parse_target(text) == wanted
