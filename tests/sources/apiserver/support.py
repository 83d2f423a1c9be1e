"""Helpers for the ApiServerSource tests: a store with objects written as the API server would
(converted to the storage version, defaulted), a real subscriber on loopback that records the
CloudEvents it receives, and the source's controller and adapters running in the test's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from kawa.apis.conditions import get_condition
from kawa.apis.registry import SCHEME
from kawa.cloudevents import http as ce_http
from kawa.cloudevents.event import CloudEvent
from kawa.delivery.sender import Dispatcher, TokenSource
from kawa.errors import NotFoundError
from kawa.sources.apiserver import apiserver_sources
from kawa.sources.apiserver.state import StateStore
from kawa.store.base import ResourceKey, ResourceStore

from ...waiting import eventually

API_URL = "https://127.0.0.1:6443"
SOURCES = "apiserversources.sources.knative.dev"


def key_of(obj: dict[str, Any]) -> ResourceKey:
    rk = SCHEME.for_object(obj)
    meta = obj["metadata"]
    return ResourceKey(
        rk.resource, meta.get("namespace", "default") if rk.namespaced else "", meta["name"]
    )


def stored(obj: dict[str, Any]) -> dict[str, Any]:
    rk = SCHEME.for_object(obj)
    out = dict(rk.default(rk.to_version(obj, rk.storage_api_version)))
    if rk.namespaced:
        out.setdefault("metadata", {}).setdefault("namespace", "default")
    return out


async def put(store: ResourceStore, obj: dict[str, Any]) -> dict[str, Any]:
    """Create or replace ``obj`` as the API server would store it."""
    key = key_of(obj)
    new = stored(obj)
    try:
        await store.get(key)
    except NotFoundError:
        return await store.create(key, new)
    return await store.update(key, new)


async def remove(store: ResourceStore, obj: dict[str, Any]) -> dict[str, Any]:
    """Delete ``obj``; the object as deleted (its resourceVersion is the deletion's)."""
    return await store.delete(key_of(obj))


async def handled(
    store: ResourceStore, data_dir: Path, written: dict[str, Any], name: str = "s"
) -> None:
    """Wait until source ``name`` has handled the change that stored ``written`` (what
    :func:`put` or :func:`remove` returned): its stream of that kind in that namespace saved
    a resourceVersion at or past it. A stream sends its events one by one, in order, each
    answered before it goes on, so the subscriber then has every event up to that change:
    the positive signal to check that nothing more arrives."""
    source = await store.get(ResourceKey(SOURCES, "default", name))
    states = StateStore(store, data_dir)
    uid = source["metadata"]["uid"]
    meta = written["metadata"]
    version = int(meta["resourceVersion"])

    async def reached() -> bool:
        return any(
            stream.info is not None
            and stream.info.kind == written["kind"]
            and stream.namespace == meta.get("namespace", "")
            and int(stream.resource_version or 0) >= version
            for stream in ((await states.read("default", uid)) or {}).values()
        )

    kind, where = written["kind"], f"{meta.get('namespace', '')}/{meta['name']}"
    await eventually(reached, message=f"source {name} never handled {kind} {where} v{version}")


def pod(name: str, ns: str = "default", labels: dict[str, str] | None = None, **meta: Any) -> Any:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}, **meta},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }


def k8s_event(name: str, ns: str = "default", reason: str = "Created") -> Any:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": ns},
        "involvedObject": {"kind": "Pod", "name": "busybox", "namespace": ns},
        "reason": reason,
        "message": f"{reason} busybox",
        "type": "Normal",
    }


def namespace(name: str, labels: dict[str, str] | None = None) -> Any:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": labels or {}},
    }


def service_account(name: str = "watcher", ns: str = "default") -> Any:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": ns},
    }


def source(name: str, sink: Any, resources: list[Any], **spec: Any) -> Any:
    return {
        "apiVersion": "sources.knative.dev/v1",
        "kind": "ApiServerSource",
        "metadata": {"name": name, "namespace": spec.pop("ns", "default"), **spec.pop("meta", {})},
        "spec": {"resources": resources, "sink": sink, "serviceAccountName": "watcher", **spec},
    }


def cluster_grant(
    resources: list[str], name: str = "watch-all", group: str = "", account: str = "watcher"
) -> list[Any]:
    """A ClusterRole allowing get/list/watch on ``resources`` and its binding to
    ServiceAccount default/``account``."""
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name},
            "rules": [
                {"apiGroups": [group], "resources": resources, "verbs": ["get", "list", "watch"]}
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": name,
            },
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": "default"}],
        },
    ]


@dataclass
class Subscriber:
    """A real HTTP sink on loopback recording every CloudEvent it gets."""

    url: str = ""
    events: list[CloudEvent] = field(default_factory=list)
    answer: int = 202
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    authorizations: list[str | None] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.authorizations.append(request.headers.get("Authorization"))
        event = ce_http.from_http(dict(request.headers), await request.read())
        self.events.append(event)
        self.arrived.set()
        return web.Response(status=self.answer)

    def data(self, i: int) -> Any:
        return orjson.loads(self.events[i].data or b"null")

    def summary(self) -> list[tuple[str, str]]:
        """``(type, name)`` of every event received, in order."""
        return [(e.type, str(e.get("name"))) for e in self.events]

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[CloudEvent]:
        deadline = time.monotonic() + timeout
        while len(self.events) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} events, got {self.summary()}")
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), 0.2)
        return self.events


@contextlib.asynccontextmanager
async def subscriber() -> AsyncIterator[Subscriber]:
    sub = Subscriber()
    app = web.Application()
    app.router.add_post("/", sub.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    sub.url = f"http://127.0.0.1:{port}/"
    try:
        yield sub
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def running_sources(
    store: ResourceStore, data_dir: Path, tokens: TokenSource | None = None
) -> AsyncIterator[None]:
    """The ApiServerSource controller and adapters, running until the block ends (their
    Dispatcher's OIDC tokens from ``tokens``)."""
    async with Dispatcher(tokens=tokens) as dispatcher:
        runnables = apiserver_sources(store, dispatcher, data_dir=data_dir, api_url=API_URL)
        tasks = [asyncio.create_task(r.run(), name=r.name) for r in runnables]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def condition(
    store: ResourceStore, name: str, type_: str = "Ready", ns: str = "default"
) -> Any:
    obj = await store.get(ResourceKey(SOURCES, ns, name))
    return get_condition(obj.get("status") or {}, type_)


async def wait_condition(
    store: ResourceStore, name: str, status: str, type_: str = "Ready", ns: str = "default"
) -> Any:
    async def check() -> Any:
        found = await condition(store, name, type_, ns)
        return found if found is not None and found.status == status else None

    try:
        return await eventually(check, message=f"{name}: {type_} never became {status}")
    except AssertionError:
        obj = await store.get(ResourceKey(SOURCES, ns, name))
        raise AssertionError(
            f"{name}: {type_} never became {status}: {obj.get('status')}"
        ) from None
