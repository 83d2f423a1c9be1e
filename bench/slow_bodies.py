"""Measurement: what many slow, large request bodies cost a ``kawa up`` process in memory.

One run on this machine: ``python -m kawa up --ephemeral`` in a child process (with
``--kawa-arg`` flags passed through, such as ``--max-buffered-bytes``), a Broker, then
``--connections`` clients that each announce a ``--size``-byte event to the broker ingress
and send ``--sent`` bytes of it as fast as kawa reads them, then stall (the body never ends).
Prints kawa's resident memory before, its peak (``VmHWM``) and after the clients go, and what
the clients were answered::

    .venv/bin/python bench/slow_bodies.py [--connections 200] [--size 4194304]

Run it against another checkout by putting that checkout's ``src`` first on ``PYTHONPATH``
(the child imports kawa from there). Bounded: every wait has a deadline and the child is
stopped at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PIECE = 256 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def memory(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` of ``pid`` in bytes."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) * 1024
    return found


def api(url: str, token: str, method: str, path: str, body: object = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    req = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def start_kawa(work: Path, port: int, extra: list[str]) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "kawa", "up", "--ephemeral", "--data-dir", str(work)]
    args += ["--port", str(port), "--api-port", str(free_port()), "--log-level", "warning"]
    log = (work / "kawa.log").open("wb")
    proc = subprocess.Popen([*args, *extra], stdout=log, stderr=log)
    deadline = time.monotonic() + 30
    while not (work / "token").exists() or not (work / "server.json").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"kawa did not start:\n{(work / 'kawa.log').read_text()}")
        time.sleep(0.1)
    return proc


def ready_broker(url: str, token: str) -> None:
    path = "/apis/eventing.knative.dev/v1/namespaces/default/brokers"
    broker = {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker"}
    api(url, token, "POST", path, dict(broker, metadata={"name": "default"}))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        obj = api(url, token, "GET", f"{path}/default")
        conditions = obj.get("status", {}).get("conditions", []) if isinstance(obj, dict) else []
        if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
            return
        time.sleep(0.1)
    raise SystemExit("the broker never became Ready")


async def slow_body(port: int, size: int, sent: int, answers: collections.Counter[str]) -> None:
    """Announce ``size`` bytes, send ``sent`` of them while kawa reads, then stall."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as err:
        answers[f"connect failed: {err.strerror}"] += 1
        return
    head = (
        "POST /brokers/default/default HTTP/1.1\r\nHost: kawa\r\nce-specversion: 1.0\r\n"
        "ce-id: 1\r\nce-source: /bench\r\nce-type: bench\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n"
    )
    piece = b"x" * PIECE
    try:
        writer.write(head.encode())
        done = 0
        while done < sent:
            writer.write(piece[: min(PIECE, sent - done)])
            done += min(PIECE, sent - done)
            await asyncio.wait_for(writer.drain(), 2.0)  # kawa stopped reading: stall here
        status = await asyncio.wait_for(reader.readline(), 3.0)
        answers[status.decode().strip() or "closed"] += 1
    except TimeoutError:
        answers["no answer (body still open)"] += 1
    except OSError as err:
        answers[f"connection error: {err.strerror or err}"] += 1
    finally:
        writer.close()


async def load(port: int, args: argparse.Namespace) -> collections.Counter[str]:
    answers: collections.Counter[str] = collections.Counter()
    await asyncio.gather(
        *(slow_body(port, args.size, args.sent, answers) for _ in range(args.connections))
    )
    return answers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--size", type=int, default=4 * 1024 * 1024, help="announced bytes")
    parser.add_argument("--sent", type=int, default=4 * 1024 * 1024 - 1, help="bytes sent")
    parser.add_argument("--kawa-arg", action="append", default=[], help="a flag of kawa up")
    args = parser.parse_args(argv)
    if not 1 <= args.connections <= 2000 or not 0 < args.sent <= args.size <= 64 << 20:
        parser.error("--connections in [1, 2000]; 0 < --sent <= --size <= 64 MiB")
    work = Path(tempfile.mkdtemp(prefix="kawa-slow-bodies-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        port = free_port()
        proc = start_kawa(work, port, args.kawa_arg)
        url = f"http://127.0.0.1:{port}"
        ready_broker(url, (work / "token").read_text().strip())
        before = memory(proc.pid)["VmRSS"]
        answers = asyncio.run(load(port, args))
        peak = memory(proc.pid)["VmHWM"]
        time.sleep(1.0)
        after = memory(proc.pid)["VmRSS"]
        mib = 1024 * 1024
        print(f"kawa up {' '.join(args.kawa_arg)}".rstrip())
        print(
            f"{args.connections} bodies of {args.size} bytes, {args.sent} sent each: RSS before "
            f"{before / mib:.0f} MiB, peak {peak / mib:.0f} MiB (+{(peak - before) / mib:.0f}), "
            f"after {after / mib:.0f} MiB"
        )
        for answer, count in answers.most_common():
            print(f"  {count:5d}  {answer}")
    finally:
        if proc is not None:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
