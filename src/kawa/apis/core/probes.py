"""A container's probes (core/v1 ``Probe``): how the kubelet tells that it is alive, ready or
started.

A probe has exactly one handler -- ``exec`` (a command), ``httpGet``, ``tcpSocket`` or ``grpc``
-- and timings and thresholds that may not be negative (Kubernetes' ``validateProbe``). The
port of an ``httpGet`` or ``tcpSocket`` handler is a number 1-65535 or the name of one of the
container's ports; whether it may be left out (Knative aims such a probe at the serving port)
and whether a name exists are the container's rules
(:class:`kawa.apis.core.containers.Container`). Pure declarations; the kubelet runs probes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final, Literal, get_args

from pydantic import AfterValidator

from kawa.apis.model.base import Model, RawChecked, doc
from kawa.apis.model.types import IntOrString, Text
from kawa.errors import FieldError

Scheme = Literal["HTTP", "HTTPS"]
HTTP_SCHEMES: Final[tuple[str, ...]] = get_args(Scheme)
PROBE_HANDLERS: Final = ("exec", "httpGet", "tcpSocket", "grpc")

_PORT_NAME: Final = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
PORT_NAME_HELP: Final = (
    "must be no more than 15 characters of lower case letters, digits and '-', with at least "
    "one letter, not starting, ending or doubling '-' (an IANA service name)"
)


def is_port_name(name: str) -> bool:
    """Whether ``name`` is a valid IANA service name (a container port's ``name``)."""
    return (
        len(name) <= 15
        and bool(_PORT_NAME.fullmatch(name))
        and "--" not in name
        and bool(re.search("[a-z]", name))
    )


def is_unset_port(value: Any) -> bool:
    """Whether a probe's ``port`` counts as absent (``0`` and ``""`` do, as in Kubernetes)."""
    return value is None or value in ("", 0)


def _port(value: int | str) -> int | str:
    if is_unset_port(value):
        return value  # required or not: the container decides
    if isinstance(value, int):
        if not 1 <= value <= 65535:
            raise ValueError(f"invalid value {value}: must be between 1 and 65535, inclusive")
    elif value.isdigit():
        if not 1 <= int(value) <= 65535:
            raise ValueError(f"invalid value {value!r}: must be between 1 and 65535")
    elif not is_port_name(value):
        raise ValueError(
            f"invalid value {value!r}: a port is a number (1-65535) or the name of a "
            f"container port; a name {PORT_NAME_HELP}"
        )
    return value


PortNumberOrName = Annotated[IntOrString, AfterValidator(_port)]
"""A probe's port: a number 1-65535 or the name of a port of the container."""


class ExecAction(Model):
    """Run a command in the container: exit status 0 is success."""

    command: Annotated[list[str], doc("The command and its arguments (not run in a shell).")] = []


class HTTPHeader(Model):
    """A header sent with the probe's request."""

    name: Annotated[Text, doc("The header name.")]
    value: Annotated[str, doc("The header value.")] = ""


class HTTPGetAction(Model):
    """Send an HTTP GET: a status from 200 to 399 is success."""

    path: Annotated[str, doc("The path to request (/ when empty).")] = ""
    port: Annotated[
        PortNumberOrName | None,
        doc("The port to connect to: a number or the name of a container port."),
    ] = None
    host: Annotated[str, doc("The host to connect to (the Pod's IP when empty).")] = ""
    scheme: Annotated[Scheme | None, doc("HTTP (the default) or HTTPS.")] = None
    http_headers: Annotated[list[HTTPHeader], doc("Headers to send with the request.")] = []


class TCPSocketAction(Model):
    """Open a TCP connection: connecting is success."""

    port: Annotated[
        PortNumberOrName | None,
        doc("The port to connect to: a number or the name of a container port."),
    ] = None
    host: Annotated[str, doc("The host to connect to (the Pod's IP when empty).")] = ""


class GRPCAction(Model):
    """Call the gRPC health checking protocol: SERVING is success."""

    port: Annotated[int, doc("The port of the gRPC server.", ge=1, le=65535)]
    service: Annotated[str | None, doc("The service name sent in the HealthCheckRequest.")] = None


class Probe(RawChecked):
    """A check the kubelet runs against a container, with its timing and thresholds."""

    exec: Annotated[ExecAction | None, doc("Run a command in the container.")] = None
    http_get: Annotated[HTTPGetAction | None, doc("Send an HTTP GET request.")] = None
    tcp_socket: Annotated[TCPSocketAction | None, doc("Open a TCP connection.")] = None
    grpc: Annotated[GRPCAction | None, doc("Call the gRPC health checking protocol.")] = None
    initial_delay_seconds: Annotated[
        int | None, doc("Seconds after the container starts before the first probe.", ge=0)
    ] = None
    timeout_seconds: Annotated[
        int | None, doc("Seconds after which a probe times out (default 1).", ge=0)
    ] = None
    period_seconds: Annotated[int | None, doc("Seconds between probes (default 10).", ge=0)] = None
    success_threshold: Annotated[
        int | None,
        doc(
            "Successes in a row that count as success after a failure (default 1; must be 1 "
            "for liveness and startup probes).",
            ge=0,
        ),
    ] = None
    failure_threshold: Annotated[
        int | None, doc("Failures in a row that count as failure (default 3).", ge=0)
    ] = None
    termination_grace_period_seconds: Annotated[
        int | None,
        doc("Seconds between the stop signal and the kill after a failed probe.", ge=1),
    ] = None

    @classmethod
    def check_raw(cls, data: Mapping[str, Any]) -> Iterable[FieldError]:
        """Exactly one handler (Kubernetes' ``validateHandler``)."""
        handlers = [h for h in PROBE_HANDLERS if data.get(h) is not None]
        if not handlers:
            yield FieldError(
                "",
                "must specify a handler type: one of "
                + ", ".join(f"{h!r}" for h in PROBE_HANDLERS),
            )
        for extra in handlers[1:]:
            yield FieldError(extra, "may not specify more than 1 handler type")
