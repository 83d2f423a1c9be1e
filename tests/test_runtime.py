"""The composition root's backend registries: every named backend opens, unknown names are
refused before anything starts, and the memory backends (``kawa up --ephemeral``) keep nothing
on disk while kawa works as usual."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from kawa import runtime
from kawa.errors import ConflictError, ValidationError
from kawa.jetstream import NatsOptions
from kawa.store.base import ResourceKey

from .broker.broker_support import broker, event, running_kawa
from .nats_support import nats_url

__all__ = ["nats_url"]  # the fixture the jetstream cases use


def _nats(name: str, request: pytest.FixtureRequest) -> NatsOptions | None:
    """A private NATS server's options for the ``jetstream`` backends."""
    if name != "jetstream":
        return None
    return NatsOptions.parse(request.getfixturevalue("nats_url"))


@pytest.mark.parametrize("name", sorted(runtime.STORE_BACKENDS))
async def test_every_store_backend_opens_a_working_store(
    tmp_path: Path, name: str, request: pytest.FixtureRequest
) -> None:
    config = runtime.Config(data_dir=tmp_path, store_backend=name, nats=_nats(name, request))
    store = await runtime.STORE_BACKENDS[name](config)
    try:
        key = ResourceKey("configmaps", "default", "c")
        created = await store.create(key, {"metadata": {}, "data": {"k": "v"}})
        assert await store.get(key) == created
    finally:
        await store.close()


@pytest.mark.parametrize("name", sorted(runtime.EVENT_LOG_BACKENDS))
async def test_every_event_log_backend_opens_a_working_log(
    tmp_path: Path, name: str, request: pytest.FixtureRequest
) -> None:
    config = runtime.Config(
        data_dir=tmp_path, event_log_backend=name, durability="off", nats=_nats(name, request)
    )
    log = await runtime.EVENT_LOG_BACKENDS[name](config)
    try:
        assert await log.append("s", [b"x"]) == [1]
        assert [r.payload for r in await log.read("s", 0, 10)] == [b"x"]
    finally:
        await log.close()


def test_the_sqlite_backends_keep_their_files_in_the_data_dir() -> None:
    config = runtime.Config()
    assert (config.store_backend, config.event_log_backend) == ("sqlite", "sqlite")
    assert runtime.backends(config) == (
        runtime.STORE_BACKENDS["sqlite"],
        runtime.EVENT_LOG_BACKENDS["sqlite"],
    )


async def test_unknown_backends_are_refused_before_anything_starts(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    config = runtime.Config(data_dir=data_dir, store_backend="etcd", event_log_backend="kafka")
    with pytest.raises(ValidationError) as info:
        await runtime.serve(config)
    assert [e.path for e in info.value.errors] == ["storeBackend", "eventLogBackend"]
    assert "expected one of jetstream, memory, sqlite" in str(info.value)
    assert not data_dir.exists()


async def test_memory_backends_keep_nothing_on_disk(tmp_path: Path) -> None:
    async with running_kawa(tmp_path, store_backend="memory", event_log_backend="memory") as kawa:
        await kawa.apply(broker())
        await kawa.wait_ready("Broker", "default")
        assert await kawa.send(event()) == 202
        assert not [name for name in os.listdir(tmp_path) if ".db" in name]
    async with running_kawa(tmp_path) as kawa:
        assert (tmp_path / "resources.db").exists()
        assert (tmp_path / "events.db").exists()
        assert (await kawa.get("Broker", "default"))["kind"] == "Status"  # nothing was kept


async def test_a_second_kawa_on_one_data_dir_is_refused_and_leaves_nothing_open(
    tmp_path: Path,
) -> None:
    def store_threads() -> int:
        return sum(t.name.startswith("kawa-store") for t in threading.enumerate())

    async with running_kawa(tmp_path):
        before = store_threads()
        with pytest.raises(ConflictError, match="in use"):
            await runtime.serve(runtime.Config(data_dir=tmp_path, port=0, api_port=0))
        assert store_threads() == before  # the store it had opened first was closed
