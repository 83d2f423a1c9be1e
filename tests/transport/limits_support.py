"""Test support for the HTTP server's bounds: a real kawa with small limits, raw connections.

:func:`kawa_with` runs :func:`kawa.runtime.serve` (memory backends, free ports) with the
given :class:`~kawa.transport.server.ServerLimits` and yields its :class:`Running`.
:class:`Raw` is one TCP (or TLS) connection on which a test writes exactly the bytes it
wants, when it wants; :meth:`Raw.response` reads one response, :meth:`Raw.closed` waits for
the server to close the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kawa.runtime import Config, Running, serve
from kawa.transport.server import ServerLimits


@contextlib.asynccontextmanager
async def kawa_with(data_dir: Path, limits: ServerLimits, **config: Any) -> AsyncIterator[Running]:
    ready: asyncio.Future[Running] = asyncio.get_running_loop().create_future()
    settings = Config(
        data_dir=data_dir,
        port=0,
        api_port=0,
        store_backend="memory",
        event_log_backend="memory",
        limits=limits,
        **config,
    )
    task = asyncio.create_task(serve(settings, on_ready=ready.set_result))
    waiters: list[asyncio.Future[Any]] = [task, ready]
    done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()
    try:
        yield ready.result()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def client_tls() -> ssl.SSLContext:
    """TLS without verification: these tests are about time and counts, not certificates."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Raw:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    @classmethod
    async def open(cls, url: str, *, tls: bool | None = None) -> Raw:
        """A connection to ``url``'s host and port (TLS for ``https://`` unless ``tls``)."""
        parts = urlsplit(url)
        secure = parts.scheme == "https" if tls is None else tls
        reader, writer = await asyncio.open_connection(
            parts.hostname, parts.port, ssl=client_tls() if secure else None
        )
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def response(self, timeout: float = 10.0) -> Response:
        async with asyncio.timeout(timeout):
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return Response(status, headers, body)

    async def closed(self, timeout: float = 10.0) -> tuple[float, bytes]:
        """When (``time.monotonic()``) the server closed the connection, and the bytes it sent
        until then; AssertionError when it is still open after ``timeout`` seconds."""
        received = b""
        try:
            async with asyncio.timeout(timeout):
                while chunk := await self.reader.read(65536):
                    received += chunk
        except (ConnectionError, ssl.SSLError):
            pass
        except TimeoutError:
            raise AssertionError(
                f"the server did not close the connection within {timeout}s "
                f"(received {received[:200]!r})"
            ) from None
        return time.monotonic(), received

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await self.writer.wait_closed()


def request(method: str, path: str, *, body: bytes = b"", headers: str = "") -> bytes:
    """One HTTP/1.1 request's bytes (``Content-Length`` for a body)."""
    length = f"Content-Length: {len(body)}\r\n" if body or method in ("POST", "PUT") else ""
    return f"{method} {path} HTTP/1.1\r\nHost: kawa\r\n{headers}{length}\r\n".encode() + body
