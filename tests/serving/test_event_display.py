"""The built-in event-display as kawa runs it for an ``event_display`` image: a real child
process (``python -m kawa.serving.event_display``) on ``$PORT``, driven over real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from kawa.cloudevents import http as ce_http
from kawa.cloudevents.event import CloudEvent

from ..waiting import wait_until


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def display(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Path, Path]]:
    port = _free_port()
    out, err = tmp_path / "out", tmp_path / "err"
    with out.open("wb") as out_f, err.open("wb") as err_f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kawa.serving.event_display"],
            env={**os.environ, "PORT": str(port)},
            stdout=out_f,
            stderr=err_f,
        )

    def listening() -> bool:
        assert proc.poll() is None, err.read_text()
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
        except OSError:
            return False
        return True

    wait_until(listening, 15, "event-display never listened", every=0.01)
    try:
        yield f"http://127.0.0.1:{port}", proc, out, err
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _event(id_: str) -> CloudEvent:
    return CloudEvent(
        {
            "specversion": "1.0",
            "id": id_,
            "source": "/test/display",
            "type": "dev.knative.apiserver.resource.add",
            "datacontenttype": "application/json",
        },
        b'{"reason": "Scheduled"}',
    )


async def test_prints_binary_structured_and_batch_events_on_one_connection(
    display: tuple[str, subprocess.Popen[bytes], Path, Path],
) -> None:
    url, proc, out, _ = display
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector) as session:
        headers, body = ce_http.to_binary(_event("b-1"))
        async with session.post(url + "/", data=body, headers=headers) as resp:
            assert resp.status == 202
        headers, body = ce_http.to_structured(_event("s-2"))
        async with session.post(url + "/any/path", data=body, headers=headers) as resp:
            assert resp.status == 202

        async def chunks() -> object:
            yield body[:10]
            yield body[10:]

        async with session.post(url + "/", data=chunks(), headers=headers) as resp:
            assert resp.status == 202
        async with session.get(url + "/healthz") as resp:
            assert resp.status == 200
            assert await resp.text() == "ok\n"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    text = out.read_text()
    assert text.count("☁️  cloudevents.Event") == 3
    assert "id: b-1" in text
    assert "id: s-2" in text
    assert "type: dev.knative.apiserver.resource.add" in text
    assert '"reason": "Scheduled"' in text


async def test_rejects_a_request_that_is_not_a_cloudevent(
    display: tuple[str, subprocess.Popen[bytes], Path, Path],
) -> None:
    url, proc, out, err = display
    async with aiohttp.ClientSession() as session:
        async with session.post(url + "/", data=b"hello", headers={"ce-id": "x"}) as resp:
            assert resp.status == 400
        async with session.delete(url + "/") as resp:
            assert resp.status == 405
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)
    assert "event-display: rejected a request:" in err.read_text()
    assert "cloudevents.Event" not in out.read_text()


def test_a_bad_port_is_a_clear_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "kawa.serving.event_display"],
        env={**os.environ, "PORT": "eighty"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 2
    assert "PORT must be a port number, not 'eighty'" in proc.stderr
    assert "Traceback" not in proc.stderr
