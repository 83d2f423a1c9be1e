"""A broker whose event log is full: 507 with a message that says so, and events accepted
again, without a restart, once its trigger has delivered what the log holds.

The log is made full by ``kawa up --max-event-log-size`` (on SQLite the very ``SQLITE_FULL`` of
a full disk, ``tests/eventlog/test_sqlite_full.py`` shows a real full disk at the log's level;
on JetStream the stream's ``max_bytes``, which refuses new records rather than dropping old).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import web

from kawa.cloudevents import http as ce_http

from ..waiting import eventually
from .broker_support import Kawa, broker, event, running_kawa, subscriber, trigger

MIB = 1024 * 1024

pytestmark = pytest.mark.usefixtures("each_backend")


async def post(kawa: Kawa, id_: str) -> tuple[int, bytes]:
    headers, body = ce_http.to_binary(event(id_, data=b"x" * 4096))
    async with kawa.session.post(kawa.broker_url(), data=body, headers=headers) as resp:
        return resp.status, await resp.read()


async def test_a_full_log_answers_507_and_accepts_events_again_without_a_restart(
    tmp_path: Path,
) -> None:
    delivering = asyncio.Event()

    async def held(request: web.Request) -> web.StreamResponse:
        await delivering.wait()  # the subscriber is away: the events stay in the log
        return web.Response(status=202)

    config = {"max_event_log_size": MIB, "durability": "off"}
    async with running_kawa(tmp_path, **config) as kawa, subscriber() as sub:
        sub.default = held
        await kawa.apply(broker())
        await kawa.apply(trigger("t", sub.url))
        await kawa.wait_ready("Trigger", "t")

        accepted: list[str] = []
        for i in range(10_000):
            status, body = await post(kawa, str(i))
            if status != 202:
                break
            accepted.append(str(i))
        assert status == 507, body
        assert b"the event was not stored: the broker's event log is full; retry later" in body
        assert str(tmp_path).encode() not in body  # no server paths to the data plane
        assert len(accepted) > 100

        delivering.set()  # the subscriber is back: what the log holds is delivered ...
        await sub.wait_for(len(accepted), timeout=30)
        assert sorted({e.id for e in sub.events}, key=int) == accepted

        async def stored() -> bool:  # ... trimmed, and the room goes to new events
            return (await post(kawa, "after"))[0] == 202

        await eventually(stored, 30, "the broker never accepted events again", every=0.1)
        await sub.wait_for_id("after")
