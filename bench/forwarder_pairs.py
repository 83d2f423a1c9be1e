"""Benchmark: kawa's 1 trigger against the naive forwarder, measured in alternation.

``bench/broker_e2e.py`` measures the forwarder once, then kawa's rows, each ~30 s apart. On
a shared 2-vCPU machine the speed of the machine itself drifts by more than that within
minutes (the forwarder ran at 2,645-6,400 events/s on different runs of the same day,
docs/performance.md), so one such ratio is as much the machine as it is kawa. Here both run
side by side for the whole run and are measured in ``--pairs`` pairs, in alternating order
(forwarder first, then kawa first, ...), each pair within ~30 s, each measurement once
both are idle again (kawa trims the records of its last run after it: that work must not
fall into the next measurement). It prints every pair's delivered/s, CPU per event and
ratio, then the median and the range of the ratios: the issue-18 target (kawa 1 trigger >=
2.0x the forwarder) read over several pairs instead of one.

    .venv/bin/python -m bench.forwarder_pairs --pairs 6

Same load as ``broker_e2e.py`` (wrk, ``--connections`` keep-alive connections, binary-mode
events, the Python subscriber), same kawa (SQLite, ``--durability full``: fsync per group
commit), the same brokers. Needs ``wrk`` (``bash bench/setup.sh``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from bench.broker_e2e import (
    ROLES,
    WRK_SCRIPT,
    Children,
    Load,
    Pids,
    Row,
    cpu_seconds,
    free_port,
    start_kawa,
    wait_port,
    workdir,
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=6, help="pairs of measurements")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up each")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--durability", default="full", choices=("full", "normal", "off"))
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    args = parser.parse_args(argv)
    if not 1 <= args.pairs <= 50:
        parser.error("--pairs must be in [1, 50]")
    if not 0 < args.duration <= 300:
        parser.error("--duration must be in (0, 300]")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pairs: list[tuple[Row, Row]] = []
    with workdir(args.keep) as work:
        children = Children(work)
        try:
            script = work / "events.lua"
            script.write_text(WRK_SCRIPT)
            sub_port = free_port()
            role = [sys.executable, str(ROLES), "subscriber", "--port", str(sub_port)]
            sub = children.start("subscriber", role)
            wait_port(sub_port)
            sub_url = f"http://127.0.0.1:{sub_port}"
            load = Load(script, args.duration, args.warmup, args.connections, args.threads, sub_url)
            fwd_port = free_port()
            fwd = children.start(
                "forwarder",
                [
                    *(sys.executable, str(ROLES), "forwarder", "--port", str(fwd_port)),
                    *("--sink", f"{sub_url}/forwarded"),
                ],
            )
            wait_port(fwd_port)
            kawa, url = start_kawa(children, work, sub_url, args.durability)

            quiet: Pids = {"forwarder": fwd.pid, "kawa": kawa.pid}

            def forwarder() -> Row:
                settle(quiet)
                return load.measure(
                    "forwarder",
                    f"http://127.0.0.1:{fwd_port}/",
                    fanout=1,
                    pids={"forwarder": fwd.pid, "subscriber": sub.pid},
                )

            def kawa_one() -> Row:
                settle(quiet)
                return load.measure(
                    "kawa 1 trigger",
                    f"{url}/brokers/default/one",
                    fanout=1,
                    pids={"kawa": kawa.pid, "subscriber": sub.pid},
                    drain_timeout=120.0,
                )

            for i in range(args.pairs):
                if i % 2 == 0:
                    f = forwarder()
                    k = kawa_one()
                else:
                    k = kawa_one()
                    f = forwarder()
                pairs.append((f, k))
                print(line(i + 1, f, k, "forwarder first" if i % 2 == 0 else "kawa first"))
        finally:
            children.stop_all()
    summary(pairs, args)
    return 0


def settle(pids: Pids, busy: float = 0.05, timeout: float = 120.0) -> None:
    """Wait until none of ``pids`` uses more than ``busy`` of a core (over half a second):
    kawa trims the records of its last run after it, and that work must not fall into the
    next measurement (the forwarder's, or its own)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        time.sleep(0.5)
        if all(cpu_seconds(pid) - before[name] < busy * 0.5 for name, pid in pids.items()):
            return


def rate(row: Row) -> float:
    return row.delivered_rate or 0.0


def line(n: int, f: Row, k: Row, order: str) -> str:
    ratio = rate(k) / rate(f) if rate(f) else 0.0
    return (
        f"pair {n} ({order}): forwarder {rate(f):,.0f}/s ({f.cpu_us_per_event or 0:.0f} us/ev), "
        f"kawa 1 trigger {rate(k):,.0f}/s ({k.cpu_us_per_event or 0:.0f} us/ev), "
        f"ratio {ratio:.2f}" + (f" [{f.note or k.note}]" if f.note or k.note else "")
    )


def summary(pairs: list[tuple[Row, Row]], args: argparse.Namespace) -> None:
    ratios = [rate(k) / rate(f) for f, k in pairs if rate(f)]
    cpu = [
        f.cpu_us_per_event / k.cpu_us_per_event
        for f, k in pairs
        if f.cpu_us_per_event and k.cpu_us_per_event
    ]
    print(
        f"\n{len(pairs)} pairs, wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s, "
        f"kawa durability={args.durability} (SQLite)"
    )
    if ratios:
        print(
            f"kawa 1 trigger / forwarder (delivered/s): median {statistics.median(ratios):.2f}, "
            f"range {min(ratios):.2f}-{max(ratios):.2f}, "
            f"{sum(r >= 2.0 for r in ratios)} of {len(ratios)} pairs >= 2.0"
        )
    if cpu:
        print(
            "forwarder / kawa CPU per event: "
            f"median {statistics.median(cpu):.2f}, range {min(cpu):.2f}-{max(cpu):.2f}"
        )


if __name__ == "__main__":
    sys.exit(main())
