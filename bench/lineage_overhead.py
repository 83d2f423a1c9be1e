"""Benchmark: what lineage costs kawa per event, off and on (docs/observability.md, "What
happened to my event?").

kawa runs as a child (``python -m kawa up``, SQLite, durability ``full``, no metrics, no
tracing) with one broker and two triggers: one delivers every event to a subscriber in this
process, the other's filter rejects every event (so each event has an acceptance, two
decisions, an attempt and an outcome noted); ``--triggers N`` makes it N triggers, N - 1 of
them delivering (the 10-trigger row of ``bench/broker_e2e.py``, where lineage notes most).
This process sends ``--events`` binary-mode events (``--concurrency`` at a time) and waits
until all are delivered. The measure is
**kawa's CPU seconds per event** (user + system of the child, from ``/proc``), as
``bench/tracing_overhead.py`` measures tracing, plus the wall rate. Modes, alternated
``--rounds`` times in one run, a fresh kawa each:

* ``off``: the Broker annotated ``kawa.dev/lineage: "off"``;
* ``on``: the default (lineage kept).

    PYTHONPATH=src .venv/bin/python -m bench.lineage_overhead [--events 3000] [--rounds 3]
        [--triggers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.tracing_overhead import (
    API,
    Sinks,
    cpu_seconds,
    free_port,
    overhead_parser,
    ready,
    report,
    send,
    start_kawa,
)

MODES = ("off", "on")


async def measure(mode: str, sinks: Sinks, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    proc, url = await start_kawa(work, env)
    try:
        token = (work / "token").read_text().strip()
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s:
            annotations = {"kawa.dev/lineage": "off"} if mode == "off" else {}
            subscriber = {"broker": "default", "subscriber": {"uri": sinks.url}}
            other = subscriber | {"filters": [{"exact": {"type": "not.this"}}]}
            delivering = args.triggers - 1
            objects: list[tuple[str, str, str, dict[str, Any], dict[str, str]]] = [
                ("brokers", "Broker", "default", {}, annotations)
            ]
            objects += [("triggers", "Trigger", f"t{i}", subscriber, {}) for i in range(delivering)]
            objects.append(("triggers", "Trigger", "other", other, {}))
            for plural, kind, name, spec, notes in objects:
                obj = {"apiVersion": "eventing.knative.dev/v1", "kind": kind,
                       "metadata": {"name": name, "annotations": notes}, "spec": spec}  # fmt: skip
                async with s.post(f"{url}{API}/{plural}", json=obj) as resp:
                    assert resp.status == 201, await resp.text()
                await ready(s, f"{url}{API}/{plural}/{name}")
            await asyncio.sleep(0.5)  # the triggers' consumers start after Ready
            ingress = f"{url}/brokers/default/default"
            base = sinks.delivered
            await send(s, ingress, 0, args.warmup, args.concurrency, False)
            await sinks.wait_delivered(base + args.warmup * delivering)
            await asyncio.sleep(0.5)
            cpu, start = cpu_seconds(proc.pid), time.monotonic()
            await send(s, ingress, args.warmup, args.events, args.concurrency, False)
            await sinks.wait_delivered(base + (args.warmup + args.events) * delivering)
            wall = time.monotonic() - start
            await asyncio.sleep(0.3)  # the last lineage appended (every 200 ms)
            used = cpu_seconds(proc.pid) - cpu
            if mode == "on":  # the lineage is there: the last event's trace
                last = args.warmup + args.events - 1
                async with s.get(f"{url}{API}/brokers/default/trace?id={last}") as resp:
                    steps = (await resp.json())["events"][0]["timeline"]
                    assert {st["what"] for st in steps} >= {"accepted", "filter", "delivered"}
    finally:
        proc.terminate()
        proc.wait(30)
    return {"mode": mode, "cpu_us": used / args.events * 1e6, "rate": args.events / wall}


async def main(args: argparse.Namespace) -> None:
    sinks = Sinks()
    app = web.Application()
    app.router.add_post("/{tail:.*}", sinks.subscriber)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    sinks.url = f"http://127.0.0.1:{port}"
    rows: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="kawa-lineage-bench-") as tmp:
            n = 0
            for _ in range(args.rounds):
                for mode in MODES:
                    n += 1
                    rows.append(await measure(mode, sinks, Path(tmp) / f"kawa-{n}", args))
                    print(f"{rows[-1]['mode']:4} {rows[-1]['cpu_us']:8.0f} us CPU/event "
                          f"{rows[-1]['rate']:8.0f} events/s", flush=True)  # fmt: skip
    finally:
        await runner.cleanup()
    heading = f"{args.events} events per run, {args.triggers} triggers"
    heading += f", concurrency {args.concurrency}"
    report(rows, MODES, heading, 4)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = overhead_parser("lineage", 3)
    parser.add_argument(
        "--triggers", type=int, default=2, help="triggers (>= 2): all but one deliver"
    )
    args = parser.parse_args(argv)
    if args.triggers < 2:
        parser.error("--triggers: at least 2 (one delivering, one rejecting)")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
