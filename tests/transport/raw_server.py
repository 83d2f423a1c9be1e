"""Test support: a scripted HTTP/1.1 server on 127.0.0.1 that writes exactly the bytes it is told.

Each request is read (head and ``Content-Length`` body) and handed to ``answer(conn, n, request)``
(``conn``: 0-based connection number, ``n``: 0-based request number on that connection), which
returns an :class:`Answer`: the raw bytes to write (as pieces, written with a pause between
them), and whether to close the connection afterwards, or to never answer at all.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Answer:
    pieces: tuple[bytes, ...] = ()
    close: bool = False
    stall: bool = False
    delay: float = 0.0
    """Seconds to wait before writing."""


def ok(body: bytes = b"", extra: str = "") -> Answer:
    return Answer(
        (f"HTTP/1.1 200 OK\r\n{extra}Content-Length: {len(body)}\r\n\r\n".encode() + body,)
    )


@dataclass
class RawServer:
    answer: Callable[[int, int, bytes], Answer]
    url: str = ""
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = self.connections
        self.connections += 1
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.append(writer)
        try:
            n = 0
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                self.arrived.set()
                answer = self.answer(conn, n, request)
                n += 1
                if answer.stall:
                    await self.stop.wait()
                    return
                if answer.delay:
                    await asyncio.sleep(answer.delay)
                for i, piece in enumerate(answer.pieces):
                    if i:  # apart: the client must put a response together from pieces
                        await asyncio.sleep(0.005)
                    writer.write(piece)
                    await writer.drain()
                if answer.close:
                    return
        except ConnectionError:
            return
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


@contextlib.asynccontextmanager
async def serve_raw(answer: Callable[[int, int, bytes], Answer]) -> AsyncIterator[RawServer]:
    raw = RawServer(answer)
    server = await asyncio.start_server(raw._serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    raw.url = f"http://127.0.0.1:{port}/path?q=1"
    try:
        yield raw
    finally:
        server.close()
        raw.stop.set()
        for writer in raw._writers:
            writer.transport.abort()
        if raw._tasks:
            await asyncio.wait(raw._tasks, timeout=2.0)
        await server.wait_closed()
