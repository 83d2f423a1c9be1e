"""The Node kind (core/v1, cluster-scoped): a machine Pods run on.

kawa has one node, ``kawa`` (:data:`kawa.apis.core.pod.NODE_NAME`): its kubelet creates it
and keeps its status (capacity, conditions, addresses, ``nodeInfo``) up to date
(:mod:`kawa.serving.kubelet.node_status`). Other Nodes may be stored (``kubectl apply``) but
nothing runs on them. The ``*_cell`` functions are the columns of ``kubectl get nodes``
(``NAME STATUS ROLES AGE VERSION``, and with ``-o wide`` the addresses, OS image, kernel
and container runtime), as Kubernetes' printer computes them. Declared in
:mod:`kawa.apis.core`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

from kawa.apis.model.base import Model, doc
from kawa.apis.model.objects import KubeObject
from kawa.apis.model.types import FreeForm

KIND: Final = "Node"
ROLE_LABEL: Final = "node-role.kubernetes.io/"


class NodeSpec(Model):
    """How the node is to be used."""

    pod_cidr: Annotated[str, doc("The Pod IP range of the node.", alias="podCIDR")] = ""
    pod_cidrs: Annotated[
        tuple[str, ...], doc("The Pod IP ranges of the node.", alias="podCIDRs")
    ] = ()
    provider_id: Annotated[str, doc("The node's ID at its provider.", alias="providerID")] = ""
    unschedulable: Annotated[bool, doc("Whether new Pods may not be scheduled here.")] = False
    taints: Annotated[tuple[FreeForm, ...], doc("Taints of the node.")] = ()


class NodeCondition(Model):
    """One aspect of the node's health (Ready, MemoryPressure, DiskPressure, PIDPressure)."""

    type: Annotated[str, doc("The condition's type.")]
    status: Annotated[str, doc("True, False or Unknown.")]
    reason: Annotated[str, doc("Why, in one CamelCase word.")] = ""
    message: Annotated[str, doc("Why, in words.")] = ""
    last_heartbeat_time: Annotated[str | None, doc("When the kubelet last reported it.")] = None
    last_transition_time: Annotated[str | None, doc("When the status last changed.")] = None


class NodeAddress(Model):
    """An address of the node."""

    type: Annotated[str, doc("Hostname, InternalIP, ExternalIP ...")]
    address: Annotated[str, doc("The address.")]


class NodeStatus(Model):
    """What the node's kubelet reports."""

    capacity: Annotated[dict[str, str] | None, doc("Resources of the machine.")] = None
    allocatable: Annotated[dict[str, str] | None, doc("Resources Pods may use.")] = None
    phase: Annotated[str, doc("Deprecated, unused.")] = ""
    conditions: Annotated[tuple[NodeCondition, ...], doc("The node's conditions.")] = ()
    addresses: Annotated[tuple[NodeAddress, ...], doc("The node's addresses.")] = ()
    daemon_endpoints: Annotated[FreeForm | None, doc("Ports of the kubelet.")] = None
    node_info: Annotated[FreeForm | None, doc("Versions and ids of the machine.")] = None
    images: Annotated[tuple[FreeForm, ...], doc("Images on the node.")] = ()


class Node(KubeObject):
    """A Node: a machine that runs Pods (kawa's is the machine kawa runs on)."""

    spec: Annotated[NodeSpec | None, doc("How the node is to be used.")] = None


def _status(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    status = obj.get("status")
    return status if isinstance(status, Mapping) else {}


def status_cell(obj: Mapping[str, Any]) -> str:
    ready = next(
        (
            c
            for c in _status(obj).get("conditions") or ()
            if isinstance(c, Mapping) and c.get("type") == "Ready"
        ),
        None,
    )
    text = "Unknown" if ready is None or ready.get("status") == "Unknown" else "NotReady"
    if ready is not None and ready.get("status") == "True":
        text = "Ready"
    spec = obj.get("spec") if isinstance(obj.get("spec"), Mapping) else {}
    if (spec or {}).get("unschedulable"):
        text += ",SchedulingDisabled"
    return text


def roles_cell(obj: Mapping[str, Any]) -> str:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    roles = sorted(k[len(ROLE_LABEL) :] for k in labels if k.startswith(ROLE_LABEL))
    roles += [labels["kubernetes.io/role"]] if labels.get("kubernetes.io/role") else []
    return ",".join(r for r in roles if r) or "<none>"


def _info(obj: Mapping[str, Any], key: str) -> str:
    info = _status(obj).get("nodeInfo")
    return str(info.get(key) or "") if isinstance(info, Mapping) else ""


def version_cell(obj: Mapping[str, Any]) -> str:
    return _info(obj, "kubeletVersion")


def _address(obj: Mapping[str, Any], kind: str) -> str:
    for address in _status(obj).get("addresses") or ():
        if isinstance(address, Mapping) and address.get("type") == kind:
            return str(address.get("address") or "")
    return "<none>"


def internal_ip_cell(obj: Mapping[str, Any]) -> str:
    return _address(obj, "InternalIP")


def external_ip_cell(obj: Mapping[str, Any]) -> str:
    return _address(obj, "ExternalIP")


def os_image_cell(obj: Mapping[str, Any]) -> str:
    return _info(obj, "osImage") or "<unknown>"


def kernel_cell(obj: Mapping[str, Any]) -> str:
    return _info(obj, "kernelVersion") or "<unknown>"


def runtime_cell(obj: Mapping[str, Any]) -> str:
    return _info(obj, "containerRuntimeVersion") or "<unknown>"
