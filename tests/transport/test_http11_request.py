"""HttpClient.request: requests of any method (used by the serving router), on the wire."""

from __future__ import annotations

import pytest

from kawa.transport.http11 import HttpClient

from .raw_server import Answer, ok, serve_raw


async def test_methods_on_the_wire() -> None:
    async with serve_raw(lambda conn, n, request: ok(b"hi")) as server:
        c = HttpClient()
        try:
            headers = [("X-A", "1"), ("X-A", "2")]
            get = await c.request("GET", server.url, headers, b"", 5.0)
            put = await c.request("PUT", server.url, [], b"data", 5.0)
            post = await c.request("POST", server.url, [], b"", 5.0)
        finally:
            await c.close()
    port = server.url.split(":")[2].split("/")[0].encode()
    host = b"Host: 127.0.0.1:" + port + b"\r\n"
    assert server.requests == [
        b"GET /path?q=1 HTTP/1.1\r\n" + host + b"X-A: 1\r\nX-A: 2\r\n\r\n",
        b"PUT /path?q=1 HTTP/1.1\r\n" + host + b"Content-Length: 4\r\n\r\ndata",
        b"POST /path?q=1 HTTP/1.1\r\n" + host + b"Content-Length: 0\r\n\r\n",
    ]
    assert [r.body for r in (get, put, post)] == [b"hi"] * 3


async def test_raw_headers_keep_repeats_and_names() -> None:
    extra = "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Mixed-Case: v\r\n"
    async with serve_raw(lambda conn, n, request: ok(b"", extra)) as server:
        c = HttpClient()
        try:
            response = await c.request("GET", server.url, [], b"", 5.0)
        finally:
            await c.close()
    assert response.headers["set-cookie"] == "a=1, b=2"
    assert response.raw_headers[:3] == (
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("X-Mixed-Case", "v"),
    )


async def test_head_response_has_no_body_and_connection_is_reused() -> None:
    head = Answer((b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",))
    async with serve_raw(lambda conn, n, request: head if n == 0 else ok(b"x")) as server:
        c = HttpClient()
        try:
            first = await c.request("HEAD", server.url, [], b"", 5.0)
            second = await c.request("GET", server.url, [], b"", 5.0)
        finally:
            await c.close()
    assert (first.status, first.body, first.headers["content-length"]) == (200, b"", "100")
    assert second.body == b"x"
    assert server.connections == 1


async def test_bad_method_and_header_injection_rejected() -> None:
    c = HttpClient()
    try:
        with pytest.raises(ValueError, match="method"):
            await c.request("GE T", "http://127.0.0.1:1/", [], b"", 1.0)
        with pytest.raises(ValueError, match="line breaks"):
            await c.request("GET", "http://127.0.0.1:1/", [("X", "a\r\nY: b")], b"", 1.0)
    finally:
        await c.close()
