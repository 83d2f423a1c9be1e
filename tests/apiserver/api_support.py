"""kawa's API server alone (no controllers, no kubelet) on a loopback port, over an in-memory
SQLite store with namespace ``default``; an HTTP client for it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from kawa.apiserver import access
from kawa.apiserver.server import ApiServer, SubresourceHandler
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore


@dataclass(frozen=True, slots=True)
class Api:
    store: SqliteResourceStore
    client: aiohttp.ClientSession
    url: str
    """``http://127.0.0.1:<port>`` (paths are appended)."""

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        """The status and the decoded JSON body of a request (``body``: JSON, or raw
        ``bytes``/``str``)."""
        kwargs: dict[str, Any] = {"headers": dict(headers or {})}
        if isinstance(body, bytes | str):
            kwargs["data"] = body
        elif body is not None:
            kwargs["json"] = body
        async with self.client.request(method, self.url + path, **kwargs) as resp:
            return resp.status, await resp.json(content_type=None)


@contextlib.asynccontextmanager
async def serving(
    *,
    history: int = 10_000,
    store_max_size: int = 0,
    client_max_size: int = 1024**2,
    token: str | None = None,
    subresources: Mapping[tuple[str, str], SubresourceHandler] | None = None,
) -> AsyncIterator[Api]:
    """The API with a store keeping ``history`` changes (and at most ``store_max_size``
    bytes, if given), a body limit, an optional bearer ``token`` and extra subresource
    handlers (``(resource, name) -> handler``)."""
    store = SqliteResourceStore(":memory:", history=history, max_size=store_max_size)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}
    await store.create(ResourceKey("namespaces", "", "default"), namespace)
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "kawa"}, "spec": {}}
    await store.create(ResourceKey("nodes", "", "kawa"), node)  # kawa's node, Pods bind to
    middlewares = [access.token_middleware(token)] if token is not None else []
    app = web.Application(client_max_size=client_max_size, middlewares=middlewares)
    server = ApiServer(store)
    for (resource, name), handler in (subresources or {}).items():
        server.add_subresource(resource, name, handler)
    server.install(app)
    runner = web.AppRunner(
        app, handler_cancellation=True
    )  # as kawa up: a gone client ends its watch
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        async with aiohttp.ClientSession() as client:
            yield Api(store, client, f"http://127.0.0.1:{runner.addresses[0][1]}")
    finally:
        await runner.cleanup()
        await store.close()
