"""The composition root: builds and runs everything for ``kawa up``.

One asyncio process holds the resource store, the event log, the HTTP server (the API and
the broker ingress on one port), the controllers and the broker data plane, all owned by one
``asyncio.TaskGroup``. :func:`serve` runs until cancelled (SIGINT/SIGTERM in the CLI) and
then closes everything in reverse order, leaving nothing behind.

On start it writes ``<data-dir>/server.json`` (the URL and pid) so that the CLI finds the
server from the data dir; it removes the file on a clean stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import orjson
from aiohttp import web

from kawa.apiserver.server import ApiServer
from kawa.broker.dataplane import BrokerDataPlane
from kawa.broker.ingress import DEFAULT_MAX_EVENT_SIZE, IngressHandler
from kawa.controllers.eventing import eventing_controllers
from kawa.delivery.sender import Dispatcher
from kawa.eventlog.base import EventLog
from kawa.eventlog.memory import MemoryEventLog
from kawa.eventlog.sqlite import Durability, SqliteEventLog
from kawa.store.sqlite import SqliteResourceStore

log = logging.getLogger(__name__)

SERVER_FILE: Final = "server.json"
DEFAULT_PORT: Final = 7080
DEFAULT_DATA_DIR: Final = ".kawa"
SWITCH_INTERVAL: Final = 0.0005
"""Seconds a thread may hold the GIL while another waits (CPython's default is 0.005)."""


@dataclass(frozen=True, slots=True)
class Config:
    """Settings of one kawa process (the flags of ``kawa up``)."""

    data_dir: Path = Path(DEFAULT_DATA_DIR)
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    max_event_size: int = DEFAULT_MAX_EVENT_SIZE
    durability: Durability = "full"
    retention: float = 0.0
    ephemeral: bool = False
    max_in_flight: int = 100


@dataclass(frozen=True, slots=True)
class Running:
    """What :func:`serve` reports once it listens."""

    url: str
    data_dir: Path


async def serve(config: Config, on_ready: Callable[[Running], None] | None = None) -> None:
    """Run kawa until cancelled."""
    # The event log's writer thread hands every commit back to the loop; with CPython's
    # default 5 ms GIL switch interval each hand-off can wait that long behind a busy loop.
    sys.setswitchinterval(SWITCH_INTERVAL)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    store = SqliteResourceStore(
        ":memory:" if config.ephemeral else str(config.data_dir / "resources.db")
    )
    event_log: EventLog
    if config.ephemeral:
        event_log = MemoryEventLog()
    else:
        event_log = await SqliteEventLog.open(
            str(config.data_dir / "events.db"), durability=config.durability
        )
    server_file = config.data_dir / SERVER_FILE
    runner: web.AppRunner | None = None
    try:
        async with Dispatcher() as dispatcher:
            dataplane = BrokerDataPlane(
                store,
                event_log,
                dispatcher,
                max_in_flight=config.max_in_flight,
                retention=config.retention,
            )
            app = web.Application(client_max_size=config.max_event_size)
            app.add_routes(IngressHandler(dataplane, max_event_size=config.max_event_size).routes())
            ApiServer(store).install(app)
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            site = web.TCPSite(runner, config.host, config.port, backlog=1024)
            await site.start()
            port = _bound_port(runner, config.port)
            url = f"http://{config.host}:{port}"
            async with asyncio.TaskGroup() as tg:
                tg.create_task(dataplane.run(), name="broker-dataplane")
                await dataplane.ready.wait()
                for controller in eventing_controllers(store, ingress_base_url=url):
                    tg.create_task(controller.run(), name=f"controller-{controller.name}")
                server_file.write_bytes(
                    orjson.dumps({"url": url, "pid": os.getpid()}, option=orjson.OPT_INDENT_2)
                )
                log.info("kawa is listening on %s (data in %s)", url, config.data_dir)
                if on_ready is not None:
                    on_ready(Running(url, config.data_dir))
    finally:
        with contextlib.suppress(FileNotFoundError):
            if _owned_by_us(server_file):
                server_file.unlink()
        if runner is not None:
            await runner.cleanup()
        await event_log.close()
        await store.close()


def _bound_port(runner: web.AppRunner, wanted: int) -> int:
    if wanted:
        return wanted
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    raise RuntimeError("the HTTP server is not bound to a TCP port")


def _owned_by_us(server_file: Path) -> bool:
    try:
        return bool(orjson.loads(server_file.read_bytes()).get("pid") == os.getpid())
    except (OSError, orjson.JSONDecodeError):
        return False
