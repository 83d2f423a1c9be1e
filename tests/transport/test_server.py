"""The connection bounds of kawa's HTTP listeners (kawa.transport.server), on a real kawa
over loopback with small limits: heads that trickle and connections that say nothing are
closed after the header timeout, idle keep-alive connections after the idle timeout, one
connection over the cap gets 503 while the port goes on serving, and a watch that streams
(or waits) longer than every timeout is not cut."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Final

import aiohttp
import orjson
import pytest
from click.testing import CliRunner

from kawa.cli.main import main
from kawa.runtime import Running
from kawa.transport.server import ServerLimits, fit_file_limit

from ..waiting import eventually
from .limits_support import Raw, client_tls, kawa_with, request

SHORT: Final = 0.5
"""The timeout under test, in seconds: closing must come after it, and well before LONG."""
LONG: Final = 10.0
"""The other timeouts, and how long a test waits for what must happen (a loaded machine)."""
IDLE: Final = 3.0
"""The idle timeout of the keep-alive test: its busy connection, a request every 0.2 s (a
TLS one on the API port), must never look idle on a loaded machine. The client shares kawa's
loop, so a stall of that loop longer than IDLE - 0.2 s delays the client's next request past
the deadline: 0.5 s failed once, 1.5 s once in a full suite (connection reset)."""
HEALTH: Final = request("GET", "/healthz")
PORTS: Final = ("url", "api_url")


def url_of(running: Running, port: str) -> str:
    return str(getattr(running, port))


async def healthy(url: str) -> bool:
    """A new connection gets a normal answer."""
    raw = await Raw.open(url)
    try:
        await raw.send(HEALTH)
        return (await raw.response()).status == 200
    finally:
        await raw.close()


@pytest.mark.parametrize("port", PORTS)
async def test_heads_that_trickle_get_408_and_are_closed_after_the_header_timeout(
    tmp_path: Path, port: str
) -> None:
    async with kawa_with(tmp_path, ServerLimits(header_timeout=SHORT, idle_timeout=LONG)) as kawa:
        url = url_of(kawa, port)
        conns, started = [], []
        for _ in range(20):  # each starts its head at once: the timer runs from the accept
            raw = await Raw.open(url)
            started.append(time.monotonic())
            await raw.send(b"POST /brokers/default/default HTTP/1.1\r\nHost: kawa\r\nx-slow: ")
            conns.append(raw)

        async def trickle(raw: Raw) -> None:  # a byte of a header every 0.1s, never the end
            with contextlib.suppress(ConnectionError, OSError):
                for _ in range(int(LONG / 0.1)):
                    await asyncio.sleep(0.1)
                    await raw.send(b"a")

        tricklers = [asyncio.create_task(trickle(raw)) for raw in conns]
        try:
            results = await asyncio.gather(*(raw.closed(LONG) for raw in conns))
        finally:
            for task in tricklers:
                task.cancel()
            await asyncio.gather(*tricklers, return_exceptions=True)
        for start, (closed, received) in zip(started, results, strict=True):
            assert received.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), received
            assert b"did not arrive within 0.5s" in received
            assert SHORT * 0.8 <= closed - start < LONG
        assert await healthy(url)
        for raw in conns:
            await raw.close()


@pytest.mark.parametrize("port", PORTS)
async def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(
    tmp_path: Path, port: str
) -> None:
    async with kawa_with(tmp_path, ServerLimits(header_timeout=SHORT, idle_timeout=LONG)) as kawa:
        url = url_of(kawa, port)
        # no request, and on the HTTPS port not even a TLS handshake
        start = time.monotonic()
        silent = [await Raw.open(url, tls=False) for _ in range(10)]
        for closed, received in await asyncio.gather(*(raw.closed(LONG) for raw in silent)):
            assert received == b""
            assert SHORT * 0.8 <= closed - start < LONG
        for raw in silent:
            await raw.close()
        if port == "api_url":  # a handshake, then nothing: closed the same way
            raw = await Raw.open(url)
            _, received = await raw.closed(LONG)
            assert received == b""
            await raw.close()


async def test_a_head_that_arrives_in_time_in_pieces_is_served(tmp_path: Path) -> None:
    # 0.3 s of pieces within a 5 s header timeout: room for a loaded machine's late wake-ups
    # (with 2.5 s, a full suite on the 2-core machine once lost the connection mid-head)
    async with kawa_with(tmp_path, ServerLimits(header_timeout=5.0, idle_timeout=LONG)) as kawa:
        raw = await Raw.open(kawa.url)
        for piece in (b"GET /heal", b"thz HTTP/1.1\r\nHo", b"st: kawa\r\n", b"\r\n"):
            await raw.send(piece)
            await asyncio.sleep(0.1)
        assert (await raw.response()).body == b"ok"
        # the next request on the kept-alive connection has its own time, from its first byte
        await asyncio.sleep(5.2)
        await raw.send(HEALTH)
        assert (await raw.response()).body == b"ok"
        await raw.close()


async def test_a_head_begun_before_the_idle_timeout_has_the_header_timeout(tmp_path: Path) -> None:
    # 4 s of header timeout against 1 s of waiting: a 1.5 s one fired once on a loaded machine
    async with kawa_with(tmp_path, ServerLimits(header_timeout=4.0, idle_timeout=SHORT)) as kawa:
        raw = await Raw.open(kawa.url)
        await raw.send(HEALTH)
        assert (await raw.response()).status == 200
        await raw.send(b"GET /hea")  # well within the idle timeout
        await asyncio.sleep(SHORT * 2)  # past the idle timeout, within the header timeout
        await raw.send(b"lthz HTTP/1.1\r\nHost: kawa\r\n\r\n")
        assert (await raw.response()).body == b"ok"
        await raw.close()


@pytest.mark.parametrize("port", PORTS)
async def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(
    tmp_path: Path, port: str
) -> None:
    async with kawa_with(tmp_path, ServerLimits(header_timeout=LONG, idle_timeout=IDLE)) as kawa:
        url = url_of(kawa, port)
        idle = await Raw.open(url)
        await idle.send(HEALTH)
        response = await idle.response()
        answered = time.monotonic()
        assert (response.status, response.headers.get("connection")) == (200, None)
        closing = asyncio.create_task(idle.closed(LONG))
        busy = await Raw.open(url)
        try:
            for _ in range(int(IDLE / 0.2) + 5):  # every 0.2 s, longer than the idle timeout
                await busy.send(HEALTH)
                assert (await busy.response()).status == 200
                await asyncio.sleep(0.2)
            closed, received = await closing
            assert received == b""
            assert IDLE * 0.8 <= closed - answered < LONG
        finally:  # a failure leaves no open socket for a later test's warnings
            closing.cancel()
            await busy.close()
            await idle.close()


@pytest.mark.parametrize("port", PORTS)
async def test_a_request_sent_in_time_is_served_when_the_loop_checks_the_idle_timeout_late(
    tmp_path: Path, port: str
) -> None:
    """The client's next request is written before the idle deadline, but the loop is blocked
    past it (a loaded machine): the deadline's check and the bytes come due together, and the
    bytes win (closing would reset the connection under the client's request)."""
    async with kawa_with(tmp_path, ServerLimits(header_timeout=LONG, idle_timeout=SHORT)) as kawa:
        raw = await Raw.open(url_of(kawa, port))
        await raw.send(HEALTH)
        assert (await raw.response()).status == 200
        loop = asyncio.get_running_loop()
        loop.call_later(SHORT / 2, raw.writer.write, HEALTH)  # due with the idle timer
        await asyncio.sleep(0)
        time.sleep(SHORT * 2)  # noqa: ASYNC251 (the loop is busy past both, on purpose)
        response = await raw.response()
        assert (response.status, response.body) == (200, b"ok")
        await raw.close()


@pytest.mark.parametrize("port", PORTS)
async def test_a_connection_over_the_cap_gets_503_and_the_port_serves_on(
    tmp_path: Path, port: str
) -> None:
    limits = ServerLimits(header_timeout=LONG, idle_timeout=LONG, max_connections=10)
    async with kawa_with(tmp_path, limits) as kawa:
        url = url_of(kawa, port)
        held = [await Raw.open(url) for _ in range(10)]
        for raw in held:  # each served once, then kept alive (idle)
            await raw.send(HEALTH)
            assert (await raw.response()).status == 200
        for _ in range(3):
            extra = await Raw.open(url)
            await extra.send(HEALTH)
            refused = await extra.response()
            assert refused.status == 503
            assert refused.headers["connection"] == "close"
            assert refused.headers["retry-after"] == "1"
            assert b"limit of 10 connections" in refused.body
            _, rest = await extra.closed(LONG)
            assert rest == b""
            await extra.close()
        # the held connections still work, and a freed slot is taken by the next client
        await held[0].send(HEALTH)
        assert (await held[0].response()).status == 200
        await held.pop().close()
        assert await eventually(lambda: healthy(url), LONG, "a freed slot was never served")
        for raw in held:
            await raw.close()
        # every connection closed frees its slot: the cap holds again for ten new ones
        await eventually(lambda: all_served(url, 10), LONG, "the slots were not all freed")


async def all_served(url: str, count: int) -> bool:
    conns = [await Raw.open(url) for _ in range(count)]
    try:
        for raw in conns:
            await raw.send(HEALTH)
        statuses = [(await raw.response()).status for raw in conns]
        return statuses == [200] * count
    finally:
        for raw in conns:
            await raw.close()


async def test_a_watch_is_not_cut_by_any_timeout(tmp_path: Path) -> None:
    limits = ServerLimits(header_timeout=SHORT, idle_timeout=SHORT, body_timeout=SHORT)
    async with kawa_with(tmp_path, limits) as kawa:
        headers = {"Authorization": f"Bearer {kawa.token}"}
        configmaps = f"{kawa.api_url}/api/v1/namespaces/default/configmaps"
        # the creates each on a new connection: a kept-alive one idles past the idle timeout
        writer = aiohttp.TCPConnector(ssl=client_tls(), force_close=True)
        async with (
            aiohttp.ClientSession(headers=headers, connector=writer) as writes,
            aiohttp.ClientSession(
                headers=headers, connector=aiohttp.TCPConnector(ssl=False)
            ) as reads,
        ):
            timeout = aiohttp.ClientTimeout(total=LONG * 2)
            async with reads.get(f"{configmaps}?watch=1", timeout=timeout) as watch:
                assert watch.status == 200
                seen: list[str] = []
                for n in range(3):
                    # silent for three times every timeout, then an event: still streaming
                    await asyncio.sleep(SHORT * 3 if n == 0 else SHORT)
                    body = {"metadata": {"name": f"c{n}"}, "data": {"n": str(n)}}
                    async with writes.post(configmaps, json=body) as created:
                        assert created.status == 201, await created.text()
                    line = await asyncio.wait_for(watch.content.readline(), LONG)
                    seen.append(orjson.loads(line)["object"]["metadata"]["name"])
                assert seen == ["c0", "c1", "c2"]


def test_the_flags_of_kawa_up_and_their_defaults(tmp_path: Path) -> None:
    shown = CliRunner().invoke(main, ["up", "--help"])
    assert shown.exit_code == 0, shown.output
    help_text = " ".join(shown.output.split())
    for flag, default in (
        ("--header-timeout", "10.0"),
        ("--idle-timeout", "60.0"),
        ("--body-timeout", "60.0"),
        ("--max-connections", "1000"),
        ("--max-buffered-bytes", "134217728"),
    ):
        assert flag in help_text
        assert f"[default: {default}" in help_text.split(flag, 1)[1], flag
    data_dir = tmp_path / "data"
    refused = CliRunner().invoke(
        main,
        [
            "up",
            f"--data-dir={data_dir}",
            "--max-event-size=2000000",
            "--max-buffered-bytes=1000000",
        ],
    )
    assert refused.exit_code == 2, refused.output
    assert "--max-buffered-bytes" in refused.output
    assert "below --max-event-size (2000000)" in refused.output
    assert not data_dir.exists()


def test_the_open_file_limit_is_fitted_to_the_caps_or_named() -> None:
    assert fit_file_limit(1) is None  # 2 + 512 files: within any limit kawa can run under
    # more files than any kernel allows (fs.nr_open is below 2**31)
    warning = fit_file_limit(2 * 10**9)
    assert warning is not None
    assert "--max-connections 2000000000" in warning
    assert f"({4 * 10**9 + 512})" in warning
    assert "ulimit -n" in warning
