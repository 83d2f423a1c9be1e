"""Request bodies within the server's bounds (kawa.transport.bodies), on a real kawa over
loopback: a body that stalls gets 408 (broker ingress, API, routed Service), one that keeps
arriving is read however long it takes, and bodies past the shared budget get 503 with
Retry-After, the budget coming back as requests end. The memory a real ``kawa up`` process
takes for many slow large bodies is measured in ``test_rss``."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

import aiohttp
import orjson
from aiohttp import web

from kawa.runtime import Running
from kawa.transport import bodies
from kawa.transport.server import BodyBudget, BoundedSite, ServerLimits

from ..serving.dataplane_support import REVISIONS, ROUTES, revision, route, running_plane
from ..waiting import eventually
from .limits_support import Raw, kawa_with

SHORT: Final = 0.5
LONG: Final = 10.0
INGRESS: Final = "/brokers/default/default"
CONFIGMAPS: Final = "/api/v1/namespaces/default/configmaps"
EVENT_HEADERS: Final = (
    "ce-specversion: 1.0\r\nce-id: 1\r\nce-source: /t\r\nce-type: t\r\n"
    "Content-Type: application/octet-stream\r\n"
)


def head(path: str, length: int, headers: str = EVENT_HEADERS) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: kawa\r\n{headers}Content-Length: {length}\r\n\r\n".encode()
    )


async def ready_broker(kawa: Running) -> None:
    headers = {"Authorization": f"Bearer {kawa.token}"}
    brokers = f"{kawa.url}/apis/eventing.knative.dev/v1/namespaces/default/brokers"
    broker = {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker"}
    async with aiohttp.ClientSession(headers=headers) as session:
        body = dict(broker, metadata={"name": "default"})
        async with session.post(brokers, json=body) as created:
            assert created.status == 201, await created.text()

        async def ready() -> bool:
            async with session.get(f"{brokers}/default") as got:
                conditions = (await got.json()).get("status", {}).get("conditions", [])
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

        await eventually(ready, LONG, "the broker never became Ready")


async def test_a_stalled_body_gets_408_and_its_connection_is_closed(tmp_path: Path) -> None:
    limits = ServerLimits(header_timeout=LONG, idle_timeout=LONG, body_timeout=SHORT)
    async with kawa_with(tmp_path, limits) as kawa:
        ingress = await Raw.open(kawa.url)
        await ingress.send(head(INGRESS, 1000) + b"x" * 10)
        answer = await ingress.response()
        assert answer.status == 408
        assert answer.headers["connection"] == "close"
        assert "nothing of it arrived for 0.5s" in orjson.loads(answer.body)["error"]
        await ingress.closed(LONG)
        await ingress.close()
        # the API on the HTTPS port: a Kubernetes Status
        api = await Raw.open(kawa.api_url)
        token = f"Authorization: Bearer {kawa.token}\r\nContent-Type: application/json\r\n"
        await api.send(head(CONFIGMAPS, 1000, token) + b'{"metadata": ')
        answer = await api.response()
        status = orjson.loads(answer.body)
        assert (answer.status, status["reason"], status["code"]) == (408, "Timeout", 408)
        await api.closed(LONG)
        await api.close()


async def test_a_body_that_keeps_arriving_is_read_however_long_it_takes(tmp_path: Path) -> None:
    limits = ServerLimits(header_timeout=LONG, idle_timeout=LONG, body_timeout=SHORT)
    async with kawa_with(tmp_path, limits) as kawa:
        await ready_broker(kawa)
        raw = await Raw.open(kawa.url)
        pieces = 10
        await raw.send(head(INGRESS, pieces * 100))
        for _ in range(pieces):  # 2s in all, four times the body timeout, never stalling
            await asyncio.sleep(0.2)
            await raw.send(b"y" * 100)
        assert (await raw.response()).status == 202
        await raw.close()


async def test_a_body_the_budget_has_no_room_for_gets_503_on_either_port(tmp_path: Path) -> None:
    limits = ServerLimits(max_buffered_bytes=50_000)
    async with kawa_with(tmp_path, limits, max_event_size=100_000) as kawa:
        await ready_broker(kawa)
        token = f"Authorization: Bearer {kawa.token}\r\nContent-Type: application/json\r\n"
        refused = []
        for url, path, headers in (
            (kawa.url, INGRESS, EVENT_HEADERS),
            (kawa.api_url, CONFIGMAPS, token),
        ):
            raw = await Raw.open(url)
            await raw.send(head(path, 60_000, headers) + b" " * 60_000)
            refused.append(await raw.response())
            await raw.close()
        assert [(r.status, r.headers["retry-after"]) for r in refused] == [(503, "1")] * 2
        assert "limit is 50000" in orjson.loads(refused[0].body)["error"]
        assert orjson.loads(refused[1].body)["reason"] == "ServiceUnavailable"
        # what the refused requests had taken is back: bodies that fit are read
        raw = await Raw.open(kawa.url)
        await raw.send(head(INGRESS, 40_000) + b"z" * 40_000)
        assert (await raw.response()).status == 202
        await raw.close()


async def test_a_routed_service_answers_408_to_a_stalled_body() -> None:
    limits = ServerLimits(body_timeout=SHORT)
    async with running_plane(limits=limits) as plane:
        await plane.add(REVISIONS, revision("svc-00001"))
        await plane.add(ROUTES, route("svc", [{"revisionName": "svc-00001", "percent": 100}]))
        raw = await Raw.open(plane.url)
        await raw.send(head("/serving/ns/svc/x", 1000, "") + b"partial")
        answer = await raw.response()
        assert (answer.status, answer.headers["connection"]) == (408, "close")
        assert b"nothing of it arrived" in answer.body
        await raw.close()
        async with plane.session.post(f"{plane.url}/serving/ns/svc/x", data=b"whole") as resp:
            assert resp.status == 200
            answer_json: dict[str, Any] = await resp.json()
        assert answer_json["revision"] == "svc-00001"


@contextlib.asynccontextmanager
async def echo_server(limits: ServerLimits) -> AsyncIterator[tuple[str, BodyBudget]]:
    """An aiohttp app on a bounded listener whose handler reads bodies of up to 100,000
    bytes and answers their length; yields its URL and its budget."""

    async def echo(request: web.Request) -> web.Response:
        try:
            async with bodies.read(request, 100_000) as body:
                return web.Response(text=str(len(body)))
        except bodies.BodyError as err:
            return web.Response(status=err.status, text=str(err), headers=err.headers)

    app = web.Application()
    app.router.add_post("/", echo)
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    sock = socket.create_server(("127.0.0.1", 0))
    sock.setblocking(False)
    budget = BodyBudget(limits.max_buffered_bytes)
    await BoundedSite(runner, sock, limits=limits, budget=budget).start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", budget
    finally:
        await runner.cleanup()


async def test_the_budget_holds_the_bytes_in_flight_and_gets_them_all_back() -> None:
    async with echo_server(ServerLimits(max_buffered_bytes=200_000)) as (url, budget):

        async def holds(size: int) -> bool:
            return budget.held == size

        part = b"p" * 45_000
        held = []
        for _ in range(4):
            raw = await Raw.open(url)
            await raw.send(head("/", 100_000, "") + part)
            held.append(raw)
        await eventually(lambda: holds(180_000), LONG, "the four parts are not counted")
        newcomer = await Raw.open(url)
        await newcomer.send(head("/", 100_000, "") + part)
        answer = await newcomer.response()
        assert (answer.status, answer.headers["retry-after"]) == (503, "1")
        await newcomer.close()
        # a body in progress whose next bytes have no room is refused as well
        await held[0].send(b"r" * 55_000)
        assert (await held[0].response()).status == 503
        await eventually(lambda: holds(135_000), LONG, "the refused body kept its bytes")
        # one that fits is read whole, and gives its bytes back once answered
        await held[1].send(b"r" * 55_000)
        answer = await held[1].response()
        assert (answer.status, answer.body) == (200, b"100000")
        await eventually(lambda: holds(90_000), LONG, "the answered body kept its bytes")
        # chunked bodies count as they arrive
        chunked = await Raw.open(url)
        await chunked.send(
            b"POST / HTTP/1.1\r\nHost: kawa\r\nTransfer-Encoding: chunked\r\n\r\n"
            + f"{30_000:x}\r\n".encode()
            + b"c" * 30_000
            + b"\r\n"
        )
        await eventually(lambda: holds(120_000), LONG, "the chunked body is not counted")
        # clients that go away give their bytes back
        for raw in (*held, chunked):
            await raw.close()
        await eventually(lambda: holds(0), LONG, "bytes of closed connections stayed held")
        # over the size limit: 413, announced or not
        for request in (
            head("/", 100_001, "") + b"x",
            b"POST / HTTP/1.1\r\nHost: kawa\r\nTransfer-Encoding: chunked\r\n\r\n"
            + f"{100_001:x}\r\n".encode()
            + b"x" * 100_001
            + b"\r\n0\r\n\r\n",
        ):
            raw = await Raw.open(url)
            await raw.send(request)
            assert (await raw.response()).status == 413
            await raw.close()
        assert budget.held == 0
