"""A ``kawa up`` process settles its heap once ready (kawa.heap): under a load of events its
garbage collector neither walks the started heap (no full collection) nor runs a young
collection every few events, as CPython's default thresholds made it do (issue 18)."""

from __future__ import annotations

import asyncio
import http.client
import re
from pathlib import Path

import aiohttp
import pytest

from ..waiting import wait_until
from .e2e_support import broker, free_port, kawa_up

pytestmark = pytest.mark.slow

EVENTS = 4_000
CONCURRENCY = 64
"""With CPython's defaults the broker ingress ran ~1 young collection per 10 of them and a
full one every few hundred (measured before kawa.heap: 11,528 and 86 in a bench run)."""


def collections(metrics_url: str) -> dict[str, float]:
    """``python_gc_collections_total`` by generation, from kawa's metrics endpoint."""
    host, port = metrics_url.removeprefix("http://").split("/", 1)[0].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    found = re.findall(r'^python_gc_collections_total\{generation="(\d)"\} (\S+)$', text, re.M)
    return {generation: float(value) for generation, value in found}


async def post_concurrently(url: str, count: int, concurrency: int) -> None:
    """POST ``count`` events to ``url`` from ``concurrency`` connections at once: the events
    in flight keep their objects alive together, as a loaded broker does."""
    numbers = iter(range(count))

    async def sender(session: aiohttp.ClientSession) -> None:
        for n in numbers:
            headers = {
                "Ce-Id": f"heap-{n}",
                "Ce-Source": "test/heap",
                "Ce-Type": "heap.test",
                "Ce-Specversion": "1.0",
                "Content-Type": "application/json",
            }
            async with session.post(url, data=b'{"n": %d}' % n, headers=headers) as answer:
                assert answer.status == 202, answer.status

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(sender(session) for _ in range(concurrency)))


def test_a_loaded_kawa_up_runs_no_full_collection(tmp_path: Path) -> None:
    metrics_port = free_port()
    with kawa_up(tmp_path, "--metrics-port", str(metrics_port)) as kawa:
        assert "the started heap is frozen" in kawa.stderr
        kawa.create(broker())
        kawa.wait_ready("brokers", "default")
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        wait_until(lambda: bool(collections(metrics_url)), 10, "no GC metrics")
        before = collections(metrics_url)
        asyncio.run(post_concurrently(kawa.broker_url(), EVENTS, CONCURRENCY))
        after = collections(metrics_url)
    assert after["2"] == before["2"], (before, after)
    assert after["0"] - before["0"] < EVENTS / 100, (before, after)
