"""Running one of kawa's Knative sample programs as kawa does: a child process
(``python -m kawa.samples.<name>``) with its environment, driven over real HTTP on loopback;
and a CloudEvents sink (an aiohttp server in the test) that records what it is sent."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from kawa.cloudevents import http as ce_http
from kawa.cloudevents.event import CloudEvent

from ..waiting import wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Program:
    proc: subprocess.Popen[bytes]
    port: int
    stderr: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.stderr.read_text(errors="replace")


@contextmanager
def program(
    module: str,
    tmp_path: Path,
    env: dict[str, str] | None = None,
    args: Sequence[str] = (),
    listens: bool = True,
) -> Iterator[Program]:
    """``python -m kawa.samples.<module> args`` with ``env`` on a free ``$PORT``; waits until
    it listens (when ``listens``) and kills it afterwards."""
    port = free_port()
    err = tmp_path / f"{module}.stderr"
    with err.open("wb") as err_f:
        proc = subprocess.Popen(
            [sys.executable, "-m", f"kawa.samples.{module}", *args],
            env={**os.environ, "PORT": str(port), **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=err_f,
        )
    running = Program(proc, port, err)

    def listening() -> bool:
        assert proc.poll() is None, running.log()
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
        except OSError:
            return False
        return True

    try:
        if listens:
            wait_until(listening, 20, f"{module} never listened", every=0.02)
        yield running
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@dataclass
class Sink:
    """A CloudEvents receiver answering ``status`` (202) and recording each event."""

    status: int = 202
    events: list[CloudEvent] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    url: str = ""
    first_statuses: list[int] = field(default_factory=list)
    """Statuses of the first requests, in order (then ``status``)."""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.headers.append(dict(request.headers))
        self.events.extend(ce_http.from_http_batch(request.headers, body))
        if self.first_statuses:
            return web.Response(status=self.first_statuses.pop(0))
        return web.Response(status=self.status)


async def start_sink(sink: Sink) -> web.AppRunner:
    app = web.Application()
    app.router.add_post("/{tail:.*}", sink.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = next(a[1] for a in runner.addresses if isinstance(a, tuple))
    sink.url = f"http://127.0.0.1:{port}/sink"
    return runner
