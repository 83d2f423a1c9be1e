"""One autoscaler for several processes: two serving data planes share a store and NATS.

Plane ``a`` leads (:meth:`ServingDataPlane.lead` runs), plane ``b`` only serves and
reports. Both route requests on their own loopback port; the in-test kubelet of
:mod:`.dataplane_support` runs the Pods. The Pods are all decided by ``a`` (their
``autoscaling.kawa.dev/scaled-by``), from the load of both: with target 1, two requests in
flight through each plane make four Pods (each plane alone sees two); a request through
``b`` for a Revision at zero gets a Pod (``b``'s report wakes ``a`` at once).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from kawa.jetstream import NatsOptions
from kawa.serving.autoscaler import SCALED_BY_ANNOTATION
from kawa.serving.concurrency_nats import NatsReports
from kawa.serving.dataplane import ServingDataPlane
from kawa.store.base import Obj, ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ..nats_support import nats_url
from ..waiting import eventually
from .dataplane_support import FAST, NS, REVISIONS, ROUTES, FakeKubelet, revision, route

__all__ = ["nats_url"]


@dataclass
class Two:
    store: SqliteResourceStore
    a: ServingDataPlane
    b: ServingDataPlane
    urls: dict[str, str]
    session: aiohttp.ClientSession
    lead: asyncio.Task[None]

    async def pods(self) -> list[Obj]:
        return list((await self.store.list("pods", NS)).items)

    async def get(self, plane: str, path: str) -> int:
        async with self.session.get(self.urls[plane] + path) as resp:
            await resp.read()
            return resp.status


async def _site(plane: ServingDataPlane) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.add_routes(plane.routes())
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


@contextlib.asynccontextmanager
async def two_planes(url: str) -> AsyncIterator[Two]:
    store = SqliteResourceStore(":memory:")
    await store.create(
        ResourceKey("configmaps", "knative-serving", "config-autoscaler"),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "config-autoscaler", "namespace": "knative-serving"},
            "data": dict(FAST),
        },
    )
    options = NatsOptions.parse(url)
    planes = {
        name: ServingDataPlane(store, bus=NatsReports(options, name), identity=name)
        for name in ("a", "b")
    }
    kubelet = FakeKubelet(store)
    sites = {name: await _site(plane) for name, plane in planes.items()}
    tasks = [asyncio.create_task(p.run()) for p in planes.values()]
    tasks.append(asyncio.create_task(kubelet.run()))
    lead = asyncio.create_task(planes["a"].lead())
    tasks.append(lead)
    try:
        async with asyncio.timeout(10):
            for plane in planes.values():
                await plane.ready.wait()
            await eventually(_leading(planes["a"]), timeout=10)
        async with aiohttp.ClientSession() as session:
            yield Two(
                store,
                planes["a"],
                planes["b"],
                {n: s[1] for n, s in sites.items()},
                session,
                lead,
            )
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for runner, _ in sites.values():
            await runner.cleanup()
        await store.close()


def _leading(plane: ServingDataPlane) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return plane.scaling.deciding

    return check


async def serve(two: Two, annotations: dict[str, str] | None = None) -> None:
    await two.store.create(
        ResourceKey(REVISIONS, NS, "svc-00001"), revision("svc-00001", annotations=annotations)
    )
    traffic = [{"revisionName": "svc-00001", "percent": 100}]
    await two.store.create(ResourceKey(ROUTES, NS, "svc"), route("svc", traffic))


async def test_scale_from_zero_through_the_follower(nats_url: str) -> None:
    async with two_planes(nats_url) as two:
        await serve(two)
        await asyncio.sleep(0.3)  # three ticks: nothing at zero
        assert await two.pods() == []
        assert not two.b.scaling.deciding
        async with asyncio.timeout(10):
            assert await two.get("b", "/serving/ns/svc/hello") == 200
        (pod,) = await two.pods()
        assert pod["metadata"]["annotations"][SCALED_BY_ANNOTATION] == "a"


async def test_the_leader_sums_the_load_of_both(nats_url: str) -> None:
    annotations = {
        "autoscaling.knative.dev/target": "1",
        "autoscaling.knative.dev/target-utilization-percentage": "100",
        "autoscaling.knative.dev/max-scale": "6",
        "autoscaling.knative.dev/min-scale": "1",
    }
    async with two_planes(nats_url) as two:
        await serve(two, annotations)

        await eventually(lambda: _ready(two, 1), timeout=10)
        seen: set[str] = set()
        stop = asyncio.Event()

        async def client(plane: str) -> None:
            while not stop.is_set():
                assert await two.get(plane, "/serving/ns/svc?sleep=0.3") == 200

        async def watch() -> None:
            while not stop.is_set():
                seen.update(p["metadata"]["name"] for p in await two.pods())
                await asyncio.sleep(0.02)

        tasks = [asyncio.create_task(client(p)) for p in ("a", "a", "b", "b")]
        watcher = asyncio.create_task(watch())
        try:
            await eventually(lambda: _count(two, 4), timeout=10)
            await asyncio.sleep(1.0)  # ten more ticks under the same load: no more Pods
            assert len(await two.pods()) == 4
        finally:
            stop.set()
            await asyncio.gather(*tasks, watcher)
        pods = await two.pods()
        assert {p["metadata"]["annotations"][SCALED_BY_ANNOTATION] for p in pods} == {"a"}
        assert len(seen) == 4, sorted(seen)  # none made and removed again: no flapping


async def _count(two: Two, wanted: int) -> bool:
    return len(await two.pods()) == wanted


async def _ready(two: Two, wanted: int) -> bool:
    ready = [
        p
        for p in await two.pods()
        if any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in p.get("status", {}).get("conditions", [])
        )
    ]
    return len(ready) >= wanted
