"""A TCP relay from podman's bridge gateway to kawa's ports, for containers.

kawa's API and HTTP port listen on the host's loopback, which a container on podman's
bridge network cannot reach. The podman runtime opens one relay per port on the bridge's
gateway address (the host as containers see it; ``IP_FREEBIND``, as the bridge appears only
with the first container): the API's for in-cluster clients (``kubernetes.default.svc``),
the HTTP port's for the URLs of kawa's data plane in the container's environment (a Broker's
address in ``K_SINK``). A relay copies bytes both ways and nothing else: TLS and the token
are end to end. Used by :mod:`.podman_run`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Final

log = logging.getLogger(__name__)

IP_FREEBIND: Final = getattr(socket, "IP_FREEBIND", 15)
_CHUNK: Final = 65536


class ApiRelay:
    """Listens on ``host`` (an ephemeral port) and forwards each connection to ``target``."""

    def __init__(self, host: str, target: tuple[str, int]) -> None:
        self.host = host
        self.target = target
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
            sock.bind((self.host, 0))
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self._server = await asyncio.start_server(self._serve, sock=sock)
        self.port = int(sock.getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError as err:
            log.warning("kubelet: the API relay cannot reach %s:%s: %s", *self.target, err)
            writer.close()
            return
        pipes = [
            asyncio.ensure_future(_copy(reader, up_writer)),
            asyncio.ensure_future(_copy(up_reader, writer)),
        ]
        self._pipes.update(pipes)
        try:
            await asyncio.gather(*pipes, return_exceptions=True)
        finally:
            self._pipes.difference_update(pipes)
            for stream in (writer, up_writer):
                stream.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for pipe in list(self._pipes):
                pipe.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()
