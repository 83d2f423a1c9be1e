"""The apps controllers on a real SQLite store, with a stand-in for the kubelet: Pods are
marked Running and Ready (or left waiting) as kawa's kubelet reports them, and Pods being
deleted are removed."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from kawa.apis.conditions import format_time, system_clock
from kawa.apis.registry import SCHEME
from kawa.controllers.apps import apps_controllers
from kawa.controllers.apps.common import DEPLOYMENTS, PODS, REPLICA_SETS
from kawa.store.base import Obj, ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ...waiting import eventually

NS = "default"
__all__ = ["DEPLOYMENTS", "NS", "PODS", "REPLICA_SETS", "Apps", "running_apps"]


def admit(obj: Mapping[str, Any]) -> Obj:
    rk = SCHEME.for_object(obj)
    stored = rk.default(obj)
    rk.validate(stored)
    return stored


def deployment(name: str = "web", image: str = "busybox", **spec: Any) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
            **spec,
        },
    }


class Apps:
    def __init__(self, store: SqliteResourceStore) -> None:
        self.store = store
        self.ready = True
        """Whether the stand-in kubelet makes new Pods Ready."""
        self.waiting_reason = ""
        self.hold_deletions = False
        """Whether the stand-in kubelet leaves Pods being deleted (as one still stopping)."""

    async def create(self, resource: str, obj: Mapping[str, Any]) -> Obj:
        stored = admit(obj)
        key = ResourceKey(resource, NS, stored["metadata"]["name"])
        return await self.store.create(key, stored)

    async def change(self, resource: str, name: str, edit: Callable[[Obj], None]) -> Obj:
        key = ResourceKey(resource, NS, name)
        for _ in range(20):
            obj = await self.store.get(key)
            new = copy.deepcopy(obj)
            edit(new)
            new = admit(new)
            SCHEME.validate_update(obj, new)
            with contextlib.suppress(Exception):
                return await self.store.update(key, new)
        raise AssertionError(f"could not update {key}")

    async def get(self, resource: str, name: str) -> Obj:
        return await self.store.get(ResourceKey(resource, NS, name))

    async def items(self, resource: str) -> list[Obj]:
        return (await self.store.list(resource, NS)).items

    async def wait(self, resource: str, name: str, check: Callable[[Obj], bool]) -> Obj:
        last: list[Obj] = []

        async def holds() -> Obj | None:
            try:
                obj = await self.get(resource, name)
            except Exception:
                return None
            last[:] = [obj]
            return obj if check(obj) else None

        return await eventually(holds, message=f"{resource} {name}: {last}")

    async def kubelet(self) -> None:
        """Pods are bound to node ``kawa``, become Running (and Ready unless told not to);
        Pods being deleted go (unless held)."""
        async for event in self.store.watch(PODS, NS, since=0):
            pod = event.object
            key = ResourceKey(PODS, NS, pod["metadata"]["name"])
            if event.type == "DELETED":
                continue
            if pod["metadata"].get("deletionTimestamp"):
                if not self.hold_deletions:
                    with contextlib.suppress(Exception):
                        await self.store.delete(key)
                continue
            if not pod["spec"].get("nodeName"):  # bound to the node first, as the kubelet
                bound = copy.deepcopy(pod)
                bound["spec"]["nodeName"] = "kawa"
                with contextlib.suppress(Exception):
                    await self.store.update(key, bound)
                continue
            if (pod.get("status") or {}).get("phase") == "Running":
                continue
            now = format_time(system_clock())
            container: dict[str, Any] = {"name": "c", "ready": self.ready, "restartCount": 0}
            if self.waiting_reason:
                container["state"] = {
                    "waiting": {"reason": self.waiting_reason, "message": "no program"}
                }
            else:
                container["state"] = {"running": {"startedAt": now}}
            status = {
                "phase": "Running" if self.ready else "Pending",
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True" if self.ready else "False",
                        "lastTransitionTime": now,
                    }
                ],
                "containerStatuses": [container],
            }
            with contextlib.suppress(Exception):
                await self.store.update(key, dict(pod, status=status), status_only=True)


@contextlib.asynccontextmanager
async def running_apps() -> AsyncIterator[Apps]:
    store = SqliteResourceStore(":memory:")
    apps = Apps(store)
    tasks = [asyncio.create_task(c.run()) for c in apps_controllers(store)]
    tasks.append(asyncio.create_task(apps.kubelet()))
    try:
        yield apps
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await store.close()
