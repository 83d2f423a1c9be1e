"""The endpoints controller on a real SQLite store: Endpoints and EndpointSlices follow the
Pods a Service selects (readiness, named ports, deletion), mirror a selector-less Service's
own Endpoints, and go with their Service. Resync is off: every reconcile comes from a watch."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from kawa.apis import core, discovery
from kawa.apis.discovery import endpointslice as eps
from kawa.controllers import endpoints as ctl
from kawa.errors import NotFoundError
from kawa.reconciler.loop import Controller
from kawa.store.base import Obj, ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ..waiting import eventually
from .serving.support import admit

NS = "default"
SERVICES = core.SERVICE.resource
ENDPOINTS = core.ENDPOINTS.resource
SLICES = discovery.ENDPOINT_SLICE.resource
PODS = core.POD.resource


def service(name: str = "web", selector: dict[str, str] | None = None, **spec: Any) -> Obj:
    body: dict[str, Any] = {"ports": [{"port": 80, "targetPort": 8080}], **spec}
    if selector is not None:
        body["selector"] = selector
    return admit(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": NS, "labels": {"team": "a"}},
            "spec": body,
        }
    )


def pod(name: str, *, ready: bool, labels: dict[str, str] | None = None, port: int = 8080) -> Obj:
    obj = admit(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": NS, "labels": labels or {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "busybox",
                        "ports": [{"name": "http", "containerPort": port}],
                    }
                ]
            },
        }
    )
    obj["status"] = status(ready)
    return obj


def status(ready: bool) -> dict[str, Any]:
    return {
        "phase": "Running",
        "podIP": "127.0.0.1",
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
    }


class Cluster:
    def __init__(self, store: SqliteResourceStore) -> None:
        self.store = store

    async def create(self, resource: str, obj: Obj) -> Obj:
        key = ResourceKey(resource, NS, obj["metadata"]["name"])
        created = await self.store.create(key, obj)
        if "status" in obj:
            created = await self.store.update(
                key, dict(created, status=obj["status"]), status_only=True
            )
        return created

    async def set_ready(self, name: str, ready: bool) -> None:
        key = ResourceKey(PODS, NS, name)
        current = await self.store.get(key)
        await self.store.update(key, dict(current, status=status(ready)), status_only=True)

    async def get(self, resource: str, name: str) -> Obj | None:
        try:
            return await self.store.get(ResourceKey(resource, NS, name))
        except NotFoundError:
            return None

    async def slices(self, service_name: str) -> list[Obj]:
        listed = await self.store.list(SLICES, NS)
        return [
            s
            for s in listed.items
            if (s["metadata"].get("labels") or {}).get(eps.SERVICE_NAME_LABEL) == service_name
        ]

    async def endpoints_until(self, name: str, check: Callable[[Obj], bool]) -> Obj:
        async def probe() -> Obj | None:
            found = await self.get(ENDPOINTS, name)
            return found if found is not None and check(found) else None

        return await eventually(probe, 5.0, f"Endpoints {name} never as expected")


@contextlib.asynccontextmanager
async def running() -> AsyncIterator[Cluster]:
    store = SqliteResourceStore(":memory:")
    controller: Controller = ctl.endpoints_controller(store)
    controller._resync = None  # every reconcile from a watch
    task = asyncio.create_task(controller.run())
    try:
        yield Cluster(store)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await store.close()


def ports_of(endpoints: Obj) -> list[tuple[str, int]]:
    return [
        (a["targetRef"]["name"], s["ports"][0]["port"])
        for s in endpoints.get("subsets") or []
        for a in s.get("addresses") or []
    ]


def not_ready(endpoints: Obj) -> list[str]:
    return [
        a["targetRef"]["name"]
        for s in endpoints.get("subsets") or []
        for a in s.get("notReadyAddresses") or []
    ]


async def test_endpoints_follow_pod_readiness() -> None:
    async with running() as cluster:
        await cluster.create(PODS, pod("a", ready=True))
        await cluster.create(PODS, pod("b", ready=False))
        await cluster.create(PODS, pod("other", ready=True, labels={"app": "other"}))
        await cluster.create(SERVICES, service(selector={"app": "web"}))
        found = await cluster.endpoints_until("web", lambda e: bool(ports_of(e)))
        assert ports_of(found) == [("a", 8080)]
        assert not_ready(found) == ["b"]
        assert found["metadata"]["labels"] == {
            "team": "a",
            "endpoints.kubernetes.io/managed-by": "endpoint-controller",
        }
        assert found["subsets"][0]["addresses"][0]["ip"] == "127.0.0.1"
        core.ENDPOINTS.validate(found)

        await cluster.set_ready("b", True)
        found = await cluster.endpoints_until("web", lambda e: len(ports_of(e)) == 2)
        assert not not_ready(found)
        await cluster.set_ready("a", False)
        found = await cluster.endpoints_until("web", lambda e: not_ready(e) == ["a"])
        assert ports_of(found) == [("b", 8080)]

        slices = await cluster.slices("web")
        assert len(slices) == 1
        item = slices[0]
        discovery.ENDPOINT_SLICE.validate(item)
        assert item["metadata"]["labels"][eps.MANAGED_BY_LABEL] == ctl.SLICE_MANAGER
        owner = item["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["controller"]) == ("Service", "web", True)
        ready = {e["targetRef"]["name"]: e["conditions"]["ready"] for e in item["endpoints"]}
        assert ready == {"a": False, "b": True}
        assert item["ports"] == [{"name": "", "port": 8080, "protocol": "TCP"}]


async def test_a_named_target_port_resolves_per_pod() -> None:
    async with running() as cluster:
        await cluster.create(PODS, pod("a", ready=True, port=8081))
        await cluster.create(PODS, pod("b", ready=True, port=8082))
        await cluster.create(
            SERVICES,
            service(
                selector={"app": "web"},
                ports=[{"name": "http", "port": 80, "targetPort": "http"}],
            ),
        )
        found = await cluster.endpoints_until("web", lambda e: len(ports_of(e)) == 2)
        assert sorted(ports_of(found)) == [("a", 8081), ("b", 8082)]
        assert all(s["ports"][0]["name"] == "http" for s in found["subsets"])

        async def two_slices() -> list[Obj] | None:
            found = await cluster.slices("web")
            return found if len(found) == 2 else None

        slices = await eventually(two_slices, 5.0)
        assert sorted(s["ports"][0]["port"] for s in slices) == [8081, 8082]
        # a Pod gone: its slice goes too
        await cluster.store.delete(ResourceKey(PODS, NS, "b"))
        await cluster.endpoints_until("web", lambda e: ports_of(e) == [("a", 8081)])

        async def one_slice() -> list[Obj] | None:
            found = await cluster.slices("web")
            return found if len(found) == 1 else None

        await eventually(one_slice, 5.0)


async def test_a_pod_without_the_named_port_or_being_deleted_is_left_out() -> None:
    async with running() as cluster:
        unnamed = pod("unnamed", ready=True)
        unnamed["spec"]["containers"][0]["ports"] = [{"containerPort": 9000, "protocol": "TCP"}]
        await cluster.create(PODS, unnamed)
        ended = pod("ended", ready=True)
        ended["status"]["phase"] = "Succeeded"
        await cluster.create(PODS, ended)
        await cluster.create(PODS, pod("good", ready=True))
        await cluster.create(
            SERVICES,
            service(selector={"app": "web"}, ports=[{"port": 80, "targetPort": "http"}]),
        )
        found = await cluster.endpoints_until("web", lambda e: bool(ports_of(e)))
        assert ports_of(found) == [("good", 8080)]


async def test_a_service_without_selector_keeps_its_users_endpoints_and_mirrors_them() -> None:
    async with running() as cluster:
        await cluster.create(SERVICES, service("manual"))
        users = admit(
            {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {"name": "manual", "namespace": NS},
                "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": 9999}]}],
            }
        )
        await cluster.create(ENDPOINTS, users)

        async def mirrored() -> list[Obj] | None:
            found = await cluster.slices("manual")
            return found or None

        slices = await eventually(mirrored, 5.0)
        assert slices[0]["metadata"]["labels"][eps.MANAGED_BY_LABEL] == ctl.MIRROR_MANAGER
        assert slices[0]["endpoints"][0]["addresses"] == ["127.0.0.1"]
        stored = await cluster.get(ENDPOINTS, "manual")
        assert stored is not None
        assert stored["subsets"] == users["subsets"]
        # deleting the Service leaves the user's Endpoints, removes the mirror
        await cluster.store.delete(ResourceKey(SERVICES, NS, "manual"))

        async def unmirrored() -> bool:
            return not await cluster.slices("manual")

        await eventually(unmirrored, 5.0)
        assert await cluster.get(ENDPOINTS, "manual") is not None


async def test_deleting_a_service_deletes_what_kawa_made_for_it() -> None:
    async with running() as cluster:
        await cluster.create(PODS, pod("a", ready=True))
        await cluster.create(SERVICES, service(selector={"app": "web"}))
        await cluster.endpoints_until("web", lambda e: bool(ports_of(e)))
        await cluster.store.delete(ResourceKey(SERVICES, NS, "web"))

        async def gone() -> bool:
            return await cluster.get(ENDPOINTS, "web") is None and not await cluster.slices("web")

        await eventually(gone, 5.0, "the Endpoints and slices stayed")


def test_target_port_resolution() -> None:
    p = pod("a", ready=True, port=8081)
    assert ctl.resolve_port(p, 90) == 90
    assert ctl.resolve_port(p, "http") == 8081
    assert ctl.resolve_port(p, "grpc") is None
    assert ctl.resolve_port(p, None) is None
