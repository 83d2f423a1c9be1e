"""What the sample programs share: their port, their log lines, running an aiohttp app.

Every server listens on ``$PORT`` (default 8080, as Knative's samples) on
``$KAWA_LISTEN_HOST``, else ``$KAWA_POD_IP`` (the Pod's own address, which kawa's kubelet
gives it: ADR 0030), else ``127.0.0.1``, and leaves at once on SIGTERM. Log lines go to stderr
with a timestamp, as Go's ``log`` package writes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Mapping
from typing import Final

from aiohttp import web

DEFAULT_PORT: Final = 8080
DEFAULT_HOST: Final = "127.0.0.1"
HOST_ENV: Final = "KAWA_LISTEN_HOST"
POD_IP_ENV: Final = "KAWA_POD_IP"


def listen_host(env: Mapping[str, str]) -> str:
    """The address a sample server listens on (see the module)."""
    return env.get(HOST_ENV) or env.get(POD_IP_ENV) or DEFAULT_HOST


def log(message: str) -> None:
    """One log line on stderr, stamped like Go's ``log`` (``2006/01/02 15:04:05``)."""
    stamp = time.strftime("%Y/%m/%d %H:%M:%S")
    print(f"{stamp} {message}", file=sys.stderr, flush=True)


def listen_port(program: str) -> int:
    """``$PORT`` as a port number; exit 2 with a message when it is not one."""
    raw = os.environ.get("PORT", "") or str(DEFAULT_PORT)
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        print(f"{program}: PORT must be a port number, not {raw!r}", file=sys.stderr)
        raise SystemExit(2)
    return port


async def start_app(app: web.Application, port: int, host: str = DEFAULT_HOST) -> web.AppRunner:
    """``app`` listening on ``host:port`` (port 0: a free one); ``cleanup()`` the runner to stop."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port a started runner listens on."""
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    raise RuntimeError("the app is not listening on a TCP port")


def serve_forever(app: web.Application, program: str) -> None:
    """Run ``app`` on ``$PORT`` until SIGTERM or Ctrl-C (the ``main()`` of a server)."""
    port = listen_port(program)
    host = listen_host(os.environ)

    async def run() -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, exit_now)
        runner = await start_app(app, port, host)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


def exit_now() -> None:
    """SIGTERM: every answered request is complete; leave at once."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
