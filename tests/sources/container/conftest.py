"""Fixtures of the ContainerSource tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail a test whose kawa logged an error (a failing reconcile retries quietly otherwise)."""
    yield
    errors = [
        r
        for r in caplog.get_records("call")
        if r.levelno >= logging.ERROR and r.name.startswith("kawa")
    ]
    assert not errors, "kawa logged errors:\n" + "\n".join(r.getMessage() for r in errors)
