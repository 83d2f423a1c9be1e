"""Fixtures of the delivery tests: receivers on 127.0.0.1 and a dispatcher with a fake sleep."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kawa.delivery.sender import Dispatcher

from .delivery_support import NOW, Receiver, Sleeps, serve


@pytest.fixture
async def subscriber() -> AsyncIterator[Receiver]:
    async for receiver in serve(Receiver()):
        yield receiver


@pytest.fixture
async def dls() -> AsyncIterator[Receiver]:
    async for receiver in serve(Receiver()):
        yield receiver


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def dispatcher(sleeps: Sleeps) -> AsyncIterator[Dispatcher]:
    async with Dispatcher(sleep=sleeps, clock=lambda: NOW, default_timeout=5.0) as d:
        yield d
