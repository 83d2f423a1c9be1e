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
    .venv/bin/python -m bench.forwarder_pairs --pairs 6 --against /tmp/before

With ``--against DIR`` (a git worktree of another commit) a second kawa runs ``DIR/src`` beside
the first, and each round measures all three in turn (the order rotating from round to
round): before and after, each against the forwarder, in the same minutes.

Same load as ``broker_e2e.py`` (wrk, ``--connections`` keep-alive connections, binary-mode
events, the Python subscriber), same kawa (SQLite, ``--durability full``: fsync per group
commit), the same brokers. Needs ``wrk`` (``bash bench/setup.sh``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench.broker_e2e import (
    ROLES,
    Children,
    Pids,
    Row,
    cpu_seconds,
    free_port,
    start_kawa,
    start_load,
    wait_port,
    workdir,
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=6, help="rounds of measurements")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up each")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--durability", default="full", choices=("full", "normal", "off"))
    parser.add_argument("--against", type=Path, help="a tree (git worktree) to compare with")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    args = parser.parse_args(argv)
    if not 1 <= args.pairs <= 50:
        parser.error("--pairs must be in [1, 50]")
    if not 0 < args.duration <= 300:
        parser.error("--duration must be in (0, 300]")
    if args.against is not None and not (args.against / "src" / "kawa").is_dir():
        parser.error(f"--against {args.against}: no src/kawa in it (a worktree of kawa?)")
    return args


FORWARDER, KAWA, AGAINST = "forwarder", "kawa 1 trigger", "kawa 1 trigger (--against)"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: run 'bash bench/setup.sh'", file=sys.stderr)
        return 2
    rounds: list[dict[str, Row]] = []
    with workdir(args.keep) as work:
        children = Children(work)
        try:
            sub, load = start_load(children, work, args)
            sub_url = load.sub_url
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
            targets: dict[str, tuple[str, Pids]] = {
                FORWARDER: (f"http://127.0.0.1:{fwd_port}/", {"forwarder": fwd.pid}),
                KAWA: (f"{url}/brokers/default/one", {"kawa": kawa.pid}),
            }
            if args.against is not None:
                other, other_url = start_other(children, work, sub_url, args)
                targets[AGAINST] = (
                    f"{other_url}/brokers/default/one",
                    {"kawa-against": other.pid},
                )
            quiet: Pids = {k: pid for _, pids in targets.values() for k, pid in pids.items()}

            def measure(name: str) -> Row:
                target, pids = targets[name]
                settle(quiet)
                return load.measure(
                    name,
                    target,
                    fanout=1,
                    pids={**pids, "subscriber": sub.pid},
                    drain_timeout=120.0,
                )

            names = list(targets)
            for i in range(args.pairs):
                order = names[i % len(names) :] + names[: i % len(names)]
                measured = {name: measure(name) for name in order}
                rounds.append(measured)
                print(line(i + 1, measured, order), flush=True)
        finally:
            children.stop_all()
    summary(rounds, args)
    return 0


def start_other(
    children: Children, work: Path, sub_url: str, args: argparse.Namespace
) -> tuple[subprocess.Popen[bytes], str]:
    """The ``--against`` kawa: ``DIR/src`` first on its path (its own data directory)."""
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(args.against / "src")
    try:
        return start_kawa(children, work, sub_url, args.durability, child="kawa-against")
    finally:
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before


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


def line(n: int, measured: dict[str, Row], order: list[str]) -> str:
    forwarder = rate(measured[FORWARDER])
    parts = [
        f"{name} {rate(row):,.0f}/s ({row.cpu_us_per_event or 0:.0f} us/ev, "
        f"stolen {row.cpu.get('stolen', 0.0):.0%})"
        + (f", ratio {rate(row) / forwarder:.2f}" if name != FORWARDER and forwarder else "")
        + (f" [{row.note}]" if row.note else "")
        for name, row in measured.items()
    ]
    return f"round {n} ({order[0]} first): " + "; ".join(parts)


def summary(rounds: list[dict[str, Row]], args: argparse.Namespace) -> None:
    print(
        f"\n{len(rounds)} rounds, wrk -t{args.threads} -c{args.connections} "
        f"-d{args.duration:g}s, kawa durability={args.durability} (SQLite)"
    )
    names = [KAWA] + ([AGAINST] if args.against is not None else [])
    for name in names:
        described(f"{name} / forwarder (delivered/s)", ratios(rounds, name, FORWARDER, rate), True)
        described(f"forwarder / {name} CPU per event", ratios(rounds, FORWARDER, name, cpu), False)
    if args.against is not None:
        described("kawa 1 trigger / --against (delivered/s)", ratios(rounds, KAWA, AGAINST, rate))


def cpu(row: Row) -> float:
    return row.cpu_us_per_event or 0.0


def ratios(
    rounds: list[dict[str, Row]], top: str, bottom: str, of: Callable[[Row], float]
) -> list[float]:
    return [of(r[top]) / of(r[bottom]) for r in rounds if of(r[bottom]) and of(r[top])]


def described(what: str, values: list[float], target: bool = False) -> None:
    if not values:
        return
    met = f", {sum(v >= 2.0 for v in values)} of {len(values)} >= 2.0" if target else ""
    print(
        f"{what}: median {statistics.median(values):.2f}, "
        f"range {min(values):.2f}-{max(values):.2f}{met}"
    )


if __name__ == "__main__":
    sys.exit(main())
