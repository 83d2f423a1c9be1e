"""Pod traffic across nodes: which node's kawa a request to a Pod goes through, and which
targets a node relays. Pure: the tables are filled by :mod:`kawa.serving.pod_relay`.

A Pod's address is a loopback address of the machine its node runs on
(:mod:`kawa.serving.kubelet.network`), so only that machine reaches it. Every node records
where its kawa HTTP port is: its Node's ``InternalIP`` (``kawa up --advertise-address``) and
``status.daemonEndpoints.kubeletEndpoint.Port`` (kawa's ``--port``, written by the kubelet).
The router and the Service proxy of node X that chose an endpoint of a Pod bound to node Y
(a Revision Pod's ``spec.nodeName``, an Endpoints address's ``nodeName``) send the request to
Y's kawa with :data:`TARGET_HEADER` naming the Pod's ``ip:port`` (:meth:`Directory.route`);
Y relays it there only when that is the address and a declared ``containerPort`` of a live
Pod bound to Y (:meth:`Directory.allows`), and never sends it on to a third node. An
endpoint on X itself, or on a node whose kawa port is not known, is reached directly, as
with one node.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

TARGET_HEADER: Final = "Kawa-Pod-Target"
"""Request header, from one node's kawa to another's: the Pod address (``ip:port``) to relay
the request to."""
RELAYED_BY_HEADER: Final = "Kawa-Relayed-By"
"""Response header added by the node that relayed a request to its Pod (its node name)."""

Address = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Hop:
    """Where to connect for a Pod's endpoint, and the target header to send (None: the
    endpoint itself, no relay)."""

    connect: Address
    target: str | None = None


def node_endpoint(node: Mapping[str, Any]) -> Address | None:
    """A Node's kawa HTTP address: its ``InternalIP`` and kubelet endpoint port (None if
    either is missing, as on a node whose kubelet does not report it)."""
    status = node.get("status") or {}
    ip = next(
        (
            a.get("address")
            for a in status.get("addresses") or ()
            if isinstance(a, Mapping) and a.get("type") == "InternalIP"
        ),
        None,
    )
    endpoint = (status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}
    port = endpoint.get("Port") if isinstance(endpoint, Mapping) else None
    if not isinstance(ip, str) or not ip or not isinstance(port, int) or isinstance(port, bool):
        return None
    return (ip, port) if 0 < port < 65536 else None


def pod_targets(pod: Mapping[str, Any], node_name: str) -> frozenset[Address]:
    """The addresses a relay on ``node_name`` may send to for ``pod``: its ``podIP`` with each
    declared ``containerPort``, if it is bound to ``node_name``, has an IP and has not ended."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    ip = status.get("podIP")
    if (
        spec.get("nodeName") != node_name
        or not isinstance(ip, str)
        or not ip
        or status.get("phase") in ("Succeeded", "Failed")
    ):
        return frozenset()
    ports: set[Address] = set()
    for container in spec.get("containers") or ():
        for port in (container or {}).get("ports") or ():
            number = port.get("containerPort") if isinstance(port, Mapping) else None
            if isinstance(number, int) and not isinstance(number, bool) and 0 < number < 65536:
                ports.add((ip, number))
    return frozenset(ports)


def parse_target(text: str) -> Address | None:
    """``ip:port`` from :data:`TARGET_HEADER` (IPv4 dotted quad only), else None."""
    ip, colon, port = text.strip().rpartition(":")
    if not colon or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    octets = ip.split(".")
    if len(octets) != 4 or not all(o.isdigit() and int(o) < 256 for o in octets):
        return None
    return ip, int(port)


class Directory:
    """Node ``me``'s view: every node's kawa address and the relay targets of its own Pods."""

    __slots__ = ("_nodes", "_pods", "_targets", "me")

    def __init__(self, me: str) -> None:
        self.me = me
        self._nodes: dict[str, Address] = {}
        self._pods: dict[tuple[str, str], frozenset[Address]] = {}
        self._targets: dict[Address, int] = {}
        """Relay target -> how many of this node's Pods declare it (normally one)."""

    # -- tables ----------------------------------------------------------------------------

    def set_node(self, node: Mapping[str, Any]) -> None:
        name = str((node.get("metadata") or {}).get("name", ""))
        endpoint = node_endpoint(node)
        if endpoint is None:
            self._nodes.pop(name, None)
        else:
            self._nodes[name] = endpoint

    def remove_node(self, name: str) -> None:
        self._nodes.pop(name, None)

    def set_pod(self, pod: Mapping[str, Any]) -> None:
        metadata = pod.get("metadata") or {}
        key = (str(metadata.get("namespace", "")), str(metadata.get("name", "")))
        self._replace(key, pod_targets(pod, self.me))

    def remove_pod(self, namespace: str, name: str) -> None:
        self._replace((namespace, name), frozenset())

    def clear_pods(self) -> None:
        self._pods.clear()
        self._targets.clear()

    def _replace(self, key: tuple[str, str], targets: frozenset[Address]) -> None:
        old = self._pods.pop(key, frozenset())
        if targets:
            self._pods[key] = targets
        for target in old - targets:
            left = self._targets[target] - 1
            if left:
                self._targets[target] = left
            else:
                del self._targets[target]
        for target in targets - old:
            self._targets[target] = self._targets.get(target, 0) + 1

    # -- decisions -------------------------------------------------------------------------

    def route(self, node: str | None, address: Address) -> Hop:
        """How this node reaches ``address``, an endpoint of a Pod bound to ``node``."""
        if not node or node == self.me:
            return Hop(address)
        via = self._nodes.get(node)
        if via is None:
            return Hop(address)
        return Hop(via, f"{address[0]}:{address[1]}")

    def allows(self, target: Address) -> bool:
        """Whether this node relays to ``target`` (a declared port of one of its Pods)."""
        return target in self._targets

    def node_address(self, node: str) -> Address | None:
        return self._nodes.get(node)
