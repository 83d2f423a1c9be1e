"""The lean ingress path (:mod:`kawa.transport.lean`) on a real kawa, over real sockets.

Which server answered is visible on the wire: aiohttp adds a ``Server`` header to every
response, the lean path does not. The tests hold the lean path to the ingress contract, and
hold every request it does not take (API, console, other methods, chunked bodies, ``Expect``,
HTTP/1.0, pipelined mixes, kubectl) to being served by aiohttp on the same connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from kawa.dispatch.ingress import IngressHandler, lean_pick
from kawa.runtime import Running
from kawa.transport import lean as lean_module
from kawa.transport.server import BodyBudget, BoundedSite, ServerLimits

from ..broker import broker_support, test_ingress
from ..broker.broker_support import BACKEND, broker, running_kawa
from .limits_support import Raw, Response, kawa_with, request

SHORT = 0.6
LONG = 30.0
EVENT = (
    "ce-specversion: 1.0\r\nce-id: {id}\r\nce-source: /lean\r\nce-type: lean.test\r\n"
    "Content-Type: application/json\r\n"
)


def post(path: str, id_: str = "1", body: bytes = b'{"n": 1}', extra: str = "") -> bytes:
    return request("POST", path, body=body, headers=EVENT.format(id=id_) + extra)


def lean(response: Response) -> bool:
    """Whether the lean path answered (aiohttp names itself in ``Server``)."""
    return "server" not in response.headers


@contextlib.asynccontextmanager
async def kawa_with_broker(
    tmp_path: Path, limits: ServerLimits | None = None, **config: Any
) -> AsyncIterator[Running]:
    limits = limits or ServerLimits(header_timeout=LONG, idle_timeout=LONG)
    async with kawa_with(tmp_path, limits, **config) as kawa:
        headers = {"Authorization": f"Bearer {kawa.token}"}
        async with aiohttp.ClientSession(headers=headers) as session:
            url = f"{kawa.url}/apis/eventing.knative.dev/v1/namespaces/default/brokers"
            async with session.post(url, json=broker()) as resp:
                assert resp.status == 201, await resp.text()
            raw = await Raw.open(kawa.url)
            try:
                deadline = time.monotonic() + 10
                while True:  # Ready once the data plane knows it: 202
                    await raw.send(post("/brokers/default/default", "ready"))
                    if (await raw.response()).status == 202:
                        break
                    assert time.monotonic() < deadline, "the broker never took an event"
                    await asyncio.sleep(0.05)
            finally:
                await raw.close()
        yield kawa


async def test_ingress_contract_on_the_lean_path(tmp_path: Path) -> None:
    async with kawa_with_broker(tmp_path, max_event_size=1000) as kawa:
        raw = await Raw.open(kawa.url)
        path = "/brokers/default/default"
        answers = []
        for data in (
            post(path, "a"),  # 202
            post("/brokers/default/nope", "b"),  # no such broker: 404
            request("POST", path, body=b"{}", headers="ce-id: 1\r\n"),  # not a CloudEvent: 400
            post(path, "c", body=b'{"x": "' + b"y" * 2000 + b'"}'),  # over 1000 bytes: 413
            post(path, "d", extra="ce-knativebrokerttl: 1\r\n"),  # TTL exhausted: 400
        ):
            await raw.send(data)
            answers.append(await raw.response())
        assert [a.status for a in answers] == [202, 404, 400, 413, 400]
        # a body over the limit hands the connection to aiohttp, which answers it 413: the
        # rest of that connection is aiohttp's
        assert [lean(a) for a in answers] == [True, True, True, False, False]
        assert "specversion" in json.loads(answers[2].body)["error"]
        assert answers[0].body == b""
        assert "date" in answers[0].headers
        # still on the same kept-alive connection, now aiohttp's: other methods and POSTs
        await raw.send(request("GET", path))
        other = await raw.response()
        assert (other.status, other.headers["allow"]) == (405, "POST, OPTIONS")
        await raw.send(post(path, "e"))
        assert (await raw.response()).status == 202
        await raw.close()


async def test_knative_host_forms_on_the_lean_path(tmp_path: Path) -> None:
    async with kawa_with_broker(tmp_path) as kawa:
        raw = await Raw.open(kawa.url)
        host = "Host: broker-ingress.knative-eventing.svc.cluster.local\r\n"
        for path, status, by_lean in (
            ("/default/default", 202, True),
            ("/default/other", 404, True),
            ("/only-one-part", 404, False),  # the host's 404 naming the form: aiohttp's
        ):
            data = post(path, extra=host).replace(b"Host: kawa\r\n", b"")
            await raw.send(data)
            answer = await raw.response()
            assert (answer.status, lean(answer)) == (status, by_lean), answer
        await raw.close()


async def test_pipelined_mix_is_answered_in_order(tmp_path: Path) -> None:
    """Lean requests, then one for aiohttp, then more: one write, answers in order."""
    async with kawa_with_broker(tmp_path) as kawa:
        raw = await Raw.open(kawa.url)
        path = "/brokers/default/default"
        await raw.send(
            post(path, "p1")
            + post(path, "p2")
            + request("GET", "/healthz")
            + post(path, "p3")
            + request("OPTIONS", path)
        )
        answers = [await raw.response() for _ in range(5)]
        assert [a.status for a in answers] == [202, 202, 200, 202, 200]
        assert [lean(a) for a in answers] == [True, True, False, False, False]
        assert answers[4].headers["allow"] == "POST, OPTIONS"
        await raw.close()


async def test_requests_aiohttp_serves_through_the_lean_port(tmp_path: Path) -> None:
    async with kawa_with_broker(tmp_path) as kawa:
        path = "/brokers/default/default"
        # a chunked body
        raw = await Raw.open(kawa.url)
        body = b'{"n": 2}'
        chunked = (
            f"POST {path} HTTP/1.1\r\nHost: kawa\r\n{EVENT.format(id='ch')}"
            "Transfer-Encoding: chunked\r\n\r\n"
        ).encode() + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        await raw.send(chunked)
        answer = await raw.response()
        assert (answer.status, lean(answer)) == (202, False)
        await raw.close()
        # Expect: 100-continue: the interim answer, then the body, then 202
        raw = await Raw.open(kawa.url)
        head = post(path, "ex", body=b"", extra="Expect: 100-continue\r\n")
        head = head.replace(b"Content-Length: 0", b"Content-Length: 8")
        await raw.send(head)
        interim = await raw.reader.readuntil(b"\r\n\r\n")
        assert interim.startswith(b"HTTP/1.1 100"), interim
        await raw.send(b'{"n": 3}')
        answer = await raw.response()
        assert (answer.status, lean(answer)) == (202, False)
        await raw.close()
        # HTTP/1.0 (aiohttp's, closed after the answer)
        raw = await Raw.open(kawa.url)
        await raw.send(post(path, "h10").replace(b"HTTP/1.1", b"HTTP/1.0"))
        answer = await raw.response()
        assert (answer.status, lean(answer)) == (202, False)
        await raw.closed()
        await raw.close()
        # the API with the token, on a kept-alive connection that started with a lean POST
        raw = await Raw.open(kawa.url)
        await raw.send(post(path, "k1"))
        assert lean(await raw.response())
        api = "/apis/eventing.knative.dev/v1/namespaces/default/brokers/default"
        await raw.send(request("GET", api, headers=f"Authorization: Bearer {kawa.token}\r\n"))
        answer = await raw.response()
        assert answer.status == 200
        assert json.loads(answer.body)["metadata"]["name"] == "default"
        await raw.send(request("GET", api))  # without the token: refused, as before
        assert (await raw.response()).status == 401
        await raw.close()
        # a malformed head goes to aiohttp, which answers 400
        raw = await Raw.open(kawa.url)
        await raw.send(b"POST /brokers/default/default HTTP/1.1\r\nBad Header\r\n\r\n")
        answer = await raw.response()
        assert (answer.status, lean(answer)) == (400, False)
        await raw.close()


async def test_kubectl_beside_the_lean_port(tmp_path: Path) -> None:
    """kubectl talks to the HTTPS port (it sends no token over plain HTTP), which has no lean
    path; with the lean path on the plain port it works as before."""
    async with kawa_with_broker(tmp_path) as kawa:
        done = await asyncio.to_thread(
            subprocess.run,
            [
                "kubectl",
                f"--kubeconfig={kawa.kubeconfig}",
                "get",
                "brokers.eventing.knative.dev",
                "-o",
                "name",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "broker.eventing.knative.dev/default"


async def test_bounds_on_the_lean_path(tmp_path: Path) -> None:
    limits = ServerLimits(
        header_timeout=SHORT, idle_timeout=SHORT, body_timeout=SHORT, max_buffered_bytes=500
    )
    async with kawa_with_broker(tmp_path, limits) as kawa:
        path = "/brokers/default/default"
        # a body over the byte budget: read, dropped, 503 with Retry-After; the connection stays
        raw = await Raw.open(kawa.url)
        await raw.send(post(path, "big", body=b'{"x": "' + b"y" * 800 + b'"}'))
        answer = await raw.response()
        assert (answer.status, answer.headers["retry-after"], lean(answer)) == (503, "1", True)
        await raw.send(post(path, "small"))
        assert (await raw.response()).status == 202
        # then idle: closed after the idle timeout, nothing sent
        start = time.monotonic()
        closed_at, sent = await raw.closed()
        await raw.close()
        assert sent == b""
        assert SHORT * 0.9 <= closed_at - start < LONG
        # a head that trickles: 408, closed
        raw = await Raw.open(kawa.url)
        await raw.send(b"POST /brokers/default/default HTTP/1.1\r\nHost: kawa\r\n")
        _, sent = await raw.closed()
        await raw.close()
        assert sent.startswith(b"HTTP/1.1 408"), sent
        # a body that stalls: 408, closed
        raw = await Raw.open(kawa.url)
        data = post(path, "stall", body=b'{"n": 1}')
        await raw.send(data[:-4])
        _, sent = await raw.closed()
        await raw.close()
        assert sent.startswith(b"HTTP/1.1 408"), sent
        assert b"stalled" in sent


async def test_an_event_sent_in_time_is_served_when_the_loop_checks_the_idle_timeout_late(
    tmp_path: Path,
) -> None:
    """As on aiohttp's side (tests/transport/test_server.py): the next event is written before
    the idle deadline, the loop is busy past it, and the lean path reads the event first."""
    limits = ServerLimits(header_timeout=LONG, idle_timeout=SHORT)
    async with kawa_with_broker(tmp_path, limits) as kawa:
        raw = await Raw.open(kawa.url)
        await raw.send(post("/brokers/default/default", "first"))
        answered = await raw.response()
        assert (answered.status, lean(answered)) == (202, True)
        loop = asyncio.get_running_loop()
        loop.call_later(SHORT / 2, raw.writer.write, post("/brokers/default/default", "late"))
        await asyncio.sleep(0)
        time.sleep(SHORT * 2)  # noqa: ASYNC251 (the loop is busy past both, on purpose)
        answered = await raw.response()
        assert (answered.status, lean(answered)) == (202, True)
        await raw.close()


async def test_connections_over_the_cap_get_503(tmp_path: Path) -> None:
    limits = ServerLimits(header_timeout=LONG, idle_timeout=LONG, max_connections=2)
    async with kawa_with_broker(tmp_path, limits) as kawa:
        held = [await Raw.open(kawa.url) for _ in range(2)]
        for raw in held:
            await raw.send(post("/brokers/default/default"))
            assert (await raw.response()).status == 202
        extra = await Raw.open(kawa.url)
        await extra.send(post("/brokers/default/default"))
        answer = await extra.response()
        assert answer.status == 503
        await extra.close()
        await held[0].close()
        await asyncio.sleep(0.2)
        again = await Raw.open(kawa.url)  # a place is free again: the lean path serves it
        await again.send(post("/brokers/default/default", "again"))
        answer = await again.response()
        assert (answer.status, lean(answer)) == (202, True)
        for raw in (again, held[1]):
            await raw.close()


async def test_lean_path_off_serves_all_on_aiohttp(tmp_path: Path) -> None:
    async with kawa_with_broker(tmp_path, lean_ingress=False) as kawa:
        raw = await Raw.open(kawa.url)
        await raw.send(post("/brokers/default/default"))
        answer = await raw.response()
        assert (answer.status, lean(answer)) == (202, False)
        await raw.close()


@pytest.fixture
def aiohttp_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """``running_kawa`` of the broker tests with the lean path off."""
    import kawa.runtime

    original = kawa.runtime.Config

    def config(**settings: Any) -> kawa.runtime.Config:
        return original(**{"lean_ingress": False, **settings})

    monkeypatch.setattr(broker_support, "Config", config)
    assert BACKEND.get() is None


async def test_broker_ingress_contract_with_the_lean_path_off(
    tmp_path: Path, aiohttp_only: None
) -> None:
    """tests/broker/test_ingress.py runs on the lean path (the default); here on aiohttp."""
    await test_ingress.test_ingress_status_codes(tmp_path / "codes")
    await test_ingress.test_ttl_exhausted_is_refused(tmp_path / "ttl")
    await test_ingress.test_structured_data_nested_too_deeply_is_a_400_naming_the_limit(
        tmp_path / "deep"
    )


async def test_broker_tests_run_on_the_lean_path(tmp_path: Path) -> None:
    """What the contract tests of tests/broker reach is the lean path (the default)."""
    async with running_kawa(tmp_path) as kawa:
        await kawa.apply(broker())
        await kawa.wait_ready("Broker", "default")
        async with kawa.ingress.post(
            kawa.broker_url(), data=b"{}", headers={"ce-specversion": "1.0"}
        ) as resp:
            assert resp.status == 400
            assert "Server" not in resp.headers


def test_pick_leaves_claimed_hosts_and_other_paths_to_aiohttp() -> None:
    from kawa.broker.ingress import broker_ingress
    from kawa.channels.ingress import channel_ingress

    class NoPublisher:
        async def publish(self, *args: Any, **kwargs: Any) -> None: ...

        def retry_after(self, namespace: str, name: str) -> int | None:
            return None

    brokers: IngressHandler = broker_ingress(NoPublisher(), max_event_size=100)
    channels: IngressHandler = channel_ingress(NoPublisher(), max_event_size=100)
    claimed = {"svc.ns.svc.cluster.local"}
    pick = lean_pick([brokers, channels], [lambda h: h.get("Host") in claimed])

    def target(path: str, host: str) -> tuple[Any, ...] | None:
        found = pick(path, CIMultiDictProxy(CIMultiDict(Host=host)))
        return None if found is None else (found.func.__self__, *found.args)  # type: ignore[attr-defined]

    assert target("/brokers/ns/b", "kawa:8080") == (brokers, "ns", "b")
    assert target("/channels/ns/c", "kawa") == (channels, "ns", "c")
    assert target("/brokers/ns/b", "svc.ns.svc.cluster.local") is None  # a Service's host
    assert target("/brokers/ns/b/", "kawa") is None  # not the route: aiohttp's 404
    assert target("/brokers/ns", "kawa") is None
    assert target("/apis/x/y", "kawa") is None
    assert target("/ns/b", "broker-ingress.knative-eventing.svc") == (brokers, "ns", "b")
    assert target("/", "c-kn-channel.ns.svc.cluster.local") == (channels, "ns", "c")
    # the Knative host wins over the path, as in aiohttp's front door; its 404 is aiohttp's
    assert target("/brokers/ns/b", "broker-ingress.knative-eventing") is None
    # asked again (now remembered), the same answers; a claim made since wins at once
    assert target("/brokers/ns/b", "kawa:8080") == (brokers, "ns", "b")
    claimed.add("kawa:8080")
    assert target("/brokers/ns/b", "kawa:8080") is None
    # a huge path is routed all the same, and never remembered
    long_name = "b" * 5000
    assert target(f"/brokers/ns/{long_name}", "kawa") == (brokers, "ns", long_name)


async def test_a_client_that_reads_no_answers_is_no_longer_read() -> None:
    """Pipelined requests whose answers the client never reads: once the transport's write
    buffer is full the lean path stops reading, so what it holds stays bounded."""

    async def accept(headers: lean_module.Headers, body: bytes) -> lean_module.Answer:
        return lean_module.Answer(404, b"x" * 500, "text/plain")

    front = lean_module.LeanFront(lambda path, headers: accept, max_body=1000)
    runner = web.AppRunner(web.Application())
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    site = BoundedSite(runner, sock, limits=ServerLimits(), budget=BodyBudget(10**8), front=front)
    await site.start()
    writer = None
    try:
        _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        one = b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx"
        batch = one * 1000
        with contextlib.suppress(TimeoutError):
            for _ in range(100):  # 100,000 requests: 50 MB of answers if all were served
                writer.write(batch)
                await asyncio.wait_for(writer.drain(), 2.0)
        (protocol,) = front.open
        transport = protocol._transport  # what the server holds
        assert transport is not None
        sizes = [-1]
        for _ in range(40):  # until it settles
            await asyncio.sleep(0.25)
            sizes.append(transport.get_write_buffer_size())
            if sizes[-1] == sizes[-2]:
                break
        # what was read before the pause (256 KiB of requests and a read) answered: some MB
        assert sizes[-1] < 8 * 1024 * 1024, sizes
        assert not transport.is_reading()
    finally:
        if writer is not None:
            writer.transport.abort()
        await runner.cleanup()


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_websocket_upgrade_is_handed_to_aiohttp(method: str) -> None:
    """kubectl exec and port-forward are WebSockets (GET, and POST for exec), also on a
    kubelet hop to another node's data-plane port: the lean path hands them over whole."""
    seen: list[str] = []

    async def talk(request: web.Request) -> web.WebSocketResponse:
        seen.append(request.headers.get("Upgrade", ""))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            await ws.send_str(f"echo {message.data}")
            break
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_route("*", "/ws", talk)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.setblocking(False)
    front = lean_module.LeanFront(lean_pick([], ()), max_body=1000)
    site = BoundedSite(runner, sock, limits=ServerLimits(), budget=BodyBudget(1 << 20), front=front)
    await site.start()
    try:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/ws"
        async with aiohttp.ClientSession() as session, session.ws_connect(url, method=method) as ws:
            await ws.send_str("hello")
            answer = await ws.receive(timeout=LONG)
            assert answer.data == "echo hello"
        assert seen == ["websocket"]
    finally:
        await runner.cleanup()
