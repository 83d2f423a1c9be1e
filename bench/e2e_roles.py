"""The helper processes of :mod:`bench.broker_e2e`: subscriber, naive forwarder, paced sender.

Each role runs as its own process (``python bench/e2e_roles.py ROLE ...``), started and
stopped by ``bench/broker_e2e.py``; none is useful alone.

``subscriber``
    A lean sink (aiohttp low-level server on uvloop) answering 202 to every POST. Events carry
    their send time in the ``benchsent`` extension (``ce-benchsent``: CLOCK_MONOTONIC in
    microseconds, the same clock in every process of the machine); the subscriber keeps
    ``receipt - sent`` per delivery. ``GET /_stats`` answers the count, first send, last
    receipt and latency percentiles as JSON; ``POST /_reset`` forgets everything. A POST
    under ``/echo/`` is a Sequence step: answered 200 with the same event (binary mode) as
    its reply, and not counted.
``forwarder``
    Reference 2: the forwarder a Python user would write. aiohttp server, PyPI ``cloudevents``
    SDK (``from_http`` / ``to_binary``), one shared ``aiohttp.ClientSession`` POSTing every
    event to the subscriber before answering 202. Not durable, no filtering, default loop.
``pacer``
    An open-loop sender at a fixed rate: request ``i`` is due at ``t0 + i / rate`` and is
    stamped with that due time (so a sender that falls behind cannot hide latency), whatever
    the answers are doing. Prints a JSON summary line.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from aiohttp.web_request import BaseRequest

SENT_HEADER = "ce-benchsent"


def now_us() -> int:
    return time.monotonic_ns() // 1000


def percentile(sorted_values: list[int], q: float) -> int:
    if not sorted_values:
        return 0
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


# -- subscriber --------------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.latencies: list[int] = []
        self.first_sent = 0
        self.last_receipt = 0
        self.unstamped = 0

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]

    def stats(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        return {
            "count": len(ordered) + self.unstamped,
            "unstamped": self.unstamped,
            "first_sent_us": self.first_sent,
            "last_receipt_us": self.last_receipt,
            "p50_us": percentile(ordered, 0.50),
            "p99_us": percentile(ordered, 0.99),
            "max_us": ordered[-1] if ordered else 0,
        }


async def run_subscriber(port: int) -> None:
    recorder = Recorder()

    async def handle(request: BaseRequest) -> web.StreamResponse:
        path = request.path
        if path == "/_reset":
            recorder.reset()
            return web.Response(status=200)
        if path == "/_stats":
            return web.Response(body=orjson.dumps(recorder.stats()))
        body = await request.read()
        if path.startswith("/echo/"):
            echoed = {k: v for k, v in request.headers.items() if k.lower().startswith("ce-")}
            echoed["Content-Type"] = request.headers.get("Content-Type", "application/json")
            return web.Response(status=200, body=body, headers=echoed)
        received = now_us()
        sent = request.headers.get(SENT_HEADER)
        if sent is None:
            recorder.unstamped += 1
        else:
            stamp = int(sent)
            recorder.latencies.append(received - stamp)
            if recorder.first_sent == 0 or stamp < recorder.first_sent:
                recorder.first_sent = stamp
        recorder.last_receipt = received
        return web.Response(status=202)

    server = web.Server(handle, access_log=None)
    loop = asyncio.get_running_loop()
    await loop.create_server(server, "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    await asyncio.Event().wait()


# -- naive forwarder (reference 2) -------------------------------------------------------------


def run_forwarder(port: int, sink: str) -> None:
    from cloudevents.v1.conversion import to_binary
    from cloudevents.v1.http import from_http

    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        event = from_http(dict(request.headers), body)
        headers, data = to_binary(event)
        session: aiohttp.ClientSession = request.app["session"]
        async with session.post(sink, data=data, headers=headers) as response:
            await response.read()
        return web.Response(status=202)

    async def session_ctx(app: web.Application) -> Any:
        app["session"] = aiohttp.ClientSession()
        yield
        await app["session"].close()

    app = web.Application()
    app.cleanup_ctx.append(session_ctx)
    app.router.add_post("/", forward)
    print("ready", flush=True)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# -- open-loop paced sender ----------------------------------------------------------------------


async def run_pacer(url: str, rate: float, duration: float, connections: int) -> None:
    total = int(rate * duration)
    run = time.time_ns()
    base_headers = {
        "ce-specversion": "1.0",
        "ce-type": "bench.event",
        "ce-source": "/bench/pacer",
        "content-type": "application/json",
    }
    body = b'{"message":"hello from the kawa benchmark","padding":"' + b"x" * 40 + b'"}'
    statuses: dict[int, int] = {}
    errors = 0
    max_lag_us = 0
    answered: list[int] = []
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int, due_us: int) -> None:
            nonlocal errors
            headers = dict(base_headers)
            headers["ce-id"] = f"{run}-p{i}"  # unique per run: ids are unique per source
            headers[SENT_HEADER] = str(due_us)
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    answered.append(now_us() - due_us)
                    statuses[response.status] = statuses.get(response.status, 0) + 1
            except aiohttp.ClientError:
                errors += 1

        tasks: set[asyncio.Task[None]] = set()
        start = now_us()
        interval_us = 1_000_000 / rate
        i = 0
        while i < total:
            current = now_us()
            while i < total and start + i * interval_us <= current:
                due = int(start + i * interval_us)
                max_lag_us = max(max_lag_us, current - due)
                task = asyncio.create_task(one(i, due))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                i += 1
            await asyncio.sleep(0.0005)
        if tasks:
            await asyncio.wait(tasks, timeout=30)
        elapsed = (now_us() - start) / 1e6
    summary = {
        "sent": total,
        "statuses": {str(k): v for k, v in statuses.items()},
        "errors": errors,
        "elapsed_s": elapsed,
        "max_sender_lag_us": max_lag_us,
        "p50_us": percentile(sorted(answered), 0.50),
        "p99_us": percentile(sorted(answered), 0.99),
    }
    print(orjson.dumps(summary).decode(), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    roles = parser.add_subparsers(dest="role", required=True)
    sub = roles.add_parser("subscriber")
    sub.add_argument("--port", type=int, required=True)
    fwd = roles.add_parser("forwarder")
    fwd.add_argument("--port", type=int, required=True)
    fwd.add_argument("--sink", required=True)
    pacer = roles.add_parser("pacer")
    pacer.add_argument("--url", required=True)
    pacer.add_argument("--rate", type=float, required=True)
    pacer.add_argument("--duration", type=float, required=True)
    pacer.add_argument("--connections", type=int, default=100)
    args = parser.parse_args(argv)
    if args.role == "subscriber":
        import uvloop

        uvloop.run(run_subscriber(args.port))
    elif args.role == "forwarder":
        run_forwarder(args.port, args.sink)
    else:
        import uvloop

        uvloop.run(run_pacer(args.url, args.rate, args.duration, args.connections))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
