"""Shared pieces of the interop tests: a real aiohttp server on 127.0.0.1.

``serve(handler)`` runs one POST handler on a random loopback port; the ``sink`` fixture is a
server that decodes every request with kawa's :func:`kawa.cloudevents.http.from_http_batch`
and keeps the events (or the error) and the request headers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from multidict import CIMultiDict

from kawa.cloudevents import http
from kawa.cloudevents.event import CloudEvent
from kawa.cloudevents.validation import CloudEventError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def serve(handler: Handler) -> AsyncIterator[str]:
    """Run ``handler`` for POST / on 127.0.0.1 (random port); yields the URL."""
    app = web.Application()
    app.router.add_post("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}/"
    finally:
        await runner.cleanup()


@dataclass
class Sink:
    """What a kawa receiver saw: decoded events, request headers, rejections."""

    url: str = ""
    events: list[CloudEvent] = field(default_factory=list)
    headers: list[CIMultiDict[str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def by_id(self) -> dict[str, CloudEvent]:
        return {event.id: event for event in self.events}


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    received = Sink()

    async def handler(request: web.Request) -> web.Response:
        received.headers.append(CIMultiDict(request.headers))
        body = await request.read()
        try:
            received.events.extend(http.from_http_batch(request.headers, body))
        except CloudEventError as exc:
            received.errors.append(str(exc))
            return web.Response(status=400, text=str(exc))
        return web.Response(status=202)

    async with serve(handler) as url:
        received.url = url
        yield received
