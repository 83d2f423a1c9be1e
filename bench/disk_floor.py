"""Benchmark: what the disk alone costs an event at an open-loop rate (the latency floor).

kawa answers 202 and delivers an event only once its group commit is on disk (``fsync``,
``--durability full``). On a virtual disk the time of an ``fsync`` varies by an order of
magnitude from one to the next (docs/performance.md): an event that arrives while a slow one
runs waits for it and then for its own. This measures that floor and nothing else: events
"arrive" at ``--rate`` per second, open loop, and one writer stores all that have arrived in
one SQLite transaction (WAL, ``synchronous = FULL``, kawa's settings and row shape), again
and again; an event's latency is from its arrival to the end of the commit that stored it.
No HTTP, no event loop, no Python beyond the loop below: kawa's e2e p99 at the same rate
cannot be lower than this one's, and where this one is over 10 ms the issue-18 target is the
disk's to miss.

    .venv/bin/python -m bench.disk_floor --rate 1000 --duration 10 --dir /tmp
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench.broker_e2e import commit_floor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="events per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args(argv)
    if not 0 < args.rate <= 100_000 or not 0 < args.duration <= 300:
        parser.error("--rate must be in (0, 100000] and --duration in (0, 300]")
    floor = commit_floor(args.dir, args.rate, args.duration)
    print(
        f"{floor.events} events in {floor.commits} group commits at {args.rate:,.0f}/s: "
        f"latency p50 {floor.p50_ms:.2f} ms, p99 {floor.p99_ms:.2f} ms, max {floor.max_ms:.2f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
