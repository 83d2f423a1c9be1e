"""What many slow large bodies cost a real ``kawa up`` process: its peak resident memory stays
near its body budget instead of growing with every body (before the budget, 60 bodies of
4 MiB each took it up by some 430 MiB; ``bench/slow_bodies.py`` measures more)."""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path
from typing import Final

import pytest

from ..e2e.e2e_support import kawa_up
from .limits_support import Raw

MIB: Final = 1024 * 1024
BODIES: Final = 60
SIZE: Final = 4 * MIB
BUDGET: Final = 16 * MIB


def memory(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0]) * 1024
    raise AssertionError(f"no {field} in /proc/{pid}/status")


async def slow_body(url: str, answers: collections.Counter[str]) -> None:
    """Announce a 4 MiB event, send all but its last byte as fast as kawa reads, stall."""
    raw = await Raw.open(url)
    head = (
        "POST /brokers/default/default HTTP/1.1\r\nHost: kawa\r\nce-specversion: 1.0\r\n"
        "ce-id: 1\r\nce-source: /t\r\nce-type: t\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {SIZE}\r\n\r\n"
    )
    piece = b"x" * (256 * 1024)
    try:
        raw.writer.write(head.encode())
        for n in range(SIZE // len(piece)):
            raw.writer.write(piece if n < SIZE // len(piece) - 1 else piece[:-1])
            await asyncio.wait_for(raw.writer.drain(), 2.0)  # kawa no longer reads
        answers[str((await raw.response(timeout=3.0)).status)] += 1
    except TimeoutError:
        answers["held"] += 1
    except OSError:
        answers["refused"] += 1  # kawa answered (503) and stopped reading while we sent
    finally:
        await raw.close()


@pytest.mark.slow
async def test_slow_large_bodies_keep_kawas_memory_near_its_budget(tmp_path: Path) -> None:
    with kawa_up(tmp_path, f"--max-buffered-bytes={BUDGET}", "--log-level=warning") as kawa:
        assert kawa.proc is not None
        kawa.create(
            {
                "apiVersion": "eventing.knative.dev/v1",
                "kind": "Broker",
                "metadata": {"name": "default", "namespace": "default"},
            }
        )
        await asyncio.to_thread(kawa.wait_ready, "brokers", "default")
        before = memory(kawa.proc.pid, "VmRSS")
        answers: collections.Counter[str] = collections.Counter()
        await asyncio.gather(*(slow_body(kawa.url, answers) for _ in range(BODIES)))
        peak = memory(kawa.proc.pid, "VmHWM") - before
        # the budget holds four bodies; the rest are refused as they pass it
        assert answers["held"] <= BUDGET // (SIZE - 1) + 1, answers
        assert answers["503"] >= BODIES // 2, answers
        # unbounded, the 60 bodies alone are 240 MiB; bounded, the budget (16 MiB) and what
        # is on its way through 60 connections (some 20 MiB), with room for a loaded machine
        assert peak < 120 * MIB, (peak // MIB, answers)
