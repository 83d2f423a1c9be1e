"""The ResourceStore contract against SQLite, on a file and in memory."""

from __future__ import annotations

from pathlib import Path

from kawa.store.base import ResourceStore
from kawa.store.sqlite import SqliteResourceStore

from .contract import DurableResourceStoreContract, ResourceStoreContract


class TestSqliteFileStore(DurableResourceStoreContract):
    async def open_store(self, tmp_path: Path, *, history: int) -> ResourceStore:
        return SqliteResourceStore(str(tmp_path / "resources.db"), history=history)


class TestSqliteMemoryStore(ResourceStoreContract):
    async def open_store(self, tmp_path: Path, *, history: int) -> ResourceStore:
        return SqliteResourceStore(":memory:", history=history)
