"""Benchmark: kawa's instructions per event, counted by valgrind's callgrind.

Wall-clock rates on a shared 2-vCPU machine vary by 10-25 % from run to run, more than most
single changes to the hot path are worth (docs/performance.md, issue 18). Instructions
executed vary far less: this runs ``python -m kawa up`` under ``valgrind --tool=callgrind``
with instrumentation off while it starts, makes the bench's brokers (``ingress``: no
trigger, ``one``: one trigger to ``bench/e2e_roles.py subscriber``), turns instrumentation
on, posts ``--events`` binary-mode events from ``--concurrency`` keep-alive connections to
one broker, waits until the subscriber has them all (for ``one``), turns it off and reports
kawa's instructions (every thread: the event loop and the log's writer) per event.

Compare two trees in one run: ``--against DIR`` runs the same on ``DIR/src`` (a git worktree
of the commit before) first, and prints both and the change::

    git worktree add --detach /tmp/before HEAD~1
    .venv/bin/python -m bench.instructions_per_event --against /tmp/before

Under callgrind kawa runs ~50x slower; the defaults (2,000 events per broker) take about a
minute per tree. Needs Debian's ``valgrind`` (``bash bench/setup.sh``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.broker_e2e import (
    API_TOKEN,
    Children,
    apply,
    free_port,
    prime,
    start_subscriber,
    sub_reset,
    sub_stats,
    wait_port,
    wait_ready,
)

BROKERS = (("ingress", 0), ("one", 1))


async def post_all(url: str, events: int, concurrency: int, tag: str) -> int:
    """POST ``events`` events from ``concurrency`` connections; how many got 202."""
    accepted = 0
    counter = iter(range(events))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal accepted
            for n in counter:
                headers = {
                    "ce-specversion": "1.0",
                    "ce-id": f"{tag}-{n}",
                    "ce-source": "/bench",
                    "ce-type": "bench.instructions",
                    "content-type": "application/json",
                    "ce-benchsent": str(time.monotonic_ns() // 1000),
                }
                async with session.post(url, data=b'{"n": 1}', headers=headers) as response:
                    await response.read()
                    accepted += response.status == 202

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return accepted


def callgrind_control(pid: int, *flags: str) -> None:
    """Run ``callgrind_control`` on ``pid``; it exits 0 even when it failed, so its output is
    read for the ``OK`` it prints on success."""
    argv = ["callgrind_control", *flags, str(pid)]
    done = subprocess.run(argv, check=False, capture_output=True, text=True)
    if "OK" not in done.stdout:
        raise RuntimeError(f"callgrind_control {' '.join(flags)} failed: {done.stdout[-300:]}")


def total_instructions(out_dir: Path) -> int:
    """The ``Ir`` of every dump callgrind wrote in ``out_dir`` (one per thread and dump)."""
    total = 0
    for path in out_dir.glob("callgrind.out*"):
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("totals:"):
                total += int(line.split()[1])
                break
    return total


def measure(tree: Path | None, args: argparse.Namespace, work: Path) -> dict[str, float]:
    """Instructions per event by broker, for kawa from ``tree/src`` (``None``: this one)."""
    work.mkdir(parents=True)
    children = Children(work)
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = str(tree / "src")
    results: dict[str, float] = {}
    try:
        _, sub_url = start_subscriber(children)
        port = free_port()
        out_dir = work / "callgrind"
        out_dir.mkdir()
        argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=yes"]
        argv += ["--separate-threads=yes", f"--callgrind-out-file={out_dir}/callgrind.out"]
        argv += [sys.executable, "-m", "kawa", "up", "--data-dir", str(work / "kawa")]
        argv += ["--port", str(port), "--api-port", str(free_port()), "--log-level", "warning"]
        argv += ["--durability", args.durability]
        proc = subprocess.Popen(
            argv,
            stdout=open(work / "kawa.log", "wb"),  # noqa: SIM115 - closed with the process
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        try:
            wait_port(port, timeout=600)
            API_TOKEN["token"] = (work / "kawa" / "token").read_text().strip()
            url = f"http://127.0.0.1:{port}"
            for name, triggers in BROKERS:
                apply(url, "brokers", {"metadata": {"name": name}, "spec": {}})
                for i in range(triggers):
                    spec = {"broker": name, "subscriber": {"uri": f"{sub_url}/{name}/{i}"}}
                    apply(url, "triggers", {"metadata": {"name": f"{name}-{i}"}, "spec": spec})
                wait_ready(url, "brokers", name, timeout=300)
            time.sleep(1.0)
            for name, triggers in BROKERS:
                prime(f"{url}/brokers/default/{name}", sub_url, name, triggers > 0, timeout=300)
            for name, triggers in BROKERS:
                target = f"{url}/brokers/default/{name}"
                # a warm-up outside the count: the first requests fill caches and pools
                asyncio.run(post_all(target, args.concurrency * 4, args.concurrency, f"w{name}"))
                wait_for(sub_url, args.concurrency * 4 * triggers)
                sub_reset(sub_url)
                for stale in out_dir.glob("callgrind.out*"):
                    stale.unlink()
                callgrind_control(proc.pid, "--zero")
                callgrind_control(proc.pid, "-i", "on")
                accepted = asyncio.run(post_all(target, args.events, args.concurrency, name))
                wait_for(sub_url, accepted * triggers)
                callgrind_control(proc.pid, "-i", "off")
                callgrind_control(proc.pid, "--dump")
                counted = total_instructions(out_dir)
                if counted <= 0 or accepted <= 0:
                    raise RuntimeError(f"{name}: nothing counted ({counted} Ir, {accepted} events)")
                results[name] = counted / accepted
        finally:
            proc.terminate()
            try:
                proc.wait(120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
    finally:
        children.stop_all()
    return results


def wait_for(sub_url: str, count: int, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while int(sub_stats(sub_url)["count"]) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the subscriber did not get {count} deliveries in {timeout}s")
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=2000, help="events per broker")
    parser.add_argument("--concurrency", type=int, default=32, help="connections")
    parser.add_argument("--durability", default="full", choices=("full", "normal", "off"))
    parser.add_argument("--against", type=Path, help="a tree (git worktree) to compare with")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is not installed: run 'bash bench/setup.sh'", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="kawa-ir-"))
    try:
        runs: list[tuple[str, dict[str, float]]] = []
        if args.against is not None:
            runs.append((f"{args.against}", measure(args.against.resolve(), args, work / "a")))
        runs.append(("this tree", measure(None, args, work / "b")))
        print(f"instructions per event (callgrind, {args.events} events, {args.concurrency} "
              f"connections, durability {args.durability})")  # fmt: skip
        print(f"{'tree':40} " + " ".join(f"{name:>14}" for name, _ in BROKERS))
        for label, results in runs:
            cells = " ".join(f"{results[name]:>14,.0f}" for name, _ in BROKERS)
            print(f"{label[-40:]:40} {cells}")
        if len(runs) == 2:
            before, after = runs[0][1], runs[1][1]
            change = " ".join(f"{100 * (after[n] / before[n] - 1):>+13.1f}%" for n, _ in BROKERS)
            print(f"{'change':40} {change}")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
