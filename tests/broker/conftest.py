"""Fixtures of the broker tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from ..nats_support import nats_server
from .broker_support import BACKEND


@pytest.fixture(autouse=True)
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail a test whose kawa logged an error (a crashed consumer restarts quietly otherwise)."""
    yield
    errors = [
        r
        for r in caplog.get_records("call")
        if r.levelno >= logging.ERROR and r.name.startswith("kawa")
    ]
    assert not errors, "kawa logged errors:\n" + "\n".join(r.getMessage() for r in errors)


@pytest.fixture(scope="module")
def module_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with nats_server(tmp_path_factory.mktemp("nats")) as url:
        yield url


@pytest.fixture(params=["sqlite", "jetstream"])
def each_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test on kawa's SQLite event log, then on JetStream (a private server per
    module): ``running_kawa`` picks it up."""
    url = request.getfixturevalue("module_nats") if request.param == "jetstream" else None
    token = BACKEND.set(url)
    try:
        yield request.param
    finally:
        BACKEND.reset(token)
