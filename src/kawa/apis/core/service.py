"""The Service kind (core/v1): a stable name for a set of Pods, and its ports.

Declared once (:mod:`kawa.apis.model`) with the Kubernetes API server's defaults and its
one-pass validation (:meth:`ServiceSpec.check_raw`: every cross-field rule is reported with
the type errors). Defaults: ``type: ClusterIP``, ``sessionAffinity: None``, each port's
``protocol: TCP`` and ``targetPort`` = its ``port``; a ClusterIP, NodePort or LoadBalancer
Service gets a ``clusterIP`` from :data:`CLUSTER_IP_RANGE` (derived from its namespace and
name, so the same Service gets the same address; kawa has no network, the address is a name)
and ``clusterIPs``/``ipFamilies``/``ipFamilyPolicy``/``internalTrafficPolicy``; NodePort and
LoadBalancer ports get a ``nodePort`` (30000-32767) the same way. ``clusterIP`` is immutable
(:meth:`Service.check_update`) except when the type changes to or from ExternalName.
``"None"`` makes a headless Service. The ``kubectl get services`` cells are here too.
Endpoints are kept by :mod:`kawa.controllers.endpoints`; requests are routed by
:mod:`kawa.serving.services`.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator

from kawa.apis import meta
from kawa.apis.core.probes import PORT_NAME_HELP, is_port_name
from kawa.apis.model.base import Context, MergeKey, Model, RawChecked, doc
from kawa.apis.model.objects import KubeObject
from kawa.apis.model.types import FreeForm, IntOrString
from kawa.errors import FieldError

API_VERSION: Final = "v1"
KIND: Final = "Service"

CLUSTER_IP_RANGE: Final = ipaddress.ip_network("10.96.0.0/12")
"""Where cluster IPs come from (Kubernetes' usual service CIDR)."""
NODE_PORT_RANGE: Final = range(30000, 32768)
"""Kubernetes' default node port range."""
HEADLESS: Final = "None"

ServiceType = Literal["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]
TYPES: Final = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
PROTOCOLS: Final = ("TCP", "UDP", "SCTP")


def _labels(value: dict[str, str]) -> dict[str, str]:
    problems: list[str] = []
    for key, item in value.items():
        problems += [f"invalid key {key!r}: {p}" for p in meta.label_key_errors(key)]
        problems += [f"invalid value {item!r}: {p}" for p in meta.label_value_errors(item)]
    if problems:
        raise ValueError("; ".join(problems))
    return value


LabelMap = Annotated[dict[str, str], AfterValidator(_labels)]


def _dns_label(value: str) -> str:
    if value:
        problems = meta.dns1123_label_errors(value)
        if problems:
            raise ValueError(f"invalid value {value!r}: {'; '.join(problems)}")
    return value


def _target_port(value: int | str) -> int | str:
    if isinstance(value, int):
        if not 1 <= value <= 65535:
            raise ValueError(f"invalid value {value}: must be between 1 and 65535, inclusive")
    elif not is_port_name(value):
        raise ValueError(f"invalid value {value!r}: {PORT_NAME_HELP}")
    return value


def _optional_target_port(value: int | str | None) -> int | str | None:
    return None if value is None else _target_port(value)


class ServicePort(Model):
    """A port the Service serves, and the Pods' port it goes to."""

    name: Annotated[
        str,
        AfterValidator(_dns_label),
        doc("The port's name (a DNS label); required when the Service has several ports."),
    ] = ""
    protocol: Annotated[
        Literal["TCP", "UDP", "SCTP"] | None, doc("TCP (the default), UDP or SCTP.")
    ] = None
    app_protocol: Annotated[str, doc("The application protocol (a hint, e.g. http).")] = ""
    port: Annotated[int, doc("The port the Service serves.", ge=1, le=65535)]
    target_port: Annotated[
        IntOrString | None,
        AfterValidator(_optional_target_port),
        doc("The Pods' port: a number, or the name of a container port (default: port)."),
    ] = None
    node_port: Annotated[
        int | None,
        doc("The port on the node of a NodePort or LoadBalancer Service.", ge=0, le=65535),
    ] = None


class ServiceSpec(RawChecked):
    """The desired Service."""

    ports: Annotated[list[ServicePort], doc("The ports the Service serves."), MergeKey("port")] = []
    selector: Annotated[
        LabelMap | None,
        doc("The labels of the Pods the Service routes to; without it, Endpoints are yours."),
    ] = None
    cluster_ip: Annotated[
        str,
        doc(
            "The Service's virtual address: allocated when empty, 'None' for a headless "
            "Service; immutable.",
            alias="clusterIP",
        ),
    ] = ""
    cluster_ips: Annotated[
        list[str], doc("The Service's addresses (the first is clusterIP).", alias="clusterIPs")
    ] = []
    type: Annotated[
        ServiceType | None,
        doc("ClusterIP (the default), NodePort, LoadBalancer or ExternalName."),
    ] = None
    external_ips: Annotated[
        list[str], doc("Addresses outside the cluster also served.", alias="externalIPs")
    ] = []
    session_affinity: Annotated[
        Literal["None", "ClientIP"] | None, doc("None (the default) or ClientIP.")
    ] = None
    session_affinity_config: Annotated[
        FreeForm | None, doc("Settings of ClientIP session affinity.")
    ] = None
    load_balancer_ip: Annotated[
        str, doc("Deprecated: the address asked of the load balancer.", alias="loadBalancerIP")
    ] = ""
    load_balancer_source_ranges: Annotated[
        list[str], doc("Client address ranges the load balancer admits.")
    ] = []
    load_balancer_class: Annotated[str, doc("Which load balancer implementation serves it.")] = ""
    allocate_load_balancer_node_ports: Annotated[
        bool | None, doc("Whether a LoadBalancer Service gets node ports.")
    ] = None
    external_name: Annotated[str, doc("The DNS name an ExternalName Service stands for.")] = ""
    external_traffic_policy: Annotated[
        Literal["Cluster", "Local"] | None, doc("How external traffic is routed.")
    ] = None
    internal_traffic_policy: Annotated[
        Literal["Cluster", "Local"] | None, doc("How traffic from inside is routed.")
    ] = None
    health_check_node_port: Annotated[
        int | None, doc("The node port of a Local LoadBalancer's health check.", ge=0, le=65535)
    ] = None
    publish_not_ready_addresses: Annotated[
        bool | None, doc("Whether not ready Pods are listed as ready addresses.")
    ] = None
    ip_families: Annotated[
        list[Literal["IPv4", "IPv6"]], doc("The IP families of the Service's addresses.")
    ] = []
    ip_family_policy: Annotated[
        Literal["SingleStack", "PreferDualStack", "RequireDualStack"] | None,
        doc("Whether the Service has one or two IP families."),
    ] = None
    traffic_distribution: Annotated[str, doc("A preference for how traffic is spread.")] = ""

    @classmethod
    def set_defaults(cls, data: dict[str, Any], ctx: Context) -> None:
        """The API server's defaults (see the module docstring)."""
        kind = data.get("type")
        if kind is None:
            kind = data["type"] = "ClusterIP"
        if data.get("sessionAffinity") is None:
            data["sessionAffinity"] = "None"
        ports = data.get("ports")
        for i, port in enumerate(ports if isinstance(ports, list) else ()):
            if not isinstance(port, dict):
                continue
            port.setdefault("protocol", "TCP")
            number = port.get("port")
            if port.get("targetPort") in (None, 0, "") and type(number) is int:
                port["targetPort"] = number
            if kind in ("NodePort", "LoadBalancer") and not port.get("nodePort"):
                port["nodePort"] = node_port_for(ctx.namespace, ctx.name, i)
        if kind == "ExternalName":
            return
        cluster_ip = data.get("clusterIP")
        if not cluster_ip:
            ips = data.get("clusterIPs")
            first = ips[0] if isinstance(ips, list) and ips else None
            cluster_ip = data["clusterIP"] = (
                first
                if isinstance(first, str) and first
                else cluster_ip_for(ctx.namespace, ctx.name)
            )
        if not data.get("clusterIPs"):
            data["clusterIPs"] = [cluster_ip]
        data.setdefault("ipFamilies", ["IPv4"])
        data.setdefault("ipFamilyPolicy", "SingleStack")
        data.setdefault("internalTrafficPolicy", "Cluster")
        if kind in ("NodePort", "LoadBalancer"):
            data.setdefault("externalTrafficPolicy", "Cluster")
        if kind == "LoadBalancer":
            data.setdefault("allocateLoadBalancerNodePorts", True)

    @classmethod
    def check_raw(cls, data: Mapping[str, Any]) -> Iterable[FieldError]:
        """Kubernetes' rules across fields (see :func:`spec_errors`)."""
        return spec_errors(data)


def spec_errors(data: Mapping[str, Any]) -> list[FieldError]:
    """Ports (required, named when several, names and port/protocol pairs unique, node ports
    only where the type has them), the cluster IP and the ExternalName rules. ``data`` is
    the raw spec: read defensively."""
    errors: list[FieldError] = []
    kind = data.get("type") if data.get("type") in TYPES else "ClusterIP"
    cluster_ip = data.get("clusterIP")
    headless = cluster_ip == HEADLESS
    ports = data.get("ports")
    ports = ports if isinstance(ports, list) else []
    if not ports and not headless and kind != "ExternalName":
        errors.append(FieldError("ports", "Required value"))
    names: set[str] = set()
    pairs: set[tuple[Any, Any]] = set()
    for i, port in enumerate(ports):
        if not isinstance(port, Mapping):
            continue
        name = port.get("name")
        if len(ports) > 1 and not name:
            errors.append(FieldError(f"ports[{i}].name", "Required value"))
        elif isinstance(name, str) and name:
            if name in names:
                errors.append(FieldError(f"ports[{i}].name", f'Duplicate value: "{name}"'))
            names.add(name)
        pair = (port.get("port"), port.get("protocol") or "TCP")
        if isinstance(pair[0], int) and pair in pairs:
            errors.append(FieldError(f"ports[{i}]", f"Duplicate value: port {pair[0]}/{pair[1]}"))
        pairs.add(pair)
        node_port = port.get("nodePort")
        if node_port and kind in ("ClusterIP", "ExternalName"):
            errors.append(
                FieldError(
                    f"ports[{i}].nodePort", f"Forbidden: may not be used when `type` is '{kind}'"
                )
            )
    if kind == "ExternalName":
        errors += _external_name_errors(data)
    elif isinstance(cluster_ip, str) and cluster_ip and not headless and not _is_ip(cluster_ip):
        errors.append(
            FieldError(
                "clusterIP",
                f"Invalid value: \"{cluster_ip}\": must be empty, 'None', or a valid IP address",
            )
        )
    if headless and kind in ("NodePort", "LoadBalancer"):
        errors.append(
            FieldError(
                "clusterIP", f"Invalid value: \"None\": may not be 'None' for {kind} services"
            )
        )
    ips = data.get("clusterIPs")
    first = ips[0] if isinstance(ips, list) and ips else None
    if first is not None and isinstance(cluster_ip, str) and cluster_ip and first != cluster_ip:
        errors.append(
            FieldError("clusterIPs[0]", "Invalid value: must match `clusterIP` if specified")
        )
    return errors


def _external_name_errors(data: Mapping[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    name = data.get("externalName")
    if not isinstance(name, str) or not name:
        errors.append(FieldError("externalName", "Required value"))
    else:
        problems = meta.dns1123_subdomain_errors(name.rstrip("."))
        if problems:
            errors.append(
                FieldError("externalName", f'Invalid value: "{name}": {"; ".join(problems)}')
            )
    if data.get("clusterIP"):
        errors.append(
            FieldError("clusterIP", "Forbidden: may not be set for ExternalName services")
        )
    return errors


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _digest(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("/".join(parts).encode()).digest()[:8], "big")


def cluster_ip_for(namespace: str, name: str) -> str:
    """The cluster IP a Service gets: in :data:`CLUSTER_IP_RANGE`, derived from its name
    (never the network's first address, the one Kubernetes gives its own ``kubernetes``)."""
    size = CLUSTER_IP_RANGE.num_addresses
    offset = 2 + _digest(namespace, name) % (size - 3)
    return str(CLUSTER_IP_RANGE.network_address + offset)


def node_port_for(namespace: str, name: str, index: int) -> int:
    """The node port of a Service's ``index``-th port (derived from its name)."""
    span = len(NODE_PORT_RANGE)
    return NODE_PORT_RANGE.start + _digest(namespace, name, str(index)) % span


class LoadBalancerIngress(Model):
    """An address of the Service's load balancer."""

    ip: Annotated[str, doc("The address.")] = ""
    hostname: Annotated[str, doc("The host name.")] = ""
    ip_mode: Annotated[str, doc("How traffic reaches the address.")] = ""
    ports: Annotated[list[FreeForm], doc("The ports and their status.")] = []


class LoadBalancerStatus(Model):
    """The Service's load balancer."""

    ingress: Annotated[list[LoadBalancerIngress], doc("Its addresses.")] = []


class ServiceStatus(Model):
    """The observed state of the Service (kawa has no load balancer: nothing to report)."""

    load_balancer: Annotated[LoadBalancerStatus | None, doc("The load balancer's status.")] = None
    conditions: Annotated[list[FreeForm], doc("Conditions of the Service."), MergeKey("type")] = []


class Service(KubeObject):
    """A Service: one name and virtual address for the Pods its selector matches."""

    spec: Annotated[ServiceSpec, doc("The desired Service.")] = ServiceSpec()

    @classmethod
    def set_defaults(cls, data: dict[str, Any], ctx: Context) -> None:
        """A Service without ``spec`` gets one, for the spec's defaults."""
        if data.get("spec") is None:
            data["spec"] = {}

    @classmethod
    def check_update(cls, old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterable[FieldError]:
        """``clusterIP`` may not change, except to or from an ExternalName Service."""
        old_spec, new_spec = old.get("spec"), new.get("spec")
        if not isinstance(old_spec, Mapping) or not isinstance(new_spec, Mapping):
            return []
        if "ExternalName" in (old_spec.get("type"), new_spec.get("type")):
            return []
        before, after = old_spec.get("clusterIP"), new_spec.get("clusterIP")
        if before and before != after:
            return [FieldError("spec.clusterIP", "Invalid value: field is immutable")]
        return []


# -- kubectl get services -----------------------------------------------------------------


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def type_cell(obj: Mapping[str, Any]) -> str:
    return str(_spec(obj).get("type") or "ClusterIP")


def cluster_ip_cell(obj: Mapping[str, Any]) -> str:
    spec = _spec(obj)
    if spec.get("type") == "ExternalName":
        return "<none>"
    return str(spec.get("clusterIP") or "<none>")


def external_ip_cell(obj: Mapping[str, Any]) -> str:
    """EXTERNAL-IP as kubectl prints it: the external name, external IPs, load balancer
    addresses, or ``<pending>`` for a LoadBalancer without one."""
    spec = _spec(obj)
    kind = spec.get("type") or "ClusterIP"
    external = [ip for ip in spec.get("externalIPs") or [] if isinstance(ip, str)]
    if kind == "ExternalName":
        return str(spec.get("externalName") or "<none>")
    if kind == "LoadBalancer":
        status = obj.get("status")
        balancer = status.get("loadBalancer") if isinstance(status, Mapping) else None
        ingress = balancer.get("ingress") if isinstance(balancer, Mapping) else None
        found = [
            str(i.get("ip") or i.get("hostname"))
            for i in ingress or []
            if isinstance(i, Mapping) and (i.get("ip") or i.get("hostname"))
        ]
        found += external
        return ",".join(found) if found else "<pending>"
    return ",".join(external) if external else "<none>"


def ports_cell(obj: Mapping[str, Any]) -> str:
    """PORT(S): ``80/TCP``, ``80:31234/TCP`` with a node port, comma separated."""
    cells: list[str] = []
    for port in _spec(obj).get("ports") or []:
        if not isinstance(port, Mapping):
            continue
        text = str(port.get("port"))
        if port.get("nodePort"):
            text += f":{port['nodePort']}"
        cells.append(f"{text}/{port.get('protocol') or 'TCP'}")
    return ",".join(cells) if cells else "<none>"


def selector_cell(obj: Mapping[str, Any]) -> str:
    selector = _spec(obj).get("selector")
    if not isinstance(selector, Mapping) or not selector:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
