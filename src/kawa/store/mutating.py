"""A store whose creates pass through mutators first: kawa's mutating admission.

Kubernetes lets webhooks change an object on its way in, whoever writes it (a user through the
API, a controller such as the CronJob's). kawa's writers all use one :class:`ResourceStore`,
so :class:`MutatingStore` wraps it: :meth:`create` hands the new object to each mutator in
turn (a coroutine ``(key, obj) -> obj``) and stores what the last returns; everything else
goes to the wrapped store unchanged. The SinkBinding's :func:`bind_on_create` is one
(:mod:`kawa.runtime` installs it). A mutator must not create objects of the kind it mutates
through this store (it would be called again).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from kawa.store.base import ListResult, Obj, ResourceKey, ResourceStore, WatchEvent

Mutator = Callable[[ResourceKey, Obj], Awaitable[Obj]]


class MutatingStore:
    """``store`` with ``mutators`` applied to every create (see the module)."""

    def __init__(self, store: ResourceStore, mutators: Sequence[Mutator] = ()) -> None:
        self.inner = store
        self._mutators: list[Mutator] = list(mutators)

    def add_mutator(self, mutator: Mutator) -> None:
        self._mutators.append(mutator)

    async def get(self, key: ResourceKey) -> Obj:
        return await self.inner.get(key)

    async def list(self, resource: str, namespace: str | None = None) -> ListResult:
        return await self.inner.list(resource, namespace)

    async def create(self, key: ResourceKey, obj: Obj, *, uid: str | None = None) -> Obj:
        for mutator in self._mutators:
            obj = await mutator(key, obj)
        return await self.inner.create(key, obj, uid=uid)

    async def update(
        self,
        key: ResourceKey,
        obj: Obj,
        *,
        status_only: bool = False,
        managed_fields: Sequence[Any] | None = None,
    ) -> Obj:
        return await self.inner.update(
            key, obj, status_only=status_only, managed_fields=managed_fields
        )

    async def delete(self, key: ResourceKey) -> Obj:
        return await self.inner.delete(key)

    def watch(
        self, resource: str, namespace: str | None = None, since: int | None = None
    ) -> AsyncIterator[WatchEvent]:
        return self.inner.watch(resource, namespace, since)

    async def close(self) -> None:
        await self.inner.close()
