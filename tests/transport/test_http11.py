"""The HTTP/1.1 client (delivery's and the serving router's) against real servers on
127.0.0.1 (aiohttp and scripted ones)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from kawa.transport.http11 import (
    ConnectError,
    HttpClient,
    InvalidURLError,
    NoResponseError,
    ProtocolError,
)

from ..delivery.delivery_support import Receiver, reply, serve
from ..waiting import eventually
from .raw_server import Answer, ok, serve_raw

HEADERS = {"ce-id": "1", "Prefer": "reply"}

Script = Callable[[int, int, bytes], Answer]


raw = serve_raw


@contextlib.asynccontextmanager
async def client(**kw: int | float) -> AsyncIterator[HttpClient]:
    c = HttpClient(**kw)  # type: ignore[arg-type]
    try:
        yield c
    finally:
        await c.close()


async def pool_empty(c: HttpClient) -> None:
    """Wait until the client holds no connection (a closed one is forgotten when its close
    arrives, a broken one at once)."""

    async def empty() -> bool:
        return c.open_connections == 0

    await eventually(empty, 5.0, f"the client still holds {c.open_connections} connection(s)")


def always(answer: Answer) -> Script:
    return lambda conn, n, request: answer


# --- the request on the wire and keep-alive ----------------------------------------------------


async def test_request_on_the_wire() -> None:
    async with raw(always(ok())) as server, client() as c:
        await c.post(server.url, HEADERS, b"hello", 5.0)
    port = server.url.split(":")[2].split("/")[0]
    assert server.requests == [
        b"POST /path?q=1 HTTP/1.1\r\nHost: 127.0.0.1:" + port.encode() + b"\r\n"
        b"ce-id: 1\r\nPrefer: reply\r\nContent-Length: 5\r\n\r\nhello"
    ]


async def test_connect_to_keeps_the_urls_host() -> None:
    async with raw(always(ok())) as server, client() as c:
        address = server.url.split("/")[2].split(":")
        mapped = (address[0], int(address[1]))
        c.connect_to = lambda host, port: mapped if host.endswith(".svc.cluster.local") else None
        await c.post("http://web.default.svc.cluster.local/x", HEADERS, b"", 5.0)
        await c.post("http://web.default.svc.cluster.local:8080/y", HEADERS, b"", 5.0)
    assert [r.split(b"\r\n")[:2] for r in server.requests] == [
        [b"POST /x HTTP/1.1", b"Host: web.default.svc.cluster.local"],
        [b"POST /y HTTP/1.1", b"Host: web.default.svc.cluster.local:8080"],
    ]


async def test_keep_alive_reuses_one_connection_with_aiohttp() -> None:
    async for receiver in serve(Receiver(default=reply(202, b"ok"))):
        async with client() as c:
            for _ in range(20):
                response = await c.post(receiver.url, HEADERS, b"x", 5.0)
                assert (response.status, response.body) == (202, b"ok")
            assert c.open_connections == 1
        assert len({r.peer for r in receiver.requests}) == 1
        assert len(receiver.requests) == 20


async def test_concurrent_requests_get_separate_connections() -> None:
    async with raw(always(ok(b"r"))) as server, client() as c:
        results = await asyncio.gather(*(c.post(server.url, HEADERS, b"x", 5.0) for _ in range(10)))
        assert [r.body for r in results] == [b"r"] * 10
        assert server.connections == 10
        assert c.open_connections == 10
        # then all ten are reused
        await asyncio.gather(*(c.post(server.url, HEADERS, b"x", 5.0) for _ in range(10)))
        assert server.connections == 10


async def test_overall_connection_limit() -> None:
    async with raw(always(ok(b"r"))) as server, client(limit=2) as c:
        results = await asyncio.gather(*(c.post(server.url, HEADERS, b"x", 5.0) for _ in range(9)))
        assert [r.body for r in results] == [b"r"] * 9
        assert server.connections <= 2


# --- response framing --------------------------------------------------------------------------


async def test_chunked_response_with_trailers_in_pieces() -> None:
    pieces = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n",
        b"5;ext=1\r",
        b"\nhel",
        b"lo\r\n1\r\n \r\n",
        b"5\r\nworld\r\n0\r\nX-Trailer: a\r\n",
        b"X-Other: b\r\n\r\n",
    )
    async with raw(always(Answer(pieces))) as server, client() as c:
        for _ in range(2):
            response = await c.post(server.url, HEADERS, b"x", 5.0)
            assert response.status == 200
            assert response.body == b"hello world"
            assert response.headers["content-type"] == "text/plain"
        assert server.connections == 1  # reused after a chunked body


async def test_http10_body_until_close() -> None:
    answer = Answer(
        (b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\npart one, ", b"two"), True
    )
    async with raw(always(answer)) as server, client() as c:
        for _ in range(2):
            response = await c.post(server.url, HEADERS, b"x", 5.0)
            assert response.body == b"part one, two"
        assert server.connections == 2  # never reused


async def test_connection_close_response_is_not_reused() -> None:
    async with raw(always(ok(b"bye", "Connection: close\r\n"))) as server, client() as c:
        for _ in range(3):
            assert (await c.post(server.url, HEADERS, b"x", 5.0)).body == b"bye"
        assert server.connections == 3


async def test_interim_100_continue_is_skipped() -> None:
    answer = Answer(
        (b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
    )
    async with raw(always(answer)) as server, client() as c:
        response = await c.post(server.url, HEADERS, b"x", 5.0)
        assert (response.status, response.body) == (201, b"ok")


async def test_headers_lower_case_and_repeated_ones_joined() -> None:
    extra = "X-Thing: 1\r\nx-THING: 2\r\nRetry-After:  7 \r\n"
    async with raw(always(ok(b"", extra))) as server, client() as c:
        response = await c.post(server.url, HEADERS, b"x", 5.0)
        assert response.headers["x-thing"] == "1, 2"
        assert response.headers["retry-after"] == "7"


async def test_a_head_seen_before_gives_each_response_headers_of_its_own() -> None:
    # the same head twice on one connection: the second is parsed from the client's cache
    extra = "X-Thing: 1\r\n"
    async with raw(always(ok(b"", extra))) as server, client() as c:
        first = await c.post(server.url, HEADERS, b"x", 5.0)
        first.headers["x-thing"] = "changed by its reader"
        second = await c.post(server.url, HEADERS, b"x", 5.0)
        assert second.headers["x-thing"] == "1"
        assert second.status == first.status
        assert len(server.requests) == 2


async def test_a_malformed_head_fails_every_time() -> None:
    async with raw(always(Answer((b"HTTP/1.1 200 OK\r\nbad line\r\n\r\n",)))) as server:
        for _ in range(2):  # a head that failed is never remembered as parsed
            async with client() as c:
                with pytest.raises(ProtocolError, match="bad header line"):
                    await c.post(server.url, HEADERS, b"x", 5.0)


async def test_204_has_no_body_and_keeps_the_connection() -> None:
    answer = Answer((b"HTTP/1.1 204 No Content\r\n\r\n",))
    async with raw(always(answer)) as server, client() as c:
        for _ in range(3):
            response = await c.post(server.url, HEADERS, b"x", 5.0)
            assert (response.status, response.body) == (204, b"")
        assert server.connections == 1


# --- stale connections -------------------------------------------------------------------------


async def test_idle_connection_closed_by_server_is_retried_once() -> None:
    async with raw(lambda conn, n, req: Answer(ok(b"r").pieces, close=True)) as server:
        async with client() as c:
            # keep-alive announced, but the server closes after each answer: the next request
            # finds the connection stale (its close not seen yet: retried once on a new one)
            # or gone (the close seen): both must work
            for close_seen in (False, False, True):
                if close_seen:
                    await pool_empty(c)
                assert (await c.post(server.url, HEADERS, b"x", 5.0)).body == b"r"
        assert len(server.requests) == 3  # nothing was sent twice to a server that processed it


async def test_stale_retry_is_not_repeated() -> None:
    def answer(conn: int, n: int, request: bytes) -> Answer:
        if (conn, n) == (0, 0):
            return ok(b"first")
        return Answer(close=True)  # from now on: the connection closes without an answer

    async with raw(answer) as server, client() as c:
        assert (await c.post(server.url, HEADERS, b"x", 5.0)).body == b"first"
        with pytest.raises(NoResponseError):
            await c.post(server.url, HEADERS, b"x", 5.0)
        assert server.connections == 2  # the reused one, then one fresh retry: not more
        assert len(server.requests) == 3
        with pytest.raises(NoResponseError):  # a fresh connection is not retried
            await c.post(server.url, HEADERS, b"x", 5.0)
        assert server.connections == 3


async def test_fresh_connection_without_response_is_not_retried() -> None:
    async with raw(always(Answer(close=True))) as server, client() as c:
        with pytest.raises(NoResponseError, match="without a response"):
            await c.post(server.url, HEADERS, b"x", 5.0)
        assert server.connections == 1


async def test_stale_idle_connection_detected_before_use() -> None:
    async with raw(lambda conn, n, req: Answer(ok(b"r").pieces, close=True)) as server:
        async with client() as c:
            await c.post(server.url, HEADERS, b"x", 5.0)
            await pool_empty(c)  # the close has arrived: the pool forgets the connection
            assert (await c.post(server.url, HEADERS, b"x", 5.0)).body == b"r"
        assert server.connections == 2


# --- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b"garbage\r\n\r\n", "bad status line"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "bad header line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\ncontent-length: 2\r\n\r\n", "conflicting"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", "CRLF"),
        (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", "101"),
    ],
)
async def test_garbage_is_a_clear_error_and_the_connection_dropped(
    wire: bytes, message: str
) -> None:
    async with raw(always(Answer((wire,)))) as server, client() as c:
        with pytest.raises(ProtocolError, match=message):
            await c.post(server.url, HEADERS, b"x", 5.0)
        await pool_empty(c)
        with pytest.raises(ProtocolError):
            await c.post(server.url, HEADERS, b"x", 5.0)
        assert server.connections == 2


async def test_head_too_large() -> None:
    answer = Answer((b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n",))
    async with raw(always(answer)) as server, client() as c:
        with pytest.raises(ProtocolError, match="head larger"):
            await c.post(server.url, HEADERS, b"x", 5.0)


async def test_closed_mid_response() -> None:
    answer = Answer((b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",), close=True)
    async with raw(always(answer)) as server, client() as c:
        with pytest.raises(ProtocolError, match="mid-response"):
            await c.post(server.url, HEADERS, b"x", 5.0)


async def test_timeout_closes_the_connection() -> None:
    def answer(conn: int, n: int, request: bytes) -> Answer:
        return Answer(stall=True) if conn == 0 else ok(b"late")

    async with raw(answer) as server, client() as c:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(TimeoutError):
            await c.post(server.url, HEADERS, b"x", 0.1)
        assert 0.09 <= loop.time() - started < 1.0
        await pool_empty(c)  # never reused
        assert (await c.post(server.url, HEADERS, b"x", 1.0)).body == b"late"
        assert server.connections == 2


async def test_each_request_on_a_kept_connection_has_its_own_deadline() -> None:
    """The connection's one timer is moved only when a deadline comes earlier: a later,
    longer deadline is not cut at an earlier request's, a shorter one is kept to."""

    def answer(conn: int, n: int, request: bytes) -> Answer:
        if n == 1:  # answered after the first request's deadline, within its own
            return Answer(ok(b"second").pieces, delay=0.4)
        return ok(b"first") if n == 0 else Answer(stall=True)

    async with raw(answer) as server, client() as c:
        loop = asyncio.get_running_loop()
        assert (await c.post(server.url, HEADERS, b"x", 0.2)).body == b"first"
        assert (await c.post(server.url, HEADERS, b"x", 5.0)).body == b"second"
        started = loop.time()
        with pytest.raises(TimeoutError):  # the timer stood at the second's 5 s deadline
            await c.post(server.url, HEADERS, b"x", 0.1)
        assert 0.09 <= loop.time() - started < 2.0
        assert server.connections == 1


