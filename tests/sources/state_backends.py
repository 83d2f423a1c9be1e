"""The two resource store backends a source's state contract runs on (the suites of
``tests/sources/*/test_state.py`` subclass both, as ``tests/eventlog/contract.py`` does).

:meth:`stores` yields two stores: one process's and another's view of the same store. On
SQLite that is one store (its resourceVersion counter lives in the process: two adapters of
one kawa share it); on JetStream two stores on one bucket of a private nats-server, each
with its own connection, as the node that leads after a failover sees it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kawa.jetstream import NatsOptions
from kawa.store.base import ResourceStore
from kawa.store.jetstream import JetStreamResourceStore
from kawa.store.sqlite import SqliteResourceStore

from ..nats_support import unique

Stores = tuple[ResourceStore, ResourceStore]


class OnSqlite:
    @contextlib.asynccontextmanager
    async def stores(self, tmp_path: Path) -> AsyncIterator[Stores]:
        store = SqliteResourceStore(str(tmp_path / "resources.db"))
        try:
            yield store, store
        finally:
            await store.close()


class OnJetStream:
    """Needs the module-scoped ``nats_url`` fixture (import it into the test module)."""

    url: str

    @pytest.fixture(autouse=True)
    def _server(self, nats_url: str) -> None:
        self.url = nats_url

    @contextlib.asynccontextmanager
    async def stores(self, tmp_path: Path) -> AsyncIterator[Stores]:
        bucket = unique("srcstate")
        one = await JetStreamResourceStore.open(NatsOptions((self.url,)), bucket)
        try:
            two = await JetStreamResourceStore.open(NatsOptions((self.url,)), bucket)
            try:
                yield one, two
            finally:
                await two.close()
        finally:
            await one.close()
