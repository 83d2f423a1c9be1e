"""A resource store that counts its writes: ``kawa_store_writes_total`` by resource and verb.

Every writer (the API for kubectl and clients, the controllers, the kubelet, the data planes)
uses the one store :mod:`kawa.runtime` composes, so wrapping it counts every write in one
place. A write is counted once it returned (a conflict or a validation error is no write);
an update that changes nothing still counts (it was asked for). Reads and watches pass through.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from kawa.store.base import ListResult, Obj, ResourceKey, ResourceStore, WatchEvent

Count = Callable[[str, str, str], None]
"""Called with the resource (``plural.group``), the verb (``create``, ``update``,
``delete``) and the subresource (``status`` for a status update, else "")."""


class CountingStore:
    """``store`` with every successful write counted (see the module)."""

    def __init__(self, store: ResourceStore, count: Count) -> None:
        self.inner = store
        self._count = count

    async def get(self, key: ResourceKey) -> Obj:
        return await self.inner.get(key)

    async def list(self, resource: str, namespace: str | None = None) -> ListResult:
        return await self.inner.list(resource, namespace)

    async def create(self, key: ResourceKey, obj: Obj, *, uid: str | None = None) -> Obj:
        created = await self.inner.create(key, obj, uid=uid)
        self._count(key.resource, "create", "")
        return created

    async def update(
        self,
        key: ResourceKey,
        obj: Obj,
        *,
        status_only: bool = False,
        managed_fields: Sequence[Any] | None = None,
    ) -> Obj:
        updated = await self.inner.update(
            key, obj, status_only=status_only, managed_fields=managed_fields
        )
        self._count(key.resource, "update", "status" if status_only else "")
        return updated

    async def delete(self, key: ResourceKey) -> Obj:
        deleted = await self.inner.delete(key)
        self._count(key.resource, "delete", "")
        return deleted

    def watch(
        self, resource: str, namespace: str | None = None, since: int | None = None
    ) -> AsyncIterator[WatchEvent]:
        return self.inner.watch(resource, namespace, since)

    async def close(self) -> None:
        await self.inner.close()
