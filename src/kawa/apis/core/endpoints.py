"""The Endpoints kind (core/v1): the addresses and ports behind a Service of the same name.

For a Service with a selector kawa's endpoints controller (:mod:`kawa.controllers.endpoints`)
writes them from the ready and not ready Pods; for one without, they are the user's. Declared
once (:mod:`kawa.apis.model`); each address is a valid IP, each port 1-65535 with a DNS-label
name (required when a subset has several ports, unique). :func:`endpoints_cell` is the
``kubectl get endpoints`` column.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator

from kawa.apis import meta
from kawa.apis.core.references import ObjectReference
from kawa.apis.model.base import Context, Model, doc
from kawa.apis.model.objects import KubeObject
from kawa.errors import FieldError

API_VERSION: Final = "v1"
KIND: Final = "Endpoints"
MAX_SHOWN: Final = 3
"""``kubectl get endpoints`` lists this many addresses, then ``+ N more...``."""


def _ip(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"invalid value {value!r}: must be a valid IP address") from None
    return value


def _dns_label(value: str) -> str:
    if value:
        problems = meta.dns1123_label_errors(value)
        if problems:
            raise ValueError(f"invalid value {value!r}: {'; '.join(problems)}")
    return value


class EndpointAddress(Model):
    """One address of the Service's backends."""

    ip: Annotated[str, AfterValidator(_ip), doc("The address (kawa's Pods: 127.0.0.1).")]
    hostname: Annotated[str, doc("The host name of the address.")] = ""
    node_name: Annotated[str, doc("The node the address is on.")] = ""
    target_ref: Annotated[ObjectReference | None, doc("The object behind the address.")] = None


class EndpointPort(Model):
    """One port of the Service's backends."""

    name: Annotated[
        str, AfterValidator(_dns_label), doc("The name of the Service port it serves.")
    ] = ""
    port: Annotated[int, doc("The port number.", ge=1, le=65535)]
    protocol: Annotated[
        Literal["TCP", "UDP", "SCTP"] | None, doc("TCP (the default), UDP or SCTP.")
    ] = None
    app_protocol: Annotated[str, doc("The application protocol (a hint).")] = ""


class EndpointSubset(Model):
    """Addresses that all serve the same ports."""

    addresses: Annotated[list[EndpointAddress], doc("Ready addresses.")] = []
    not_ready_addresses: Annotated[
        list[EndpointAddress], doc("Addresses not ready (yet) to serve.")
    ] = []
    ports: Annotated[list[EndpointPort], doc("The ports of every address.")] = []

    @classmethod
    def set_defaults(cls, data: dict[str, Any], ctx: Context) -> None:
        ports = data.get("ports")
        for port in ports if isinstance(ports, list) else ():
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")

    def check(self, ctx: Context) -> Iterable[FieldError]:
        names: set[str] = set()
        for i, port in enumerate(self.ports):
            if len(self.ports) > 1 and not port.name:
                yield FieldError(f"ports[{i}].name", "Required value")
            elif port.name in names:
                yield FieldError(f"ports[{i}].name", f'Duplicate value: "{port.name}"')
            names.add(port.name)


class Endpoints(KubeObject):
    """Endpoints: the addresses and ports that implement the Service of the same name."""

    subsets: Annotated[list[EndpointSubset], doc("Groups of addresses with their ports.")] = []


def endpoints_cell(obj: Mapping[str, Any]) -> str:
    """ENDPOINTS: the ready ``ip:port`` pairs, at most three, then ``+ N more...``."""
    pairs: list[str] = []
    for subset in obj.get("subsets") or []:
        if not isinstance(subset, Mapping):
            continue
        ips = [
            str(a.get("ip"))
            for a in subset.get("addresses") or []
            if isinstance(a, Mapping) and a.get("ip")
        ]
        ports = [p for p in subset.get("ports") or [] if isinstance(p, Mapping)]
        if not ports:
            pairs += ips
        for port in ports:
            pairs += [f"{ip}:{port.get('port')}" for ip in ips]
    if not pairs:
        return "<none>"
    shown = ",".join(pairs[:MAX_SHOWN])
    more = len(pairs) - MAX_SHOWN
    return f"{shown} + {more} more..." if more > 0 else shown
