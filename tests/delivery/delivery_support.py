"""Test support for the delivery tests: a real HTTP receiver on 127.0.0.1, a recording sleep."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

Responder = Callable[[web.Request], Awaitable[web.StreamResponse]]

NOW = 1_700_000_000.0
"""The fixed wall clock the dispatcher sees (for HTTP-date Retry-After)."""


@dataclass(frozen=True, slots=True)
class Received:
    """One request as the receiver saw it."""

    headers: dict[str, str]
    body: bytes
    peer: tuple[str, int]


def reply(status: int = 202, body: bytes = b"", headers: dict[str, str] | None = None) -> Responder:
    """A responder answering ``status`` with ``body`` and ``headers``."""

    async def respond(_: web.Request) -> web.StreamResponse:
        return web.Response(status=status, body=body, headers=headers)

    return respond


@dataclass
class Receiver:
    """An HTTP server that records every request and answers from a script.

    ``script(...)`` queues responders used in order; once used up, ``default`` answers.
    """

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    queue: list[Responder] = field(default_factory=list)
    default: Responder = field(default_factory=reply)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def script(self, *responders: Responder) -> None:
        self.queue.extend(responders)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.requests.append(
            Received({k.lower(): v for k, v in request.headers.items()}, body, tuple(peer or ()))
        )
        responder = self.queue.pop(0) if self.queue else self.default
        return await responder(request)

    def stall(self) -> Responder:
        """A responder that answers only at teardown (for timeouts)."""

        async def respond(_: web.Request) -> web.StreamResponse:
            await self.release.wait()
            return web.Response(status=202)

        return respond


async def serve(
    receiver: Receiver, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[Receiver]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024, ssl_context=ssl_context)
    await site.start()
    host, port = runner.addresses[0][:2]
    receiver.url = f"http://{host}:{port}/subscriber"
    try:
        yield receiver
    finally:
        receiver.release.set()
        await runner.cleanup()


class Sleeps(list[float]):
    """An injectable ``sleep`` that records the delays and returns at once."""

    async def __call__(self, delay: float) -> None:
        self.append(delay)
