"""Test support for the source tests: a real aiohttp sink on 127.0.0.1 that records events.

:class:`Sink` decodes every request with kawa's CloudEvents HTTP binding and answers with a
scripted status (202 by default); :func:`serve_sink` runs it on a free port.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from kawa.cloudevents import http as ce_http
from kawa.cloudevents.event import CloudEvent
from kawa.sources.ping import Runnable
from kawa.store.base import ResourceKey, ResourceStore

from ...waiting import eventually

BROKERS = "brokers.eventing.knative.dev"


@dataclass
class Sink:
    """Records the CloudEvents POSTed to it; ``status`` and ``body`` are its answers."""

    url: str = ""
    events: list[CloudEvent] = field(default_factory=list)
    arrivals: list[datetime] = field(default_factory=list)
    status: int = 202
    body: bytes = b""
    requests: int = 0
    stall_next: bool = False
    """Take the next event, then never answer (until the sink shuts down)."""
    stalled: list[CloudEvent] = field(default_factory=list)
    stalling: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    authorizations: list[str | None] = field(default_factory=list)
    """The ``Authorization`` header of every request (``None``: it had none)."""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests += 1
        self.authorizations.append(request.headers.get("Authorization"))
        if self.stall_next:
            self.stall_next = False
            headers = {k.lower(): v for k, v in request.headers.items()}
            self.stalled.append(ce_http.from_http(headers, body))
            self.stalling.set()
            await self.release.wait()
        if self.status < 300:
            event = ce_http.from_http({k.lower(): v for k, v in request.headers.items()}, body)
            self.events.append(event)
            self.arrivals.append(datetime.now(UTC))
            async with self.changed:
                self.changed.notify_all()
        return web.Response(status=self.status, body=self.body)

    async def wait_for(self, count: int, timeout: float = 15.0) -> list[CloudEvent]:
        """Wait until ``count`` events have arrived; return them."""

        async def reached() -> None:
            async with self.changed:
                await self.changed.wait_for(lambda: len(self.events) >= count)

        await asyncio.wait_for(reached(), timeout)
        return list(self.events)


async def serve_sink(sink: Sink, path: str = "/") -> AsyncIterator[Sink]:
    app = web.Application()
    app.router.add_post(path, sink.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    sink.url = f"http://{host}:{port}{path}"
    try:
        yield sink
    finally:
        sink.release.set()
        await runner.cleanup()


def closed_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


async def addressable_broker(
    store: ResourceStore, name: str, url: str | None, namespace: str = "default"
) -> None:
    """A Broker in the store with ``status.address.url`` = ``url`` (none when ``None``)."""
    key = ResourceKey(BROKERS, namespace, name)
    obj: dict[str, Any] = {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Broker",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {},
    }
    created = await store.create(key, obj)
    if url is not None:
        await store.update(key, dict(created, status={"address": {"url": url}}), status_only=True)


PINGSOURCES = "pingsources.sources.knative.dev"


def ping_source(
    name: str,
    sink: dict[str, Any] | str,
    *,
    schedule: str = "* * * * * *",
    namespace: str = "default",
    **spec: Any,
) -> dict[str, Any]:
    """A PingSource manifest; ``sink`` is a URL or a Destination mapping."""
    destination = {"uri": sink} if isinstance(sink, str) else sink
    return {
        "apiVersion": "sources.knative.dev/v1",
        "kind": "PingSource",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"schedule": schedule, "sink": destination, **spec},
    }


async def create(store: ResourceStore, obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    return await store.create(ResourceKey(PINGSOURCES, meta["namespace"], meta["name"]), obj)


def key_of(name: str, namespace: str = "default") -> ResourceKey:
    return ResourceKey(PINGSOURCES, namespace, name)


async def wait_until(
    store: ResourceStore,
    key: ResourceKey,
    predicate: Callable[[dict[str, Any]], bool],
    timeout: float = 15.0,
) -> dict[str, Any]:
    """Poll the object until ``predicate`` holds; return it."""
    last: dict[str, Any] = {}

    async def holds() -> dict[str, Any] | None:
        nonlocal last
        last = await store.get(key)
        return last if predicate(last) else None

    try:
        return await eventually(holds, timeout)
    except AssertionError:
        raise AssertionError(
            f"{key}: condition not met; last seen status {last.get('status')}"
        ) from None


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    for item in obj.get("status", {}).get("conditions", []):
        if item.get("type") == type_:
            return dict(item)
    return {}


@contextlib.asynccontextmanager
async def running(*parts: Runnable) -> AsyncIterator[None]:
    """Run ``parts`` (what ``ping_sources`` returns) until the block ends: kawa up, then down."""
    tasks = [asyncio.create_task(p.run(), name=p.name) for p in parts]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def tick_times(events: list[CloudEvent]) -> list[datetime]:
    return [
        datetime.fromisoformat(str(e.attributes["time"]).replace("Z", "+00:00")) for e in events
    ]
