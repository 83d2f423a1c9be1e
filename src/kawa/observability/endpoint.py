"""The Prometheus endpoint of ``kawa up``: ``GET /metrics`` on its own loopback port.

``kawa up --metrics-port`` (default :data:`DEFAULT_PORT`; 0: a free port; -1: none) and
``--metrics-host`` (default 127.0.0.1) say where; :mod:`kawa.runtime` starts it beside the
data plane. It serves the data plane's :class:`~kawa.observability.metrics.Metrics`, the
process collector's ``process_*`` metrics and Python's ``python_gc_*`` and ``python_info``,
from a registry of its own (no global state), formatted by ``prometheus_client``.

The default port is *optional*: when something already listens there (another kawa on the
same machine), kawa logs a warning and runs without metrics. A port given on the command
line must be free, as ``--port`` must. A separate port, not a path of the ingress port:
metrics stay on loopback while ingress may listen on every address, and scraping never
competes with ingress for the connection cap. See docs/observability.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Final

from aiohttp import web
from prometheus_client import exposition
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import CollectorRegistry

from kawa.errors import KawaError
from kawa.observability.measured import Measured
from kawa.observability.metrics import Metrics
from kawa.tasks import cancel_and_wait

log = logging.getLogger(__name__)

DEFAULT_PORT: Final = 9092
"""The default metrics port (Prometheus itself takes 9090; kawa's own are 7080 and 7443)."""
DEFAULT_HOST: Final = "127.0.0.1"
BACKLOG_INTERVAL: Final = 5.0
"""Seconds between two measures of the event log (backlog, oldest age, size)."""
PATH: Final = "/metrics"
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
"""Prometheus's classic text format, which every scraper reads (kawa's names and labels need
none of the newer format's escaping)."""


class MetricsListenError(KawaError):
    """The metrics port cannot be bound."""


@dataclass(frozen=True, slots=True)
class MetricsEndpoint:
    """Where ``kawa up`` serves metrics."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    """0: a free port."""
    optional: bool = False
    """A busy port is a warning (kawa runs without metrics), not an error: the default
    port's way."""
    backlog_interval: float = BACKLOG_INTERVAL


def registry(metrics: Metrics, measured: Measured | None = None) -> CollectorRegistry:
    """A registry of the data plane's metrics and the process's."""
    found = CollectorRegistry(auto_describe=False)
    found.register(metrics)
    if measured is not None:
        found.register(measured)
    ProcessCollector(registry=found)
    GCCollector(registry=found)
    PlatformCollector(registry=found)
    return found


@contextlib.asynccontextmanager
async def serving(
    endpoint: MetricsEndpoint,
    metrics: Metrics,
    measured: Measured,
) -> AsyncIterator[str | None]:
    """Serve ``/metrics`` and keep the measured gauges fresh while the block runs; yields
    the endpoint's URL (``None`` when the optional default port was busy)."""
    sock = _listen(endpoint)
    if sock is None:
        yield None
        return
    scraped = registry(metrics, measured)

    async def scrape(_: web.Request) -> web.Response:
        return web.Response(
            body=exposition.generate_latest(scraped),
            headers={"Content-Type": CONTENT_TYPE},
        )

    app = web.Application()
    app.router.add_get(PATH, scrape)
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    refresher: asyncio.Task[None] | None = None
    try:
        await web.SockSite(runner, sock).start()
        refresher = asyncio.create_task(
            _refresh(measured, endpoint.backlog_interval), name="metrics-measure"
        )
        host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
        yield f"http://{host}:{sock.getsockname()[1]}{PATH}"
    finally:
        if refresher is not None:
            await cancel_and_wait(refresher)
        await runner.cleanup()
        sock.close()


async def _refresh(measured: Measured, interval: float) -> None:
    while True:
        try:
            await measured.refresh()
        except KawaError as err:  # the log is unreachable for now: the gauges stay as they were
            log.debug("the event log could not be measured: %s", err)
        await asyncio.sleep(interval)


def _listen(endpoint: MetricsEndpoint) -> socket.socket | None:
    family = socket.AF_INET6 if ":" in endpoint.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((endpoint.host, endpoint.port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError as err:
        sock.close()
        where = f"{endpoint.host}:{endpoint.port}"
        if err.errno == errno.EADDRINUSE and endpoint.optional:
            log.warning(
                "metrics are off: %s is already in use (choose a port with --metrics-port, "
                "0 for a free one, -1 for none)",
                where,
            )
            return None
        if err.errno == errno.EADDRINUSE:
            raise MetricsListenError(
                f"cannot serve metrics on {where}: the address is already in use (choose "
                "another --metrics-port, 0 for a free one, or -1 for none)"
            ) from None
        raise MetricsListenError(
            f"cannot serve metrics on {where}: {err.strerror or err}"
        ) from None
    return sock
