"""Fixtures of the PingSource tests: a real SQLite store, a real Dispatcher, a real sink."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from kawa.delivery.sender import Dispatcher
from kawa.store.sqlite import SqliteResourceStore

from .support import Sink, serve_sink


@pytest.fixture(autouse=True)
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail a test whose kawa logged an error (a crashed timer restarts quietly otherwise)."""
    yield
    errors = [
        r
        for r in caplog.get_records("call")
        if r.levelno >= logging.ERROR and r.name.startswith("kawa")
    ]
    assert not errors, "kawa logged errors:\n" + "\n".join(r.getMessage() for r in errors)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteResourceStore]:
    s = SqliteResourceStore(str(tmp_path / "store.db"))
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    async for s in serve_sink(Sink()):
        yield s


@pytest.fixture
async def dispatcher() -> AsyncIterator[Dispatcher]:
    async with Dispatcher(default_timeout=5.0) as d:
        yield d