async def test_timeout_mid_body() -> None:
    answer = Answer((b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",), stall=False)

    def script(conn: int, n: int, request: bytes) -> Answer:
        return answer

    async with raw(script) as server, client() as c:
        with pytest.raises(TimeoutError):
            await c.post(server.url, HEADERS, b"x", 0.1)
        assert server.connections == 1


@pytest.mark.parametrize(
    "answer",
    [
        ok(b"x" * 1001),
        Answer((b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"3e9\r\n")),
        Answer(
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",)
            + (b"1f4\r\n" + b"y" * 500 + b"\r\n",) * 3
        ),
        Answer((b"HTTP/1.0 200 OK\r\n\r\n", b"z" * 600, b"z" * 600), close=True),
    ],
    ids=["content-length", "one-chunk", "many-chunks", "until-close"],
)
async def test_body_size_cap(answer: Answer) -> None:
    async with raw(always(answer)) as server, client(max_body=1000) as c:
        with pytest.raises(ProtocolError, match="larger than 1000"):
            await c.post(server.url, HEADERS, b"x", 5.0)
        assert server.connections == 1


async def test_body_at_the_cap_is_fine() -> None:
    async with raw(always(ok(b"x" * 1000))) as server, client(max_body=1000) as c:
        assert len((await c.post(server.url, HEADERS, b"x", 5.0)).body) == 1000


async def test_connection_refused(closed_url: str) -> None:
    async with client() as c:
        with pytest.raises(ConnectError, match=r"cannot connect to 127\.0\.0\.1"):
            await c.post(closed_url, HEADERS, b"x", 5.0)
        assert c.open_connections == 0


@pytest.mark.parametrize(
    "url", ["ftp://host/x", "http:///nohost", "not a url", "http://host:99999/", "http://h/a b"]
)
async def test_invalid_urls(url: str) -> None:
    async with client() as c:
        with pytest.raises(InvalidURLError):
            c.prepare(url, HEADERS, b"")


async def test_header_injection_refused() -> None:
    async with client() as c:
        with pytest.raises(ValueError, match="line breaks"):
            c.prepare("http://127.0.0.1/", {"x-a": "1\r\nX-Injected: 2"}, b"")


async def test_closed_client_refuses_requests() -> None:
    async with raw(always(ok())) as server:
        c = HttpClient()
        await c.close()
        with pytest.raises(Exception, match="closed"):
            await c.post(server.url, HEADERS, b"x", 5.0)


# --- https -------------------------------------------------------------------------------------


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=kawa-test",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_https(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    async for receiver in serve(Receiver(default=reply(202, b"tls")), ssl_context=server_ctx):
        url = receiver.url.replace("http://", "https://")
        async with client() as plain:  # the system's CAs do not know this certificate
            with pytest.raises(ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await plain.post(url, HEADERS, b"x", 5.0)
        trusting = HttpClient(ssl_context=ssl.create_default_context(cafile=str(cert)))
        try:
            for _ in range(3):
                response = await trusting.post(url, HEADERS, b"x", 5.0)
                assert (response.status, response.body) == (202, b"tls")
            assert trusting.open_connections == 1
        finally:
            await trusting.close()
        assert receiver.requests[0].body == b"x"


async def test_a_kept_connection_serves_only_requests_verified_with_its_context(
    certificate: tuple[Path, Path],
) -> None:
    """A request that names its own context (a destination's CACerts) never takes a connection
    another context verified, nor the other way round: the pool is keyed by both."""
    cert, key = certificate
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    async for receiver in serve(Receiver(), ssl_context=server_ctx):
        url = receiver.url.replace("http://", "https://")
        first = ssl.create_default_context(cafile=str(cert))
        second = ssl.create_default_context(cafile=str(cert))
        async with client() as c:
            for context in (first, first, second, second, first):
                await c.send(c.prepare(url, HEADERS, b"x", context), 5.0)
            assert c.open_connections == 2
            with pytest.raises(ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await c.post(url, HEADERS, b"x", 5.0)  # the client's own: the system's CAs
        peers = [r.peer for r in receiver.requests]
        assert peers[0] == peers[1] == peers[4] != peers[2] == peers[3]
