"""What ``metadata.managedFields`` cost a write: a create and an update through the API.

In one process over loopback HTTP with an in-memory store: p50 of ``POST`` (create) of the
Trigger of :mod:`bench.admission_parse` (a new name each time) and of ``PUT`` (replace) of
one Trigger alternating between two values of ``spec.delivery.retry``, in milliseconds; and
the bookkeeping alone (:func:`kawa.apiserver.managed_fields.record` of that create and
update), in microseconds, when the module exists. Run it on this tree and on one before
managedFields (``PYTHONPATH=<old>/src``) to compare.

Run: ``.venv/bin/python bench/managed_fields_writes.py``.
"""

from __future__ import annotations

import asyncio
import copy
import statistics
import time
import timeit
from typing import Any

import aiohttp
from aiohttp import web

from kawa.apis.registry import SCHEME
from kawa.apiserver.server import ApiServer
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from .admission_parse import TRIGGER_OBJ

BASE = "/apis/eventing.knative.dev/v1/namespaces/default/triggers"


async def _p50(session: aiohttp.ClientSession, rounds: int, send: Any) -> float:
    times = []
    for i in range(rounds + 50):
        start = time.perf_counter()
        await send(i)
        if i >= 50:
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


async def writes(rounds: int = 400) -> tuple[float, float]:
    store = SqliteResourceStore(":memory:")
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}
    kind = SCHEME.for_object(namespace)
    await store.create(ResourceKey(kind.resource, "", "default"), kind.default(namespace))
    app = web.Application()
    ApiServer(store, SCHEME).install(app)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}{BASE}"
    headers = {"User-Agent": "kubectl/v1.32.0 (linux/amd64)"}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def create(i: int) -> None:
            obj = copy.deepcopy(TRIGGER_OBJ)
            obj["metadata"]["name"] = f"t{i}"
            async with session.post(url, json=obj) as resp:
                await resp.read()
                assert resp.status == 201, resp.status

        async def update(i: int) -> None:
            obj = copy.deepcopy(TRIGGER_OBJ)
            obj["metadata"]["name"] = "t0"
            obj["spec"]["delivery"]["retry"] = 1 + i % 2
            async with session.put(f"{url}/t0", json=obj) as resp:
                await resp.read()
                assert resp.status == 200, resp.status

        created = await _p50(session, rounds, create)
        updated = await _p50(session, rounds, update)
    await runner.cleanup()
    await store.close()
    return created, updated


def bookkeeping() -> tuple[float, float] | None:
    try:
        from kawa.apiserver import managed_fields as mf
        from kawa.apiserver.writes import shape_of
    except ImportError:
        return None
    from kawa.apiserver.requests import Target

    rk = SCHEME.for_object(TRIGGER_OBJ)
    target = Target(rk, "eventing.knative.dev/v1", "default", "t", None)
    old = rk.default(TRIGGER_OBJ)
    write = mf.Write("kubectl", "eventing.knative.dev/v1", "2026-01-01T00:00:00Z")
    old["metadata"]["managedFields"] = mf.record(None, old, write, shape_of(target))
    new = copy.deepcopy(old)
    new["spec"]["delivery"]["retry"] = 9
    shape = shape_of(target)
    number = 2000
    fresh = rk.default(TRIGGER_OBJ)
    create = min(
        timeit.repeat(lambda: mf.record(None, fresh, write, shape), number=number, repeat=5)
    )
    update = min(timeit.repeat(lambda: mf.record(old, new, write, shape), number=number, repeat=5))
    return create / number * 1e6, update / number * 1e6


def main() -> None:
    created, updated = asyncio.run(writes())
    print(f"create Trigger over HTTP, p50: {created:.3f} ms")
    print(f"update Trigger over HTTP, p50: {updated:.3f} ms")
    alone = bookkeeping()
    if alone is not None:
        print(f"managedFields of the create alone: {alone[0]:.1f} us")
        print(f"managedFields of the update alone: {alone[1]:.1f} us")


if __name__ == "__main__":
    main()
