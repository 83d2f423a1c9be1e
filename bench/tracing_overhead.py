"""Benchmark: what tracing costs kawa per event, off and on (docs/observability.md, "Tracing").

kawa runs as a child (``python -m kawa up``, SQLite, durability ``full``, no metrics) with one
broker and one trigger to a subscriber in this process; this process sends ``--events``
binary-mode events, each with a sampled ``traceparent`` of a trace of its own (but in the
last mode)
(``--concurrency`` at a time), and waits until all are delivered. The measure is **kawa's
CPU seconds per event** (user + system of the child, from ``/proc``), which a loaded machine
disturbs far less than throughput, plus the wall rate for reference. Modes, alternated
``--rounds`` times:

* ``off``: no ``OTEL_*`` variable (kawa's default);
* ``on``: ``OTEL_EXPORTER_OTLP_ENDPOINT`` pointing at an OTLP sink in this process that
  answers 200 and counts the spans it gets (every event sampled: ``parentbased_always_on``
  with a sampled parent), export every 200 ms;
* ``on, 10% sampled``: the same with ``OTEL_TRACES_SAMPLER=parentbased_traceidratio`` and
  ``OTEL_TRACES_SAMPLER_ARG=0.1``, the events sent without a ``traceparent``: kawa's ingress
  starts each trace and records one in ten; the others' context still goes on, marked not
  sampled.

    PYTHONPATH=src .venv/bin/python bench/tracing_overhead.py [--events 3000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

CLK_TCK = os.sysconf("SC_CLK_TCK")
API = "/apis/eventing.knative.dev/v1/namespaces/default"
SAMPLED = "on, 10% sampled"
MODES = ("off", "on", SAMPLED)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class Sinks:
    """The subscriber (202) and the OTLP sink (200, counts spans), on one aiohttp server."""

    def __init__(self) -> None:
        self.delivered = 0
        self.spans = 0
        self.arrived = asyncio.Event()
        self.url = ""

    async def subscriber(self, request: web.Request) -> web.Response:
        await request.read()
        self.delivered += 1
        self.arrived.set()
        return web.Response(status=202)

    async def otlp(self, request: web.Request) -> web.Response:
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.read())
        self.spans += sum(
            len(scope.spans) for rs in message.resource_spans for scope in rs.scope_spans
        )
        return web.Response(status=200, content_type="application/x-protobuf")

    async def wait_delivered(self, count: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while self.delivered < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {self.delivered} of {count} events delivered")
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), 1.0)


def spawn_kawa(work: Path, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "kawa", "up", "--data-dir", str(work), "--port", str(port)]
    argv += ["--api-port", str(free_port()), "--metrics-port", "-1", "--log-level", "warning"]
    with open(work.parent / f"{work.name}.log", "wb") as log:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)


async def start_kawa(work: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = spawn_kawa(work, env, port)
    deadline = time.monotonic() + 60
    while not (work / "server.json").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"kawa did not start: see {work.parent / f'{work.name}.log'}")
        await asyncio.sleep(0.1)
    return proc, f"http://127.0.0.1:{port}"


async def ready(session: aiohttp.ClientSession, url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        async with session.get(url) as resp:
            status = (await resp.json()).get("status", {})
        if any(
            c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", [])
        ):
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} never became Ready")


async def send(
    session: aiohttp.ClientSession, url: str, first: int, count: int, width: int, traced: bool
) -> None:
    queue = iter(range(first, first + count))

    async def sender() -> None:
        for i in queue:
            headers = {
                "ce-specversion": "1.0",
                "ce-id": str(i),
                "ce-source": "/bench",
                "ce-type": "bench.event",
                "content-type": "application/json",
            }
            if traced:  # a sampled trace of its own per event
                headers["traceparent"] = f"00-{secrets.token_hex(16)}-00f067aa0ba902b7-01"
            async with session.post(url, data=b'{"n": 1}', headers=headers) as resp:
                await resp.read()
                if resp.status != 202:
                    raise RuntimeError(f"ingress answered {resp.status}")

    await asyncio.gather(*(sender() for _ in range(width)))


async def measure(mode: str, sinks: Sinks, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    if mode != "off":
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = sinks.url
        env["OTEL_BSP_SCHEDULE_DELAY"] = "200"
        if mode == SAMPLED:  # the sender sends no traceparent: kawa's ingress decides
            env["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio"
            env["OTEL_TRACES_SAMPLER_ARG"] = "0.1"
    proc, url = await start_kawa(work, env)
    try:
        token = (work / "token").read_text().strip()
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s:
            subscriber = {"broker": "default", "subscriber": {"uri": sinks.url}}
            for plural, kind, name, spec in (
                ("brokers", "Broker", "default", {}),
                ("triggers", "Trigger", "t", subscriber),
            ):
                obj = {"apiVersion": "eventing.knative.dev/v1", "kind": kind,
                       "metadata": {"name": name}, "spec": spec}  # fmt: skip
                async with s.post(f"{url}{API}/{plural}", json=obj) as resp:
                    assert resp.status == 201, await resp.text()
                await ready(s, f"{url}{API}/{plural}/{name}")
            await asyncio.sleep(0.5)  # the trigger's consumer starts after Ready
            ingress = f"{url}/brokers/default/default"
            base = sinks.delivered
            traced = mode != SAMPLED
            await send(s, ingress, 0, args.warmup, args.concurrency, traced)
            await sinks.wait_delivered(base + args.warmup)
            await asyncio.sleep(0.5)  # the warm-up's spans exported
            spans, cpu, start = sinks.spans, cpu_seconds(proc.pid), time.monotonic()
            await send(s, ingress, args.warmup, args.events, args.concurrency, traced)
            await sinks.wait_delivered(base + args.warmup + args.events)
            wall = time.monotonic() - start
            await asyncio.sleep(0.6 if mode != "off" else 0.0)  # the last spans exported
            used = cpu_seconds(proc.pid) - cpu
    finally:
        proc.terminate()
        proc.wait(30)
    return {
        "mode": mode,
        "cpu_us": used / args.events * 1e6,
        "rate": args.events / wall,
        "spans": (sinks.spans - spans) / args.events,
    }


async def main(args: argparse.Namespace) -> None:
    sinks = Sinks()
    app = web.Application()
    app.router.add_post("/v1/traces", sinks.otlp)
    app.router.add_post("/{tail:.*}", sinks.subscriber)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    sinks.url = f"http://127.0.0.1:{port}"
    rows: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="kawa-tracing-bench-") as tmp:
            n = 0
            for _ in range(args.rounds):
                for mode in MODES:
                    n += 1
                    rows.append(await measure(mode, sinks, Path(tmp) / f"kawa-{n}", args))
                    print(f"{rows[-1]['mode']:16} {rows[-1]['cpu_us']:8.0f} us CPU/event "
                          f"{rows[-1]['rate']:8.0f} events/s {rows[-1]['spans']:5.1f} spans/event",
                          flush=True)  # fmt: skip
    finally:
        await runner.cleanup()
    heading = f"{args.events} events per run, 1 trigger, concurrency {args.concurrency}"
    report(rows, MODES, heading, 16)


def report(rows: list[dict[str, Any]], modes: Sequence[str], heading: str, width: int) -> None:
    """The medians of each mode's CPU per event (and its change against ``off``) and rate."""
    print(f"\n{heading}; medians:")
    off = statistics.median(r["cpu_us"] for r in rows if r["mode"] == "off")
    for mode in modes:
        cpu = statistics.median(r["cpu_us"] for r in rows if r["mode"] == mode)
        rate = statistics.median(r["rate"] for r in rows if r["mode"] == mode)
        print(f"  {mode:{width}} {cpu:8.0f} us CPU/event ({(cpu / off - 1) * 100:+5.1f}%) "
              f"{rate:8.0f} events/s")  # fmt: skip


def overhead_args(what: str, rounds: int, argv: list[str] | None) -> argparse.Namespace:
    """The options every ``*_overhead.py`` bench takes, parsed."""
    return overhead_parser(what, rounds).parse_args(argv)


def overhead_parser(what: str, rounds: int) -> argparse.ArgumentParser:
    """The parser of the options every ``*_overhead.py`` bench takes."""
    parser = argparse.ArgumentParser(description=f"kawa {what} overhead (CPU per event)")
    parser.add_argument("--events", type=int, default=3000, help="events per measured run")
    parser.add_argument("--warmup", type=int, default=300, help="events before measuring")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--rounds", type=int, default=rounds, help="times each mode runs")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return overhead_args("tracing", 2, argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
