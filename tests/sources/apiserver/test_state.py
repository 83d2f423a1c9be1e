"""The ApiServerSource adapter's state in the resource store (:mod:`kawa.sources.apiserver.state`),
one suite run on both backends: SQLite, and JetStream on a private nats-server, where a
"second process" is a second store on the same bucket (with its own connection), as the node
that leads after a failover sees it.

Covered: what one process saves another loads; a save that changes nothing writes nothing;
optimistic concurrency (a save after another process loaded, wrote, removed or created the
state raises StateTaken, saves of one source's streams do not trip over one another); the move of
an older kawa's state file into the store; removal; the sweep of states whose source is gone.
That the API server serves none of it: ``tests/sources/test_adapter_state.py``."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from kawa.sources.apiserver.state import (
    API_VERSION,
    STATES,
    SourceState,
    StateStore,
    StateTaken,
    StreamState,
)
from kawa.sources.apiserver.watch import KindInfo
from kawa.store.base import ResourceKey

from ...nats_support import nats_url
from ..state_backends import OnJetStream, OnSqlite, Stores
from .support import SOURCES, put, source

__all__ = ["nats_url"]

CONFIGMAPS = KindInfo("v1", "ConfigMap", "configmaps", "", True)
STREAM = "v1/ConfigMap@default#0123456789ab"


def stream(rv: str, **known: str) -> StreamState:
    return StreamState(rv, dict(known), CONFIGMAPS, "default")


class StateContract:
    """The suite; the backends (:mod:`..state_backends`) say how to open the store and a
    second process's view of it."""

    def stores(self, tmp_path: Path) -> contextlib.AbstractAsyncContextManager[Stores]:
        raise NotImplementedError

    async def test_what_one_process_saves_another_loads(self, tmp_path: Path) -> None:
        async with self.stores(tmp_path) as (one, two):
            state = await StateStore(one, tmp_path / "a").load("ns", "uid-1")
            assert state.streams == {}
            state.streams[STREAM] = stream("7", **{"default/x": "5"})
            await state.save()
            loaded = await StateStore(two, tmp_path / "b").load("ns", "uid-1")
            assert loaded.streams == {STREAM: stream("7", **{"default/x": "5"})}
            obj = await two.get(ResourceKey(STATES, "ns", "uid-1"))
            assert obj["apiVersion"] == API_VERSION
            assert obj["streams"][STREAM]["known"] == {"default/x": "5"}
            # the second process goes on from there; the first one's next save is refused
            loaded.streams[STREAM].known["default/y"] = "8"
            loaded.streams[STREAM].resource_version = "8"
            await loaded.save()
            state.streams[STREAM].resource_version = "9"
            with pytest.raises(StateTaken, match="uid-1"):
                await state.save()
            assert await StateStore(one, tmp_path / "a").read("ns", "uid-1") == {
                STREAM: stream("8", **{"default/x": "5", "default/y": "8"})
            }

    async def test_a_save_that_changes_nothing_writes_nothing(self, tmp_path: Path) -> None:
        async with self.stores(tmp_path) as (one, two):
            state = await StateStore(one, tmp_path).load("ns", "uid-1")
            state.streams[STREAM] = stream("3")
            await state.save()
            key = ResourceKey(STATES, "ns", "uid-1")
            version = (await one.get(key))["metadata"]["resourceVersion"]
            await state.save()
            assert (await two.get(key))["metadata"]["resourceVersion"] == version
            state.streams[STREAM].resource_version = "4"
            await state.save()
            assert (await two.get(key))["metadata"]["resourceVersion"] != version

    async def test_a_load_takes_the_state_over(self, tmp_path: Path) -> None:
        async with self.stores(tmp_path) as (one, two):
            old = await StateStore(one, tmp_path).load("ns", "uid-1")
            old.streams[STREAM] = stream("3")
            await old.save()
            new = await StateStore(two, tmp_path).load("ns", "uid-1")  # the next leader
            assert new.streams == {STREAM: stream("3")}
            old.streams[STREAM].resource_version = "4"
            with pytest.raises(StateTaken):  # the old leader stops at its next save
                await old.save()
            new.streams[STREAM].resource_version = "5"
            await new.save()
            assert await StateStore(one, tmp_path).read("ns", "uid-1") == {STREAM: stream("5")}

    async def test_the_streams_of_one_source_save_concurrently(self, tmp_path: Path) -> None:
        async with self.stores(tmp_path) as (one, two):
            state = await StateStore(one, tmp_path).load("ns", "uid-1")
            await state.save()
            names = [f"v1/ConfigMap@ns{i}#0123456789ab" for i in range(8)]

            async def stream_saves(name: str) -> None:
                state.streams[name] = stream("1")
                await state.save()

            await asyncio.gather(*(stream_saves(name) for name in names))
            assert sorted((await StateStore(two, tmp_path).read("ns", "uid-1")) or {}) == sorted(
                names
            )

    async def test_a_removed_or_concurrently_made_state_is_taken(self, tmp_path: Path) -> None:
        async with self.stores(tmp_path) as (one, two):
            first = SourceState(one, StateStore.key("ns", "uid-1"), {}, None)
            second = SourceState(two, StateStore.key("ns", "uid-1"), {}, None)
            await first.claim()
            with pytest.raises(StateTaken):  # both started from nothing: one made it
                await second.claim()
            await StateStore(two, tmp_path).remove("ns", "uid-1")
            first.streams[STREAM] = stream("3")
            with pytest.raises(StateTaken):  # removed meanwhile (the source was deleted)
                await first.save()
            assert await StateStore(one, tmp_path).read("ns", "uid-1") is None

    async def test_an_older_kawas_file_moves_into_the_store(self, tmp_path: Path) -> None:
        legacy = tmp_path / "sources" / "apiserver"
        legacy.mkdir(parents=True)
        body: dict[str, Any] = {
            "streams": {
                STREAM: {
                    "resourceVersion": "12",
                    "known": {"default/a": "10"},
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "plural": "configmaps",
                    "group": "",
                    "namespaced": True,
                    "namespace": "default",
                },
                "v1/Pod@default#0123456789ab": {"resourceVersion": "4", "known": {}},
            }
        }
        (legacy / "uid-1.json").write_bytes(orjson.dumps(body))
        (legacy / "uid-2.json").write_bytes(orjson.dumps(body))
        async with self.stores(tmp_path) as (one, two):
            state = await StateStore(one, tmp_path).load("ns", "uid-1")
            expected = {
                STREAM: stream("12", **{"default/a": "10"}),
                "v1/Pod@default#0123456789ab": StreamState("4"),  # from before info was kept
            }
            assert state.streams == expected
            assert not (legacy / "uid-1.json").exists()
            assert await StateStore(two, tmp_path).read("ns", "uid-1") == expected
            # a file is ignored, and removed, when the store has the source's state already
            taken = await StateStore(two, tmp_path / "elsewhere").load("ns", "uid-2")
            taken.streams[STREAM] = stream("40")
            await taken.save()
            again = await StateStore(one, tmp_path).load("ns", "uid-2")
            assert again.streams == {STREAM: stream("40")}
            assert list(legacy.iterdir()) == []

    async def test_an_unreadable_file_starts_afresh(self, tmp_path: Path) -> None:
        legacy = tmp_path / "sources" / "apiserver"
        legacy.mkdir(parents=True)
        (legacy / "uid-1.json").write_bytes(b"{not json")
        async with self.stores(tmp_path) as (one, _):
            state = await StateStore(one, tmp_path).load("ns", "uid-1")
            assert state.streams == {}
            assert not (legacy / "uid-1.json").exists()

    async def test_remove_takes_the_state_and_its_old_file(self, tmp_path: Path) -> None:
        legacy = tmp_path / "sources" / "apiserver"
        legacy.mkdir(parents=True)
        async with self.stores(tmp_path) as (one, two):
            state = await StateStore(one, tmp_path).load("ns", "uid-1")
            state.streams[STREAM] = stream("1")
            await state.save()
            (legacy / "uid-1.json").write_bytes(b"{}")
            await StateStore(two, tmp_path).remove("ns", "uid-1")
            await StateStore(two, tmp_path).remove("ns", "uid-1")  # gone already: fine
            assert await StateStore(one, tmp_path).read("ns", "uid-1") is None
            assert not (legacy / "uid-1.json").exists()

    async def test_the_sweep_removes_the_states_of_deleted_sources(self, tmp_path: Path) -> None:
        legacy = tmp_path / "sources" / "apiserver"
        legacy.mkdir(parents=True)
        async with self.stores(tmp_path) as (one, two):
            live = await put(one, source("live", {"uri": "http://127.0.0.1:9/"}, []))
            uid = live["metadata"]["uid"]
            states = StateStore(one, tmp_path)
            for namespace, name in [("default", uid), ("default", "gone-1"), ("other", "gone-2")]:
                state = await states.load(namespace, name)
                state.streams[STREAM] = stream("1")
                await state.save()
            for name in (uid, "gone-3"):
                (legacy / f"{name}.json").write_bytes(b"{}")
            assert await StateStore(two, tmp_path).sweep() == 2
            left = (await one.list(STATES)).items
            assert [o["metadata"]["name"] for o in left] == [uid]
            assert [p.name for p in legacy.iterdir()] == [f"{uid}.json"]
            assert await StateStore(two, tmp_path).sweep() == 0
            assert [o["metadata"]["name"] for o in (await one.list(SOURCES)).items] == ["live"]


class TestSqlite(OnSqlite, StateContract):
    pass


class TestJetStream(OnJetStream, StateContract):
    pass
