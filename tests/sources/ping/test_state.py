"""The PingSources' state in the resource store (:mod:`kawa.sources.ping.state`), one suite run
on both backends (:mod:`..state_backends`): SQLite, and JetStream on a private nats-server,
where a "second process" is a second store on the same bucket, as the node that leads after
a failover sees it.

Covered: what one scheduler records (the last tick, the pending tick and its id) the next one
loads, and the first one's next save is refused once the next one claimed it; a state claimed
before its timer set one loads as none; a removed state is taken; the move of an older kawa's
file into the store (an unreadable one starts afresh); the sweep of states whose source is
gone. The mechanics shared with ApiServerSource (:mod:`kawa.sources.adapter_state`) are
covered further by ``tests/sources/apiserver/test_state.py``, and that the API server serves
none of it by ``tests/sources/test_adapter_state.py``."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kawa.sources.adapter_state import API_VERSION, StateTaken
from kawa.sources.ping.state import STATES, Pending, TickState, TickStore

from ...nats_support import nats_url
from ..state_backends import OnJetStream, OnSqlite, Stores
from .support import create, ping_source

__all__ = ["nats_url"]

LAST = datetime(2024, 5, 1, 12, 0, 2, tzinfo=UTC)
PENDING = Pending("the-event-id", datetime(2024, 5, 1, 12, 0, 4, tzinfo=UTC))


def ticks(last: datetime = LAST, pending: Pending | None = None) -> TickState:
    return TickState("ns/p", "*/2 * * * * *", "Europe/Paris", last, pending)


class StateContract:
    """The suite; the backends say how to open the store and a second process's view of it."""

    def stores(self, tmp_path: Path) -> contextlib.AbstractAsyncContextManager[Stores]:
        raise NotImplementedError

    async def test_what_one_scheduler_records_the_next_one_loads(self, tmp_path: Path) -> None:
        async with self.stores(tmp_path) as (one, two):
            old = await TickStore(one, tmp_path / "a").load("ns", "uid-1")
            assert old.state is None
            await old.record(ticks(pending=PENDING))
            new = await TickStore(two, tmp_path / "b").load("ns", "uid-1")  # the next leader
            assert new.state == ticks(pending=PENDING)
            obj = await TickStore(two, tmp_path).get("ns", "uid-1")
            assert obj is not None
            assert (obj["apiVersion"], obj["kind"]) == (API_VERSION, "PingSourceState")
            assert obj["pending"] == {"id": "the-event-id", "tick": "2024-05-01T12:00:04+00:00"}
            # the old leader's next save is refused: it sends nothing more
            with pytest.raises(StateTaken, match="uid-1"):
                await old.record(ticks(PENDING.tick))
            await new.record(ticks(PENDING.tick))
            loaded = await TickStore(one, tmp_path / "a").load("ns", "uid-1")
            assert loaded.state == ticks(PENDING.tick)

    async def test_a_state_claimed_before_its_first_tick_loads_as_none(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        async with self.stores(tmp_path) as (one, two):
            await TickStore(one, tmp_path).load("ns", "uid-1")  # claimed, then kawa died
            claimed = await TickStore(two, tmp_path).get("ns", "uid-1")
            assert claimed is not None
            assert claimed["holder"]
            again = await TickStore(two, tmp_path).load("ns", "uid-1")
            assert again.state is None
            assert not [r for r in caplog.records if r.levelname == "WARNING"]

    async def test_a_removed_state_is_taken(self, tmp_path: Path) -> None:
        async with self.stores(tmp_path) as (one, two):
            state = await TickStore(one, tmp_path).load("ns", "uid-1")
            await state.record(ticks())
            await TickStore(two, tmp_path).remove("ns", "uid-1")  # the source was deleted
            await TickStore(two, tmp_path).remove("ns", "uid-1")  # gone already: fine
            with pytest.raises(StateTaken):
                await state.record(ticks(PENDING.tick))
            assert await TickStore(one, tmp_path).get("ns", "uid-1") is None

    async def test_an_older_kawas_file_moves_into_the_store(self, tmp_path: Path) -> None:
        legacy = tmp_path / "sources" / "ping"
        legacy.mkdir(parents=True)
        for uid in ("uid-1", "uid-2"):  # as older kawas wrote them
            (legacy / f"{uid}.json").write_text(json.dumps(ticks(pending=PENDING).to_json()))
        async with self.stores(tmp_path) as (one, two):
            here, elsewhere = TickStore(one, tmp_path), TickStore(two, tmp_path / "elsewhere")
            assert (await here.load("ns", "uid-1")).state == ticks(pending=PENDING)
            assert not (legacy / "uid-1.json").exists()
            assert (await elsewhere.load("ns", "uid-1")).state == ticks(pending=PENDING)
            # a file is ignored, and removed, when the store has the source's state already
            await (await elsewhere.load("ns", "uid-2")).record(ticks(PENDING.tick))
            assert (await here.load("ns", "uid-2")).state == ticks(PENDING.tick)
            assert list(legacy.iterdir()) == []

    async def test_an_unreadable_file_starts_afresh(self, tmp_path: Path) -> None:
        legacy = tmp_path / "sources" / "ping"
        legacy.mkdir(parents=True)
        (legacy / "uid-1.json").write_text("{not json")
        (legacy / "uid-2.json").write_text(json.dumps({**ticks().to_json(), "last": "noon"}))
        async with self.stores(tmp_path) as (one, _):
            for uid in ("uid-1", "uid-2"):
                assert (await TickStore(one, tmp_path).load("ns", uid)).state is None
            assert list(legacy.iterdir()) == []

    async def test_the_sweep_removes_the_states_of_deleted_sources(self, tmp_path: Path) -> None:
        legacy = tmp_path / "sources" / "ping"
        legacy.mkdir(parents=True)
        async with self.stores(tmp_path) as (one, two):
            live = await create(one, ping_source("live", "http://127.0.0.1:9/"))
            uid = live["metadata"]["uid"]
            for namespace, name in [("default", uid), ("default", "gone-1"), ("other", "gone-2")]:
                await (await TickStore(one, tmp_path).load(namespace, name)).record(ticks())
            for name in (uid, "gone-3"):
                (legacy / f"{name}.json").write_text("{}")
            assert await TickStore(two, tmp_path).sweep() == 2
            left = (await one.list(STATES)).items
            assert [o["metadata"]["name"] for o in left] == [uid]
            assert [p.name for p in legacy.iterdir()] == [f"{uid}.json"]


class TestSqlite(OnSqlite, StateContract):
    pass


class TestJetStream(OnJetStream, StateContract):
    pass
