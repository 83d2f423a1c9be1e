"""``kawa up --nats``'s start-up check asks again when NATS answers too slowly (a cluster
still electing its leaders, a loaded machine), and ends kawa at once on anything else."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kawa import backends, jetstream


def _unavailable(cause: BaseException) -> jetstream.JetStreamUnavailable:
    err = jetstream.JetStreamUnavailable(f"JetStream failed: {cause!r}")
    err.__cause__ = cause
    return err


@pytest.fixture
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    real_sleep = asyncio.sleep

    async def sleep(_: float) -> None:
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", sleep)


async def test_timeouts_are_asked_again_until_the_check_passes(
    monkeypatch: pytest.MonkeyPatch, no_waiting: None
) -> None:
    calls: list[int] = []

    async def once(_: Any) -> None:
        calls.append(1)
        if len(calls) < 3:
            raise _unavailable(TimeoutError())

    monkeypatch.setattr(backends, "_check_jetstream_once", once)
    await backends._check_jetstream(object())  # type: ignore[arg-type]
    assert len(calls) == 3


async def test_a_refusal_ends_at_once(monkeypatch: pytest.MonkeyPatch, no_waiting: None) -> None:
    calls: list[int] = []

    async def once(_: Any) -> None:
        calls.append(1)
        raise _unavailable(ConnectionRefusedError())

    monkeypatch.setattr(backends, "_check_jetstream_once", once)
    with pytest.raises(jetstream.JetStreamUnavailable):
        await backends._check_jetstream(object())  # type: ignore[arg-type]
    assert len(calls) == 1


async def test_timeouts_end_after_the_patience(
    monkeypatch: pytest.MonkeyPatch, no_waiting: None
) -> None:
    calls: list[int] = []

    async def once(_: Any) -> None:
        calls.append(1)
        raise _unavailable(TimeoutError())

    monkeypatch.setattr(backends, "_check_jetstream_once", once)
    monkeypatch.setattr(backends, "CHECK_PATIENCE", 0.0)
    with pytest.raises(jetstream.JetStreamUnavailable):
        await backends._check_jetstream(object())  # type: ignore[arg-type]
    assert len(calls) in (1, 2)
