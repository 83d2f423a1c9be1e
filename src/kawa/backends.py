"""kawa's backends by name: the resource store and the event log a :class:`~kawa.runtime.Config`
names (``store_backend``, ``event_log_backend``), each opened by its factory.

A new backend is one more entry in :data:`STORE_BACKENDS` or :data:`EVENT_LOG_BACKENDS`.
The JetStream pair first checks, changing nothing, that the server holds nothing of kawa's
names with other settings (docs/distributed.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Final, Protocol, TypeVar

from kawa import jetstream
from kawa.errors import FieldError, KawaError, ValidationError
from kawa.eventlog import _js_streams
from kawa.eventlog._js_names import Names
from kawa.eventlog.base import EventLog
from kawa.eventlog.jetstream import JetStreamEventLog
from kawa.eventlog.memory import MemoryEventLog
from kawa.eventlog.sqlite import Durability, SqliteEventLog
from kawa.jetstream import NatsOptions
from kawa.store import jetstream as jetstream_store
from kawa.store.base import ResourceStore
from kawa.store.jetstream import JetStreamResourceStore
from kawa.store.sqlite import SqliteResourceStore


class Config(Protocol):
    """The settings the backends read (:class:`kawa.runtime.Config` has them all)."""

    @property
    def data_dir(self) -> Path: ...
    @property
    def durability(self) -> Durability: ...
    @property
    def max_event_log_size(self) -> int: ...
    @property
    def nats(self) -> NatsOptions | None: ...
    @property
    def store_backend(self) -> str: ...
    @property
    def event_log_backend(self) -> str: ...


T = TypeVar("T")
Factory = Callable[[Config], Awaitable[T]]
"""Opens a backend with the settings of ``Config`` it needs (files under ``data_dir``...)."""


async def _sqlite_store(config: Config) -> ResourceStore:
    return SqliteResourceStore(str(config.data_dir / "resources.db"))


async def _memory_store(config: Config) -> ResourceStore:
    return SqliteResourceStore(":memory:")


async def _sqlite_event_log(config: Config) -> EventLog:
    return await SqliteEventLog.open(
        str(config.data_dir / "events.db"),
        durability=config.durability,
        max_size=config.max_event_log_size,
    )


async def _memory_event_log(config: Config) -> EventLog:
    return MemoryEventLog()


def _nats(config: Config) -> NatsOptions:
    if config.nats is None:
        raise ValidationError(
            [FieldError("nats", "the jetstream backends need NATS servers (kawa up --nats URL)")],
            subject="kawa's configuration",
        )
    return config.nats


log = logging.getLogger(__name__)

STORE_BUCKET: Final = "kawa_resources"
"""The KV bucket of the resource store on JetStream."""
EVENT_LOG_PREFIX: Final = "kawa"
"""The names of the event log on JetStream (``kawa_<stream>``, bucket ``kawa_eventlog``)."""


async def _jetstream_store(config: Config) -> ResourceStore:
    await _check_jetstream(config)  # opened first: before either backend makes anything
    return await _patiently(lambda: JetStreamResourceStore.open(_nats(config), STORE_BUCKET))


async def _jetstream_event_log(config: Config) -> EventLog:
    options = _nats(config)
    async with jetstream.refusals_fail(options, f"opening the event log {EVENT_LOG_PREFIX!r}"):
        return await _patiently(
            lambda: JetStreamEventLog.open(
                options, prefix=EVENT_LOG_PREFIX, max_stream_bytes=config.max_event_log_size
            )
        )


CHECK_PATIENCE: Final = 30.0
"""Seconds the start-up check keeps asking a NATS server that answers too slowly (a cluster
still electing its leaders, a loaded machine) before kawa gives up."""


async def _check_jetstream(config: Config) -> None:
    """Refuse, changing nothing, what the JetStream backends could not use: streams of their
    names with other settings, streams holding their subjects, a user without the
    permissions they need (docs/distributed.md). A request that timed out is asked again
    for up to :data:`CHECK_PATIENCE`; a refusal or a conflict ends kawa at once."""
    await _patiently(lambda: _check_jetstream_once(config))


async def _patiently(start: Callable[[], Awaitable[T]]) -> T:
    """``start()``, asked again while JetStream times out, for up to :data:`CHECK_PATIENCE`."""
    deadline = time.monotonic() + CHECK_PATIENCE
    while True:
        try:
            return await start()
        except KawaError as err:  # unavailable, or a log/store failure a timeout caused
            if not isinstance(err.__cause__, TimeoutError) or time.monotonic() > deadline:
                raise
            log.warning("%s; asking again", err)
            await asyncio.sleep(1.0)


async def _check_jetstream_once(config: Config) -> None:
    options = _nats(config)
    client, js = await jetstream.connect(options)
    try:
        async with jetstream.failures(options, "checking kawa's JetStream streams and buckets"):
            await jetstream_store.check_bucket(
                js, STORE_BUCKET, jetstream_store.DEFAULT_HISTORY, options.replicas
            )
            if config.event_log_backend == "jetstream":
                names = Names(EVENT_LOG_PREFIX)
                await _js_streams.check(client, js, names, options.replicas)
    finally:
        await client.close()


STORE_BACKENDS: Final[Mapping[str, Factory[ResourceStore]]] = MappingProxyType(
    {"sqlite": _sqlite_store, "memory": _memory_store, "jetstream": _jetstream_store}
)
"""Resource store backends by name: SQLite in ``<data-dir>/resources.db``, or in memory."""
EVENT_LOG_BACKENDS: Final[Mapping[str, Factory[EventLog]]] = MappingProxyType(
    {"sqlite": _sqlite_event_log, "memory": _memory_event_log, "jetstream": _jetstream_event_log}
)
"""Event log backends by name: SQLite in ``<data-dir>/events.db``, in memory, or NATS
JetStream (:mod:`kawa.eventlog.jetstream`)."""


def backends(config: Config) -> tuple[Factory[ResourceStore], Factory[EventLog]]:
    """The factories ``config`` names; a ValidationError names every unknown one."""
    errors: list[FieldError] = []
    for path, name, registry in (
        ("storeBackend", config.store_backend, STORE_BACKENDS),
        ("eventLogBackend", config.event_log_backend, EVENT_LOG_BACKENDS),
    ):
        if name not in registry:
            known = ", ".join(sorted(registry))
            errors.append(FieldError(path, f"unknown backend {name!r}; expected one of {known}"))
    if errors:
        raise ValidationError(errors, subject="kawa's configuration")
    return STORE_BACKENDS[config.store_backend], EVENT_LOG_BACKENDS[config.event_log_backend]
