"""Benchmark: the latency kawa's serving router adds to a warm request.

One instance of a Revision (``min-scale: 1``) runs as a real child process: a small keep-alive
HTTP server on the port the autoscaler picked (this script plays the kubelet: it starts the
process and marks the Pod Ready). Then ``--requests`` sequential GETs go straight to the
process and as many through the router (``/serving/<ns>/<route>`` on an aiohttp server, as on
kawa's main port), interleaved in rounds so both see the same machine; the client is kawa's
own HTTP client in this process. Prints p50/p99/mean of both and the difference. Not run by
the test suite::

    .venv/bin/python bench/serving_router.py --requests 5000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

from kawa.serving.dataplane import ServingDataPlane
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore
from kawa.transport.http11 import HttpClient

NS = "bench"

BACKEND = r"""
import asyncio, os, sys
BODY = b"hello from the revision\n"
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
            + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)

class Server(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buf = b""
    def data_received(self, data):
        self.buf += data
        while b"\r\n\r\n" in self.buf:
            head, _, self.buf = self.buf.partition(b"\r\n\r\n")
            self.transport.write(RESPONSE)

async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Server, "127.0.0.1", int(os.environ["PORT"]))
    print("ready", flush=True)
    await server.serve_forever()

asyncio.run(main())
"""


class BenchKubelet:
    """Runs each Pod of the store as the backend process above and marks it Ready."""

    def __init__(self, store: SqliteResourceStore) -> None:
        self.store = store
        self.processes: list[asyncio.subprocess.Process] = []

    async def run(self) -> None:
        try:
            async for event in self.store.watch("pods", NS, since=0):
                if event.type == "ADDED":
                    await self._start(event.object)
        finally:
            for process in self.processes:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()

    async def _start(self, pod: dict[str, Any]) -> None:
        port = pod["spec"]["containers"][0]["ports"][0]["containerPort"]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            BACKEND,
            env={"PORT": str(port)},
            stdout=asyncio.subprocess.PIPE,
        )
        self.processes.append(process)
        assert process.stdout is not None
        await process.stdout.readline()
        status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
        await self.store.update(
            ResourceKey("pods", NS, pod["metadata"]["name"]), {"status": status}, status_only=True
        )


async def timed(client: HttpClient, url: str, count: int) -> list[float]:
    out = []
    for _ in range(count):
        started = time.perf_counter()
        response = await client.request("GET", url, [], b"", 10.0)
        out.append(time.perf_counter() - started)
        if response.status != 200:
            raise SystemExit(f"unexpected status {response.status} from {url}: {response.body!r}")
    return out


def row(name: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p50 = ms[len(ms) // 2]
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"{name:10} {p50:9.3f} {p99:9.3f} {statistics.fmean(ms):9.3f}"


async def run(requests: int, rounds: int) -> None:
    store = SqliteResourceStore(":memory:")
    plane = ServingDataPlane(store)
    kubelet = BenchKubelet(store)
    app = web.Application()
    app.add_routes(plane.routes())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    tasks = [asyncio.create_task(plane.run()), asyncio.create_task(kubelet.run())]
    client = HttpClient()
    try:
        await plane.ready.wait()
        revision = {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Revision",
            "metadata": {
                "name": "hello-00001",
                "namespace": NS,
                "annotations": {"autoscaling.knative.dev/min-scale": "1"},
            },
            "spec": {
                "containerConcurrency": 0,
                "timeoutSeconds": 60,
                "containers": [{"name": "user-container", "image": "busybox", "command": ["x"]}],
            },
        }
        await store.create(
            ResourceKey("revisions.serving.knative.dev", NS, "hello-00001"), revision
        )
        traffic = [{"revisionName": "hello-00001", "percent": 100}]
        route = {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Route",
            "metadata": {"name": "hello", "namespace": NS},
            "spec": {"traffic": traffic},
            "status": {"traffic": traffic},
        }
        await store.create(ResourceKey("routes.serving.knative.dev", NS, "hello"), route)
        scaler = None
        while scaler is None or not scaler.throttler.endpoints:
            await asyncio.sleep(0.05)
            scaler = plane.scaler(NS, "hello-00001")
        endpoint = next(iter(scaler.throttler.endpoints.values()))
        direct_url = f"{endpoint.url}/"
        router_url = f"http://{host}:{port}/serving/{NS}/hello/"
        await timed(client, direct_url, 200)  # warm up both paths
        await timed(client, router_url, 200)
        direct: list[float] = []
        routed: list[float] = []
        per_round = max(1, requests // rounds)
        for _ in range(rounds):
            direct += await timed(client, direct_url, per_round)
            routed += await timed(client, router_url, per_round)
    finally:
        await client.close()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await runner.cleanup()
        await store.close()
    print(f"{len(direct)} sequential warm GETs each, {rounds} interleaved rounds")
    print(f"{'path':10} {'p50 ms':>9} {'p99 ms':>9} {'mean ms':>9}")
    print(row("direct", direct))
    print(row("router", routed))
    d = sorted(direct)
    r = sorted(routed)
    added_p50 = (r[len(r) // 2] - d[len(d) // 2]) * 1000
    added_p99 = (r[int(len(r) * 0.99)] - d[int(len(d) * 0.99)]) * 1000
    print(f"{'added':10} {added_p50:9.3f} {added_p99:9.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    args = parser.parse_args()
    runner: Callable[[Coroutine[Any, Any, None]], None] = asyncio.run
    if args.uvloop:
        import uvloop

        runner = uvloop.run
    runner(run(args.requests, args.rounds))


if __name__ == "__main__":
    main()
