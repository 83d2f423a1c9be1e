"""The EndpointSlice kind (discovery.k8s.io/v1): a slice of a Service's endpoints.

kawa's endpoints controller (:mod:`kawa.controllers.endpoints`) writes one slice per Service
with a selector, labelled ``kubernetes.io/service-name`` and
``endpointslice.kubernetes.io/managed-by``; users may write their own. Declared once
(:mod:`kawa.apis.model`): ``addressType`` (``IPv4``, ``IPv6`` or ``FQDN``, immutable), each
endpoint with 1 to 100 addresses of that type, ports 1-65535 with unique names. The
``kubectl get endpointslices`` cells are here too.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final, Literal

from kawa.apis import meta
from kawa.apis.core.references import ObjectReference
from kawa.apis.model.base import Context, Immutable, Model, doc
from kawa.apis.model.objects import KubeObject
from kawa.apis.model.types import FreeForm
from kawa.errors import FieldError

GROUP: Final = "discovery.k8s.io"
API_VERSION: Final = f"{GROUP}/v1"
KIND: Final = "EndpointSlice"
SERVICE_NAME_LABEL: Final = "kubernetes.io/service-name"
MANAGED_BY_LABEL: Final = "endpointslice.kubernetes.io/managed-by"
MAX_ADDRESSES: Final = 100
MAX_SHOWN: Final = 3


class EndpointConditions(Model):
    """The state of an endpoint."""

    ready: Annotated[bool | None, doc("Whether the endpoint is ready for traffic.")] = None
    serving: Annotated[bool | None, doc("Whether it serves (ready or terminating).")] = None
    terminating: Annotated[bool | None, doc("Whether it is terminating.")] = None


class Endpoint(Model):
    """One backend of the Service."""

    addresses: Annotated[list[str], doc("The endpoint's addresses (1 to 100).")]
    conditions: Annotated[EndpointConditions | None, doc("The endpoint's state.")] = None
    hostname: Annotated[str, doc("The endpoint's host name.")] = ""
    target_ref: Annotated[ObjectReference | None, doc("The object behind the endpoint.")] = None
    node_name: Annotated[str, doc("The node the endpoint is on.")] = ""
    zone: Annotated[str, doc("The zone the endpoint is in.")] = ""
    hints: Annotated[FreeForm | None, doc("Hints for topology-aware routing.")] = None
    deprecated_topology: Annotated[dict[str, str] | None, doc("Deprecated: topology labels.")] = (
        None
    )


class EndpointPort(Model):
    """A port of every endpoint of the slice."""

    name: Annotated[str | None, doc("The name of the Service port it serves.")] = None
    protocol: Annotated[
        Literal["TCP", "UDP", "SCTP"] | None, doc("TCP (the default), UDP or SCTP.")
    ] = None
    port: Annotated[int | None, doc("The port number.", ge=1, le=65535)] = None
    app_protocol: Annotated[str | None, doc("The application protocol (a hint).")] = None


class EndpointSlice(KubeObject):
    """An EndpointSlice: some of the endpoints of a Service."""

    address_type: Annotated[
        Literal["IPv4", "IPv6", "FQDN"],
        doc("The type of every address of the slice: IPv4, IPv6 or FQDN; immutable."),
        Immutable(),
    ]
    endpoints: Annotated[list[Endpoint], doc("The endpoints of the slice.")] = []
    ports: Annotated[list[EndpointPort], doc("The ports of every endpoint.")] = []

    @classmethod
    def set_defaults(cls, data: dict[str, Any], ctx: Context) -> None:
        ports = data.get("ports")
        for port in ports if isinstance(ports, list) else ():
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                port.setdefault("name", "")

    def check(self, ctx: Context) -> Iterable[FieldError]:
        for i, endpoint in enumerate(self.endpoints):
            count = len(endpoint.addresses)
            if not 1 <= count <= MAX_ADDRESSES:
                yield FieldError(
                    f"endpoints[{i}].addresses",
                    f"Invalid value: {count}: must have between 1 and {MAX_ADDRESSES} items",
                )
            for j, address in enumerate(endpoint.addresses):
                problem = _address_problem(self.address_type, address)
                if problem:
                    yield FieldError(
                        f"endpoints[{i}].addresses[{j}]", f'Invalid value: "{address}": {problem}'
                    )
        names: set[str] = set()
        for i, port in enumerate(self.ports):
            name = port.name or ""
            if name and meta.dns1123_label_errors(name):
                problems = "; ".join(meta.dns1123_label_errors(name))
                yield FieldError(f"ports[{i}].name", f'Invalid value: "{name}": {problems}')
            if name in names:
                yield FieldError(f"ports[{i}].name", f'Duplicate value: "{name}"')
            names.add(name)


def _address_problem(address_type: str, address: str) -> str:
    if address_type == "FQDN":
        problems = meta.dns1123_subdomain_errors(address)
        return "; ".join(problems)
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return "must be a valid IP address"
    if (parsed.version == 4) != (address_type == "IPv4"):
        return f"must be an {address_type} address"
    return ""


def ports_cell(obj: Mapping[str, Any]) -> str:
    """PORTS: the port numbers, comma separated (``<unset>`` without any)."""
    ports = [
        str(p.get("port")) if p.get("port") is not None else "<unset>"
        for p in obj.get("ports") or []
        if isinstance(p, Mapping)
    ]
    return ",".join(ports) if ports else "<unset>"


def endpoints_cell(obj: Mapping[str, Any]) -> str:
    """ENDPOINTS: the addresses, at most three, then ``+ N more...``."""
    addresses = [
        str(a)
        for e in obj.get("endpoints") or []
        if isinstance(e, Mapping)
        for a in e.get("addresses") or []
    ]
    if not addresses:
        return "<unset>"
    shown = ",".join(addresses[:MAX_SHOWN])
    more = len(addresses) - MAX_SHOWN
    return f"{shown} + {more} more..." if more > 0 else shown
