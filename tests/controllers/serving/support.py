"""Running the serving controllers on a real SQLite store, and writing what the other parts
of kawa would write (admitted objects as the API server stores them, Pod statuses as the
kubelet reports them)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from kawa.apis.conditions import get_condition
from kawa.apis.registry import SCHEME
from kawa.controllers.garbage_collector import garbage_collector
from kawa.controllers.serving import serving_controllers
from kawa.controllers.serving.common import CONFIGURATIONS, REVISIONS, ROUTES, SERVICES
from kawa.errors import NotFoundError
from kawa.store.base import Obj, ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ...waiting import eventually

BASE = "http://127.0.0.1:8080"
NS = "default"
__all__ = ["BASE", "CONFIGURATIONS", "NS", "REVISIONS", "ROUTES", "SERVICES"]


def admit(obj: Mapping[str, Any]) -> Obj:
    """``obj`` as the API server stores it: converted to the storage version, defaulted and
    validated."""
    rk = SCHEME.for_object(obj)
    stored = rk.default(rk.to_version(obj, rk.storage_api_version))
    rk.validate(stored)
    return stored


def ksvc(name: str = "hello", *, image: str = "busybox", **spec: Any) -> Obj:
    template = spec.pop("template", None) or {
        "spec": {"containers": [{"image": image, "command": ["sleep", "1000"]}]}
    }
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"template": template, **spec},
    }


class Serving:
    """A store with the serving controllers running on it."""

    def __init__(self, store: SqliteResourceStore) -> None:
        self.store = store

    async def create(self, resource: str, obj: Mapping[str, Any]) -> Obj:
        stored = admit(obj)
        key = ResourceKey(
            resource, stored["metadata"].get("namespace", NS), stored["metadata"]["name"]
        )
        return await self.store.create(key, stored)

    async def update_spec(self, resource: str, name: str, change: Callable[[Obj], None]) -> Obj:
        key = ResourceKey(resource, NS, name)
        obj = await self.store.get(key)
        new = copy.deepcopy(obj)
        change(new)
        new = admit(new)
        SCHEME.validate_update(obj, new)
        return await self.store.update(key, new)

    async def get(self, resource: str, name: str) -> Obj:
        return await self.store.get(ResourceKey(resource, NS, name))

    async def wait(
        self, resource: str, name: str, check: Callable[[Obj], bool], *, timeout: float = 10.0
    ) -> Obj:
        """The object once ``check`` holds (fails with the last object seen)."""
        last: Obj | None = None

        async def holds() -> Obj | None:
            nonlocal last
            try:
                last = await self.get(resource, name)
            except NotFoundError:
                last = None
            return last if last is not None and check(last) else None

        try:
            return await eventually(holds, timeout)
        except AssertionError:
            raise AssertionError(f"{resource} {name} never got there; last seen: {last}") from None

    async def wait_gone(self, resource: str, name: str, *, timeout: float = 10.0) -> None:
        async def gone() -> bool:
            listed = await self.store.list(resource, NS)
            return all(i["metadata"]["name"] != name for i in listed.items)

        await eventually(gone, timeout, f"{resource} {name} still exists")

    async def events(self, name: str) -> list[tuple[str, str, str, str]]:
        """``(component, type, reason, message)`` of the Events about object ``name``."""
        listed = await self.store.list("events", NS)
        return [
            (e["source"]["component"], e["type"], e["reason"], e["message"])
            for e in listed.items
            if e["involvedObject"]["name"] == name
        ]


def condition(obj: Mapping[str, Any], type_: str) -> tuple[str, str, str]:
    """``(status, reason, message)`` of a condition (``("", "", "")`` when missing)."""
    found = get_condition(obj.get("status") or {}, type_)
    if found is None:
        return ("", "", "")
    return (found.status, found.reason, found.message)


def is_ready(obj: Mapping[str, Any]) -> bool:
    return condition(obj, "Ready")[0] == "True"


def pod(
    revision: Obj,
    index: int,
    *,
    ready: bool,
    state: Mapping[str, Any] | None = None,
    last_state: Mapping[str, Any] | None = None,
    restarts: int = 0,
) -> Obj:
    """A Pod of ``revision`` with the status a kubelet would report."""
    name = revision["metadata"]["name"]
    status: dict[str, Any] = {
        "phase": "Running",
        "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Initialized", "status": "True"},
            {"type": "ContainersReady", "status": "True" if ready else "False"},
            {"type": "Ready", "status": "True" if ready else "False"},
        ],
        "containerStatuses": [
            {
                "name": "user-container",
                "image": "busybox",
                "ready": ready,
                "restartCount": restarts,
                "state": dict(state or {"running": {"startedAt": "2024-05-01T12:00:00Z"}}),
                **({"lastState": dict(last_state)} if last_state else {}),
            }
        ],
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{name}-deployment-{index:010d}",
            "namespace": NS,
            "labels": {"serving.knative.dev/revision": name, "app": name},
            "ownerReferences": [
                {
                    "apiVersion": "serving.knative.dev/v1",
                    "kind": "Revision",
                    "name": name,
                    "uid": revision["metadata"]["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {"containers": [{"name": "user-container", "image": "busybox"}]},
        "status": status,
    }


async def put_pod(store: SqliteResourceStore, obj: Obj) -> Obj:
    """Create or replace a Pod with its status (as the scaler plus the kubelet would)."""
    key = ResourceKey("pods", NS, obj["metadata"]["name"])
    try:
        old = await store.get(key)
    except Exception:
        return await store.create(key, obj)
    return await store.update(key, dict(old, status=obj["status"]), status_only=True)


@contextlib.asynccontextmanager
async def running_serving(store: SqliteResourceStore | None = None) -> AsyncIterator[Serving]:
    """The serving controllers and the garbage collector running on ``store`` (a new one by
    default), closed after."""
    store = store if store is not None else SqliteResourceStore(":memory:")
    controllers = serving_controllers(store, base_url=BASE)
    tasks = [asyncio.create_task(c.run(), name=c.name) for c in controllers]
    tasks.append(asyncio.create_task(garbage_collector(store).run(), name="garbage-collector"))
    try:
        yield Serving(store)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await store.close()
