"""The serving data plane on a real SQLite store, with a small in-test kubelet.

:class:`FakeKubelet` stands in for kawa's kubelet: it turns every Pod of a Revision created in
the store into a real HTTP server on the Pod's port (an aiohttp app in this process, answering
with what it received) and marks the Pod Ready; a deleted Pod's server stops. Tests hold Pods
unready with :attr:`FakeKubelet.gate`. :func:`running_plane` runs it all, the router on a real
loopback port.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from kawa.errors import NotFoundError
from kawa.serving.dataplane import ServingDataPlane
from kawa.store.base import Obj, ResourceKey
from kawa.store.sqlite import SqliteResourceStore
from kawa.transport.server import BodyBudget, BoundedSite, ServerLimits

NS = "ns"
REVISIONS = "revisions.serving.knative.dev"
ROUTES = "routes.serving.knative.dev"
FAST = {
    "tick-interval": "100ms",
    "stable-window": "1s",
    "scale-to-zero-grace-period": "500ms",
}


@dataclass
class Backend:
    """One Pod's server and what it saw."""

    pod: str
    revision: str
    runner: web.AppRunner | None = None
    in_flight: int = 0
    max_in_flight: int = 0
    requests: int = 0


@dataclass
class FakeKubelet:
    store: SqliteResourceStore
    ready_delay: float = 0.05
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    backends: dict[str, Backend] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.gate.set()

    async def run(self) -> None:
        try:
            async for event in self.store.watch("pods", NS, since=0):
                name = event.object["metadata"]["name"]
                if event.type == "ADDED":
                    task = asyncio.get_running_loop().create_task(self._start(event.object))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                elif event.type == "DELETED":
                    backend = self.backends.pop(name, None)
                    if backend is not None and backend.runner is not None:
                        await backend.runner.cleanup()
        finally:
            for task in self._tasks:
                task.cancel()
            for backend in self.backends.values():
                if backend.runner is not None:
                    await backend.runner.cleanup()

    async def _start(self, pod: Obj) -> None:
        meta = pod["metadata"]
        name = meta["name"]
        backend = Backend(name, meta["labels"]["serving.knative.dev/revision"])
        self.backends[name] = backend
        await self.gate.wait()
        await asyncio.sleep(self.ready_delay)  # a process that takes this long to start
        if self.backends.get(name) is not backend:
            return  # deleted meanwhile
        port = pod["spec"]["containers"][0]["ports"][0]["containerPort"]
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", _handler(backend))
        runner = web.AppRunner(app, shutdown_timeout=0.5)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        backend.runner = runner
        status = {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
        }
        with contextlib.suppress(NotFoundError):
            await self.store.update(
                ResourceKey("pods", NS, name), {"status": status}, status_only=True
            )

    def max_in_flight(self) -> int:
        return max((b.max_in_flight for b in self.backends.values()), default=0)


def _handler(backend: Backend) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        backend.requests += 1
        backend.in_flight += 1
        backend.max_in_flight = max(backend.max_in_flight, backend.in_flight)
        try:
            body = await request.read()
            delay = float(request.query.get("sleep", "0"))
            if delay:
                await asyncio.sleep(delay)  # a request that takes this long (?sleep=)
        finally:
            backend.in_flight -= 1
        answer = {
            "pod": backend.pod,
            "revision": backend.revision,
            "method": request.method,
            "path": request.path,
            "query": request.query_string,
            "headers": [[k, v] for k, v in request.headers.items()],
            "body": base64.b64encode(body).decode(),
        }
        response = web.json_response(answer, status=int(request.query.get("status", "200")))
        response.headers.add("Set-Cookie", "a=1")
        response.headers.add("Set-Cookie", "b=2")
        response.headers["X-Backend"] = backend.pod
        return response

    return handle


def revision(
    name: str,
    *,
    cc: int = 0,
    annotations: Mapping[str, str] | None = None,
    at_zero: bool = True,
    image: str = "busybox",
    timeout: int = 30,
) -> Obj:
    """A Revision; ``at_zero``: it was ready before (no initial scale), else brand new."""
    obj: Obj = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Revision",
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": {
                "serving.knative.dev/configuration": "svc",
                "serving.knative.dev/service": "svc",
            },
            "annotations": dict(annotations or {}),
        },
        "spec": {
            "containerConcurrency": cc,
            "timeoutSeconds": timeout,
            "containers": [{"name": "user-container", "image": image, "command": ["serve"]}]
            if image == "busybox"
            else [{"name": "user-container", "image": image}],
        },
    }
    if at_zero:
        obj["status"] = {"conditions": [{"type": "ResourcesAvailable", "status": "True"}]}
    return obj


def route(name: str, traffic: list[dict[str, Any]]) -> Obj:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Route",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"traffic": traffic},
        "status": {"traffic": traffic},
    }


@dataclass
class Plane:
    store: SqliteResourceStore
    plane: ServingDataPlane
    kubelet: FakeKubelet
    url: str
    session: aiohttp.ClientSession

    async def add(self, resource: str, obj: Obj) -> Obj:
        meta = obj["metadata"]
        return await self.store.create(ResourceKey(resource, NS, meta["name"]), obj)

    async def pods(self, revision_name: str | None = None) -> list[Obj]:
        items = (await self.store.list("pods", NS)).items
        return [
            p
            for p in items
            if revision_name is None
            or p["metadata"]["labels"].get("serving.knative.dev/revision") == revision_name
        ]

    async def ready_pods(self, revision_name: str) -> int:
        pods = await self.pods(revision_name)
        return sum(
            1
            for p in pods
            if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (p.get("status") or {}).get("conditions", [])
            )
        )


@contextlib.asynccontextmanager
async def running_plane(
    config: Mapping[str, str] | None = None, limits: ServerLimits | None = None
) -> AsyncIterator[Plane]:
    """The plane on a loopback port; with ``limits``, behind kawa's bounded listener."""
    store = SqliteResourceStore(":memory:")
    data = dict(FAST)
    data.update(config or {})
    await store.create(
        ResourceKey("configmaps", "knative-serving", "config-autoscaler"),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "config-autoscaler", "namespace": "knative-serving"},
            "data": data,
        },
    )
    plane = ServingDataPlane(store)
    kubelet = FakeKubelet(store)
    app = web.Application()
    app.add_routes(plane.routes())
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site: web.BaseSite
    if limits is None:
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    else:
        sock = socket.create_server(("127.0.0.1", 0))
        sock.setblocking(False)
        budget = BodyBudget(limits.max_buffered_bytes)
        site = BoundedSite(runner, sock, limits=limits, budget=budget)
    await site.start()
    host, port = runner.addresses[0][:2]
    tasks = [
        asyncio.create_task(plane.run(), name="plane"),
        asyncio.create_task(kubelet.run(), name="kubelet"),
    ]
    try:
        async with asyncio.timeout(10):
            await plane.ready.wait()
        connector = aiohttp.TCPConnector(limit=500)
        async with aiohttp.ClientSession(connector=connector) as session:
            yield Plane(store, plane, kubelet, f"http://{host}:{port}", session)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await runner.cleanup()
        await store.close()
