"""The control plane rides out a NATS server that goes away and comes back.

The JetStream resource store on a private ``nats-server``, which the test stops and starts
again (same port, same store). While it is down every request of the store fails with a
:class:`~kawa.errors.TemporaryError`; the informers, a controller's resync and a caller's
own first list must wait and carry on once it is back, not end (in ``kawa up`` a task that
ends with an error ends kawa). And a watch ends at once when its server is gone: it does
not wait for the deletion of its consumer to be answered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from kawa.jetstream import NatsOptions
from kawa.reconciler.informer import inform, list_retrying
from kawa.reconciler.loop import Controller, own
from kawa.store.base import ResourceKey, WatchEvent
from kawa.store.jetstream import JetStreamResourceStore

from ..nats_support import free_port, nats_server, unique
from ..waiting import eventually

CM = "configmaps"


def configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "a"}}


def key(name: str) -> ResourceKey:
    return ResourceKey(CM, "a", name)


def warned(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(text in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


async def test_informers_resyncs_and_lists_wait_for_the_server(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    port, store_dir = free_port(), tmp_path / "nats"
    reconciled: set[str] = set()
    handled: set[str] = set()

    async def reconcile(k: ResourceKey) -> None:
        reconciled.add(k.name)

    async def handler(event: WatchEvent) -> None:
        handled.add(event.object["metadata"]["name"])

    with nats_server(store_dir, port=port) as url:
        store = await JetStreamResourceStore.open(NatsOptions((url,)), unique("outage"))
        await store.create(key("before"), configmap("before"))
        since = (await store.list(CM)).resource_version
    tasks: list[asyncio.Task[Any]] = []
    try:
        controller = Controller("outage", store, reconcile, [own(CM)], resync=0.1)
        tasks.append(asyncio.create_task(controller.run()))
        # the server is down: the controller's first list, an informer that starts with a
        # watch (its caller listed already) and a caller's own list all fail for now
        tasks.append(asyncio.create_task(inform(store, CM, handler, since=since)))
        listing = asyncio.create_task(list_retrying(store, CM))
        tasks.append(listing)

        async def all_failed() -> bool:
            return warned(caplog, "following configmaps") and warned(caplog, "listing configmaps")

        await eventually(all_failed, 20.0, "nothing failed while the server was down")
        assert not any(task.done() for task in tasks)

        with nats_server(store_dir, port=port):
            tasks.remove(listing)
            listed = await asyncio.wait_for(listing, 20.0)
            assert [o["metadata"]["name"] for o in listed.items] == ["before"]
            await store.create(key("after"), configmap("after"))

            async def caught_up() -> bool:
                return {"before", "after"} <= reconciled and handled == {"after"}

            await eventually(caught_up, 20.0, "the controller or the informer stopped")
            assert not any(task.done() for task in tasks)
            # the resync fails while the server is down, and goes on
            caplog.clear()

        async def resync_failed() -> bool:
            return warned(caplog, "outage: resync of configmaps")

        await eventually(resync_failed, 20.0, "the resync never failed without a server")
        assert not any(task.done() for task in tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await store.close()


async def test_a_watch_ends_at_once_when_its_server_is_gone(tmp_path: Path) -> None:
    with nats_server(tmp_path / "nats") as url:
        store = await JetStreamResourceStore.open(NatsOptions((url,)), unique("gone"))
        await store.create(key("one"), configmap("one"))
        watch = store.watch(CM, since=0)
        assert (await asyncio.wait_for(anext(watch), 10.0)).object["metadata"]["name"] == "one"
    try:
        started = time.monotonic()
        await watch.aclose()  # type: ignore[attr-defined]  # an async generator: asks for its consumer's deletion; nobody answers
        assert time.monotonic() - started < 1.5
    finally:
        await store.close()
