"""Benchmark: event log appends per second with many concurrent appenders.

Each of ``--appenders`` coroutines appends single small payloads (like broker ingress
requests do) until ``--events`` are stored; then the stream is read back in pages. Prints
appends/s and reads/s per backend. Not run by the test suite::

    .venv/bin/python bench/eventlog_append.py --appenders 100 --events 50000
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from kawa.eventlog import EventLog, MemoryEventLog, SqliteEventLog

BACKENDS = ("sqlite-full", "sqlite-normal", "sqlite-off", "memory")


async def open_backend(name: str, directory: Path) -> EventLog:
    if name == "memory":
        return MemoryEventLog()
    durability = name.removeprefix("sqlite-")
    path = directory / f"{name}-{time.monotonic_ns()}.db"
    if durability == "full":
        return await SqliteEventLog.open(str(path), durability="full")
    if durability == "normal":
        return await SqliteEventLog.open(str(path), durability="normal")
    return await SqliteEventLog.open(str(path), durability="off")


async def run(name: str, directory: Path, appenders: int, events: int, size: int) -> None:
    log = await open_backend(name, directory)
    payload = b"x" * size
    per_task = events // appenders

    async def appender() -> None:
        for _ in range(per_task):
            await log.append("bench", [payload])

    try:
        started = time.perf_counter()
        await asyncio.gather(*(appender() for _ in range(appenders)))
        appended = per_task * appenders
        append_rate = appended / (time.perf_counter() - started)

        started = time.perf_counter()
        after, read = 0, 0
        while records := await log.read("bench", after, 100):
            after = records[-1].seq
            read += len(records)
        read_rate = read / (time.perf_counter() - started)
    finally:
        await log.close()
    print(
        f"{name:14} {appenders:5} appenders  {append_rate:10,.0f} appends/s"
        f"  {read_rate:10,.0f} records/s read (pages of 100)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--appenders", type=int, nargs="+", default=[1, 10, 100, 1000])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--payload-size", type=int, default=500)
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    parser.add_argument("--dir", type=Path, help="where the SQLite files go (default: a tmp dir)")
    args = parser.parse_args()

    runner: Callable[[Coroutine[Any, Any, None]], None] = asyncio.run
    if args.uvloop:
        import uvloop

        runner = uvloop.run

    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        for name in args.backends:
            for appenders in args.appenders:
                events = args.events if appenders > 1 else min(args.events, 5_000)
                runner(run(name, Path(directory), appenders, events, args.payload_size))


if __name__ == "__main__":
    main()
