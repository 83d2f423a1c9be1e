"""List, then watch from the list's resourceVersion, and list again when that history is gone
(410): Kubernetes' informer pattern over the resource store.

The control loop (:mod:`.loop`), the data planes (broker, serving) and the PingSource
scheduler follow their objects with it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from kawa.errors import GoneError
from kawa.store.base import Obj, ResourceStore, WatchEvent

Handler = Callable[[WatchEvent], Awaitable[None]]
Listed = Callable[[list[Obj]], Awaitable[None]]


async def inform(
    store: ResourceStore, resource: str, handler: Handler, *, on_listed: Listed | None = None
) -> None:
    """Hand every object of ``resource`` to ``handler`` (as ``ADDED``), then every change, until
    cancelled; ``on_listed`` is called with the objects after each full list."""
    since: int | None = None
    while True:
        try:
            if since is None:
                listed = await store.list(resource)
                for obj in listed.items:
                    await handler(WatchEvent("ADDED", obj, listed.resource_version))
                since = listed.resource_version
                if on_listed is not None:
                    await on_listed(listed.items)
            async for event in store.watch(resource, since=since):
                since = event.resource_version
                await handler(event)
            return
        except GoneError:
            since = None
