"""Each Pod gets a loopback address of its own, so Pods listening on one port do not clash."""

from __future__ import annotations

import ipaddress

import aiohttp

from kawa.serving.kubelet.network import PodNetwork

from .kubelet_support import PYTHON, Node, conditions, free_port, pod_obj


def test_an_address_per_pod_kept_until_released() -> None:
    network = PodNetwork()
    first = network.allocate("uid-1")
    assert network.allocate("uid-1") == first  # the same Pod, the same address
    second = network.allocate("uid-2")
    assert second != first
    for address in (first, second):
        ip = ipaddress.IPv4Address(address)
        assert ip in ipaddress.IPv4Network("127.0.0.0/8")
        assert ip not in ipaddress.IPv4Network("127.0.0.0/16")  # kawa's own 127.0.0.1 apart
        assert address.rsplit(".", 1)[1] not in ("0", "255")
    assert network.holder(first) == "uid-1"
    network.release("uid-1")
    assert network.holder(first) is None


def test_a_restarted_pod_gets_the_address_its_status_names() -> None:
    network = PodNetwork()
    assert network.allocate("uid-1", previous="127.9.8.7") == "127.9.8.7"
    # taken, or not a Pod address: a fresh one instead
    assert network.allocate("uid-2", previous="127.9.8.7") != "127.9.8.7"
    for bad in ("127.0.0.1", "10.0.0.1", "not an ip", "127.5.5.255", ""):
        address = network.allocate(f"uid-{bad}", previous=bad)
        assert address != bad
        assert ipaddress.IPv4Address(address) in ipaddress.IPv4Network("127.0.0.0/8")


def test_colliding_uids_probe_to_a_free_address() -> None:
    network = PodNetwork()
    addresses = {network.allocate(f"uid-{i}") for i in range(2000)}
    assert len(addresses) == 2000


async def test_two_pods_listen_on_the_same_port(node: Node) -> None:
    port = free_port()
    display = {
        "name": "display",
        "image": "gcr.io/knative-releases/knative.dev/eventing/cmd/event_display",
        "env": [{"name": "PORT", "value": str(port)}],
        "ports": [{"containerPort": port}],
    }
    for name in ("hello", "goodbye"):
        await node.create(pod_obj(name, [dict(display)]))
    pods = [
        await node.wait_pod(name, lambda p: conditions(p).get("Ready") == "True", timeout=20)
        for name in ("hello", "goodbye")
    ]
    ips = [p["status"]["podIP"] for p in pods]
    assert ips[0] != ips[1]
    async with aiohttp.ClientSession() as session:
        for ip in ips:  # each answers on its own address, on the same port
            event = {"specversion": "1.0", "id": ip, "source": "/t", "type": "t"}
            headers = {"content-type": "application/cloudevents+json"}
            async with session.post(f"http://{ip}:{port}/", json=event, headers=headers) as resp:
                assert resp.status // 100 == 2


async def test_a_program_on_loopback_only_is_told_where_to_listen(node: Node) -> None:
    port = free_port()
    server = (
        "import http.server\n"
        f"http.server.HTTPServer(('127.0.0.1', {port}), http.server.BaseHTTPRequestHandler)"
        ".serve_forever()\n"
    )
    container = {
        "name": "c",
        "image": "python",
        "command": [PYTHON, "-c", server],
        "ports": [{"containerPort": port}],
    }
    await node.create(pod_obj("shy", [container]))
    events = await node.wait_events("shy", {"Unhealthy"}, timeout=15)
    message = next(e["message"] for e in events if e["reason"] == "Unhealthy")
    pod_ip = (await node.get("shy"))["status"]["podIP"]
    assert message == (
        f"Readiness probe failed: the container listens on 127.0.0.1:{port} only, not on its "
        f"Pod's address {pod_ip}: listen on all addresses (0.0.0.0) or on $KAWA_POD_IP"
    )
