"""Running the flows controllers (and the garbage collector) on a real SQLite store, with the
periodic resync off, so every reconcile comes from a watch or the tracker.

The messaging reconcilers are not running here: tests write the children's statuses
themselves (:meth:`Flows.set_status`), as those reconcilers would."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, Final

from kawa.apis import flows, messaging
from kawa.apis.conditions import system_clock
from kawa.controllers.flows import flows_controllers
from kawa.controllers.garbage_collector import garbage_collector
from kawa.errors import ConflictError, NotFoundError
from kawa.store.base import Obj, ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ...waiting import eventually
from ..serving.support import admit, condition

NS: Final = "default"
ATTEMPTS: Final = 20
"""Writes tried while controllers keep writing the same object."""
IMCS: Final = messaging.INMEMORYCHANNEL.resource
CHANNELS: Final = messaging.CHANNEL.resource
SUBS: Final = messaging.SUBSCRIPTION.resource
SEQUENCES: Final = flows.SEQUENCE.resource
PARALLELS: Final = flows.PARALLEL.resource
PROMPT: Final = 5.0
"""Seconds within which a change is reflected (generous: the machine is shared)."""
KSVC: Final = "serving.knative.dev/v1"


def svc(name: str) -> dict[str, Any]:
    return {"ref": {"apiVersion": KSVC, "kind": "Service", "name": name, "namespace": NS}}


def ready(status: str = "True", reason: str = "", message: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "Ready",
        "status": status,
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    if reason:
        out["reason"] = reason
    if message:
        out["message"] = message
    return out


class Flows:
    def __init__(self, store: SqliteResourceStore) -> None:
        self.store = store

    async def create(self, resource: str, obj: Obj) -> Obj:
        stored = admit(obj)
        return await self.store.create(
            ResourceKey(resource, NS, stored["metadata"]["name"]), stored
        )

    async def get(self, resource: str, name: str) -> Obj | None:
        try:
            return await self.store.get(ResourceKey(resource, NS, name))
        except NotFoundError:
            return None

    async def names(self, resource: str) -> list[str]:
        listed = await self.store.list(resource, NS)
        return [o["metadata"]["name"] for o in listed.items]

    async def change_spec(self, resource: str, name: str, **spec: Any) -> None:
        """Read, change, write, as ``kubectl edit`` does: again when a controller wrote the
        object meanwhile (a conflict on its resourceVersion)."""
        key = ResourceKey(resource, NS, name)
        for _ in range(ATTEMPTS):
            current = await self.store.get(key)
            changed = admit(dict(current, spec={**current["spec"], **spec}))
            try:
                await self.store.update(key, changed)
                return
            except ConflictError:
                continue
        raise AssertionError(f"{key}: every update conflicted")

    async def set_status(self, resource: str, name: str, status: dict[str, Any]) -> None:
        key = ResourceKey(resource, NS, name)
        for _ in range(ATTEMPTS):
            current = await self.store.get(key)
            try:
                await self.store.update(key, dict(current, status=status), status_only=True)
                return
            except ConflictError:
                continue
        raise AssertionError(f"{key}: every status update conflicted")

    async def delete(self, resource: str, name: str) -> None:
        """As ``kubectl delete`` does (background propagation: no finalizer)."""
        await self.store.delete(ResourceKey(resource, NS, name))

    async def until(
        self, resource: str, name: str, check: Callable[[Obj], bool], timeout: float = PROMPT
    ) -> Obj:
        async def probe() -> Obj | None:
            obj = await self.get(resource, name)
            return obj if obj is not None and check(obj) else None

        return await eventually(probe, timeout, f"{resource} {name}: not within {timeout}s")

    async def until_names(self, resource: str, expected: list[str]) -> None:
        async def probe() -> bool:
            return sorted(await self.names(resource)) == sorted(expected)

        await eventually(probe, PROMPT, f"{resource}: never exactly {expected}")


def is_(type_: str, status: str) -> Callable[[Obj], bool]:
    return lambda obj: condition(obj, type_)[0] == status


@contextlib.asynccontextmanager
async def running_flows() -> AsyncIterator[Flows]:
    store = SqliteResourceStore(":memory:")
    controllers = flows_controllers(store, clock=system_clock)
    for controller in controllers:
        controller._resync = None  # every reconcile here comes from a watch or the tracker
    tasks = [asyncio.create_task(c.run()) for c in controllers]
    tasks.append(asyncio.create_task(garbage_collector(store).run()))
    try:
        yield Flows(store)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await store.close()
