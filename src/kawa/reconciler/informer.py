"""List, then watch from the list's resourceVersion, and list again when that history is gone
(410): Kubernetes' informer pattern over the resource store.

The control loop (:mod:`.loop`), the data planes (broker, serving), the kubelet (its Pods and
its ConfigMaps) and the PingSource scheduler follow their objects with it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from kawa.errors import GoneError
from kawa.store.base import Obj, ResourceStore, WatchEvent

Handler = Callable[[WatchEvent], Awaitable[None]]
Listed = Callable[[list[Obj]], Awaitable[None]]


async def inform(
    store: ResourceStore,
    resource: str,
    handler: Handler,
    *,
    namespace: str | None = None,
    since: int | None = None,
    on_listed: Listed | None = None,
) -> None:
    """Hand every object of ``resource`` (in ``namespace``, or all) to ``handler`` (as
    ``ADDED``), then every change, until cancelled; ``on_listed`` is called with the objects
    after each full list. A caller that has listed already passes the list's ``since``: the
    first list is skipped, the later ones (after a 410) are not."""
    while True:
        try:
            if since is None:
                listed = await store.list(resource, namespace)
                for obj in listed.items:
                    await handler(WatchEvent("ADDED", obj, listed.resource_version))
                since = listed.resource_version
                if on_listed is not None:
                    await on_listed(listed.items)
            async for event in store.watch(resource, namespace, since=since):
                since = event.resource_version
                await handler(event)
            return
        except GoneError:
            since = None
