"""List, then watch from the list's resourceVersion, and list again when that history is gone
(410): Kubernetes' informer pattern over the resource store.

A store that fails for a while (:class:`~kawa.errors.TemporaryError`: a NATS server of the
JetStream store died and its streams elect a new leader, the connection moves to another
server) does not end the informer: as client-go's reflector, it logs, waits (backing off up
to :data:`MAX_BACKOFF`) and carries on: the watch resumes after the last change handled, or
the list is made again. A handler failing so is retried with the same change.
:func:`list_retrying` is the same patience for a caller's own first list.

The control loop (:mod:`.loop`), the data planes (broker, serving), the kubelet (its Pods and
its ConfigMaps) and the PingSource scheduler follow their objects with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from kawa.errors import GoneError, TemporaryError
from kawa.store.base import ListResult, Obj, ResourceStore, WatchEvent

log = logging.getLogger(__name__)

Handler = Callable[[WatchEvent], Awaitable[None]]
Listed = Callable[[list[Obj]], Awaitable[None]]

FIRST_BACKOFF: Final = 0.1
MAX_BACKOFF: Final = 5.0
"""Seconds between two tries of a failing store, doubling from ``FIRST_BACKOFF``."""


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
    failures = 0
    while True:
        try:
            if since is None:
                listed = await store.list(resource, namespace)
                for obj in listed.items:
                    await handler(WatchEvent("ADDED", obj, listed.resource_version))
                if on_listed is not None:
                    await on_listed(listed.items)
                since = listed.resource_version
            async for event in store.watch(resource, namespace, since=since):
                failures = 0
                await handler(event)
                since = event.resource_version
            return
        except GoneError:
            since = None
        except TemporaryError as err:
            failures += 1
            await _back_off(f"following {resource}", err, failures)


async def list_retrying(
    store: ResourceStore, resource: str, namespace: str | None = None
) -> ListResult:
    """``store.list(resource, namespace)``, tried again (backing off) while the store fails
    with a :class:`~kawa.errors.TemporaryError`."""
    failures = 0
    while True:
        try:
            return await store.list(resource, namespace)
        except TemporaryError as err:
            failures += 1
            await _back_off(f"listing {resource}", err, failures)


async def _back_off(what: str, err: TemporaryError, failures: int) -> None:
    delay = err.delay if err.delay is not None else backoff(failures)
    log.warning("%s: %s (again in %.1fs)", what, err, delay)
    await asyncio.sleep(delay)


def backoff(failures: int) -> float:
    """Seconds to wait after the ``failures``-th failure in a row."""
    return float(min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** min(failures - 1, 16)))
