"""kawa's listening sockets and sites: the plain-HTTP port (the data plane, with the lean
ingress path in front of aiohttp when it is on), the HTTPS API port, the data plane's HTTPS
port (transport-encryption: the same routes over TLS 1.3), and, in worker 0 of
``kawa up --workers``, a loopback socket its siblings reach its kubelet by.

:func:`start` binds them (port 0: a free one; with ``reuse_port`` one of the workers' sockets
sharing each port), fits the process's file limit to the connection cap, starts a
:class:`~kawa.transport.server.BoundedSite` on each (one body budget shared) and returns the
URLs clients reach them by: on a wildcard address (``0.0.0.0``) the advertised one, which
other nodes and machines reach (status URLs, kubeconfig, ``server.json``, the issuer of
ServiceAccount tokens). Used by :mod:`kawa.runtime`.
"""

from __future__ import annotations

import errno
import logging
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from aiohttp import web

from kawa import workers
from kawa.apiserver import access
from kawa.errors import KawaError
from kawa.transport import lean
from kawa.transport import server as http_server

log = logging.getLogger(__name__)

MAX_HEADER_LINE: Final = 64 * 1024
MAX_HEADER_FIELD: Final = 256 * 1024
READ_BUFFER: Final = 32 * 1024
HANDLER_OPTIONS: Final[Mapping[str, Any]] = MappingProxyType(
    {
        "access_log": None,
        # Knative's servers take large headers (binary-mode extensions are headers)
        "max_line_size": MAX_HEADER_LINE,
        "max_field_size": MAX_HEADER_FIELD,
        # a connection's unread body buffer (twice this before reading pauses): half of
        # aiohttp's default halves what many connections sending bodies at once hold beyond
        # the body budget (bench/slow_bodies.py: 400 of them, +330 MiB peak -> +150 MiB)
        "read_bufsize": READ_BUFFER,
    }
)
"""Options of aiohttp's request handler for the connections of both listeners."""


class ListenError(KawaError):
    """A port cannot be bound (in use, not permitted, no such address)."""


@dataclass(frozen=True, slots=True)
class Listening:
    """The bound sockets and the URLs they are reached by."""

    http_sock: socket.socket
    api_sock: socket.socket
    url: str
    api_url: str
    worker_zero: Mapping[str, str] = field(default_factory=dict)
    https_url: str = ""
    """The data plane's HTTPS URL (transport-encryption), "" without that listener."""
    """Worker 0's kubelet URL for its siblings (:data:`kawa.workers.KUBELET_URL`), if any."""

    @property
    def port(self) -> int:
        return int(self.http_sock.getsockname()[1])

    @property
    def api_port(self) -> int:
        return int(self.api_sock.getsockname()[1])


async def start(
    runner: web.AppRunner,
    *,
    host: str,
    port: int,
    api_port: int,
    api_ssl: ssl.SSLContext,
    limits: http_server.ServerLimits,
    advertise_address: str,
    lean_front: lean.LeanFront | None,
    reuse_port: bool = False,
    node_agent: bool = False,
    https_port: int | None = None,
    data_ssl: ssl.SSLContext | None = None,
) -> Listening:
    """Bind and serve the listeners (see the module docstring)."""
    http_sock = listen_socket(host, port, reuse_port=reuse_port)
    try:
        api_sock = listen_socket(host, api_port, reuse_port=reuse_port)
    except OSError:
        http_sock.close()
        raise
    # both listeners bound their connections and share one budget of body bytes
    # (kawa.transport.server); the request-handler options go to the sites
    warning = http_server.fit_file_limit(limits.max_connections)
    if warning:
        log.warning("%s", warning)
    budget = http_server.BodyBudget(limits.max_buffered_bytes)
    sites: list[tuple[socket.socket, ssl.SSLContext | None, int, lean.LeanFront | None]] = [
        (http_sock, None, 1024, lean_front),
        (api_sock, api_ssl, 128, None),
    ]
    reach = advertise_address if host in access.WILDCARDS else host
    shown = f"[{reach}]" if ":" in reach else reach
    https_url = ""
    if https_port is not None and data_ssl is not None:  # the data plane over TLS
        try:
            https_sock = listen_socket(host, https_port, reuse_port=reuse_port)
        except OSError:
            http_sock.close()
            api_sock.close()
            raise
        sites.append((https_sock, data_ssl, 1024, None))
        https_url = f"https://{shown}:{https_sock.getsockname()[1]}"
    worker_zero: dict[str, str] = {}
    if node_agent:  # worker 0: its siblings' way to its kubelet
        kubelet_sock = listen_socket("127.0.0.1", 0)
        sites.append((kubelet_sock, None, 128, None))
        worker_zero[workers.KUBELET_URL] = f"http://127.0.0.1:{kubelet_sock.getsockname()[1]}"
    for sock, ssl_context, backlog, front in sites:
        await http_server.BoundedSite(
            runner,
            sock,
            limits=limits,
            budget=budget,
            ssl_context=ssl_context,
            backlog=backlog,
            front=front,
            **HANDLER_OPTIONS,
        ).start()
    return Listening(
        http_sock,
        api_sock,
        f"http://{shown}:{http_sock.getsockname()[1]}",
        f"https://{shown}:{api_sock.getsockname()[1]}",
        worker_zero,
        https_url,
    )


def listen_socket(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A listening TCP socket (port 0: a free one), so the bound port is known at once;
    with ``reuse_port``, one of the workers' sockets sharing the port (``SO_REUSEPORT``: the
    kernel spreads new connections over them)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(1024)
        sock.setblocking(False)
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise ListenError(
                f"cannot listen on {host}:{port}: the address is already in use (is something "
                "already running there? choose another --port / --api-port)"
            ) from None
        raise ListenError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    return sock
