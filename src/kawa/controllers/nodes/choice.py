"""Which node a Pod goes to: the scheduler's choice, a pure function of the Pod, the nodes
and the Pods already bound.

:func:`choose` keeps the nodes that are schedulable (:func:`node_ready`: the ``Ready``
condition ``True``; the caller leaves out nodes whose heartbeat Lease has expired) and on
which the Pod fits (the CPU and memory the node's Pods request, plus this one's, within its
``allocatable``; fewer Pods than its ``pods``), then takes the least loaded: the lowest
``load`` (the larger of the CPU and memory shares requested once the Pod is placed, in whole
percent, so that a few millicores do not outweigh a Pod), then the fewest Pods, then the
name (deterministic). :func:`unschedulable_message` says why none was kept, as Kubernetes'
``0/3 nodes are available: ...``.

A Pod's request is Kubernetes' effective request: the sum over its containers, or the
largest init container's when that is larger. Quantities are Kubernetes' (``250m``, ``0.5``,
``1Gi``, ``512M``, ``1e3``). Pods that are finished (``Succeeded``, ``Failed``) hold nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

_QUANTITY: Final = re.compile(r"([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)")
_SUFFIXES: Final = {
    "": 1.0,
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "Pi": 2.0**50,
    "Ei": 2.0**60,
}
TERMINAL: Final = ("Succeeded", "Failed")
DEFAULT_MAX_PODS: Final = 110


def quantity(value: Any) -> float:
    """A Kubernetes quantity as a number (CPUs, bytes); 0 for what is not one."""
    if isinstance(value, bool):
        return 0.0
    if isinstance(value, int | float):
        return float(value)
    match = _QUANTITY.fullmatch(str(value).strip())
    if match is None or match.group(2) not in _SUFFIXES:
        return 0.0
    try:
        return float(match.group(1)) * _SUFFIXES[match.group(2)]
    except ValueError:
        return 0.0


@dataclass(frozen=True, slots=True)
class Resources:
    """CPUs and bytes of memory."""

    cpu: float = 0.0
    memory: float = 0.0

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.cpu + other.cpu, self.memory + other.memory)


def _mapping(obj: Any, *keys: str) -> Mapping[str, Any]:
    for key in keys:
        obj = obj.get(key) if isinstance(obj, Mapping) else None
    return obj if isinstance(obj, Mapping) else {}


def _container_requests(container: Any) -> Resources:
    requests = _mapping(container, "resources", "requests")
    return Resources(quantity(requests.get("cpu", 0)), quantity(requests.get("memory", 0)))


def requested(pod: Mapping[str, Any]) -> Resources:
    """What ``pod`` requests: its containers' sum, or its largest init container's."""
    spec = _mapping(pod, "spec")
    total = Resources()
    for container in spec.get("containers") or ():
        total = total + _container_requests(container)
    for container in spec.get("initContainers") or ():
        init = _container_requests(container)
        total = Resources(max(total.cpu, init.cpu), max(total.memory, init.memory))
    return total


def node_ready(node: Mapping[str, Any]) -> bool:
    """Whether the node's ``Ready`` condition is ``True``."""
    for condition in _mapping(node, "status").get("conditions") or ():
        if isinstance(condition, Mapping) and condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def bound_to(pod: Mapping[str, Any]) -> str:
    return str(_mapping(pod, "spec").get("nodeName") or "")


def holds_resources(pod: Mapping[str, Any]) -> bool:
    """A Pod bound to a node that is not finished: it counts on its node."""
    return bool(bound_to(pod)) and _mapping(pod, "status").get("phase") not in TERMINAL


@dataclass(frozen=True, slots=True)
class NodeLoad:
    """One node as the scheduler weighs it."""

    name: str
    allocatable: Resources
    max_pods: int
    requested: Resources = Resources()
    pods: int = 0

    def fits(self, request: Resources) -> bool:
        if self.pods + 1 > self.max_pods:
            return False
        wanted = self.requested + request
        return _within(wanted.cpu, self.allocatable.cpu) and _within(
            wanted.memory, self.allocatable.memory
        )

    def load(self, request: Resources) -> int:
        """Whole percent of the busier of CPU and memory once ``request`` is placed."""
        wanted = self.requested + request
        shares = [
            wanted.cpu / self.allocatable.cpu if self.allocatable.cpu > 0 else 0.0,
            wanted.memory / self.allocatable.memory if self.allocatable.memory > 0 else 0.0,
        ]
        return math.floor(max(shares) * 100)


def _within(wanted: float, allocatable: float) -> bool:
    # no allocatable reported: the node is not limited in that resource
    return allocatable <= 0 or wanted <= allocatable * (1 + 1e-9)


def loads(nodes: Iterable[Mapping[str, Any]], pods: Iterable[Mapping[str, Any]]) -> list[NodeLoad]:
    """Each node's allocatable and what the Pods bound to it hold, by node name."""
    bound: dict[str, list[Mapping[str, Any]]] = {}
    for pod in pods:
        if holds_resources(pod):
            bound.setdefault(bound_to(pod), []).append(pod)
    found = []
    for node in nodes:
        name = str(_mapping(node, "metadata").get("name") or "")
        allocatable = _mapping(node, "status", "allocatable")
        max_pods = int(quantity(allocatable.get("pods", DEFAULT_MAX_PODS))) or DEFAULT_MAX_PODS
        held = Resources()
        for pod in bound.get(name, ()):
            held = held + requested(pod)
        found.append(
            NodeLoad(
                name,
                Resources(
                    quantity(allocatable.get("cpu", 0)), quantity(allocatable.get("memory", 0))
                ),
                max_pods,
                held,
                len(bound.get(name, ())),
            )
        )
    return found


def choose(pod: Mapping[str, Any], candidates: Sequence[NodeLoad]) -> str | None:
    """The node ``pod`` goes to among ``candidates`` (the schedulable nodes, see the module
    docstring), ``None`` when it fits on none."""
    request = requested(pod)
    fitting = [n for n in candidates if n.fits(request)]
    if not fitting:
        return None
    best = min(fitting, key=lambda n: (n.load(request), n.pods, n.name))
    return best.name


def unschedulable_message(
    pod: Mapping[str, Any], total: int, not_ready: int, candidates: Sequence[NodeLoad]
) -> str:
    """Why ``pod`` fits on none of ``total`` nodes (``not_ready`` of them not schedulable,
    ``candidates`` the others), as Kubernetes words it."""
    request = requested(pod)
    reasons: dict[str, int] = {}
    if not_ready:
        reasons["node(s) were not ready"] = not_ready
    for node in candidates:
        if node.pods + 1 > node.max_pods:
            reason = "Too many pods"
        elif not _within(node.requested.cpu + request.cpu, node.allocatable.cpu):
            reason = "Insufficient cpu"
        else:
            reason = "Insufficient memory"
        reasons[reason] = reasons.get(reason, 0) + 1
    parts = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
    return (
        f"0/{total} nodes are available: {parts}." if parts else f"0/{total} nodes are available."
    )
