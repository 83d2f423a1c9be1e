"""Leader election on both store backends: two candidates on one store (SQLite in-process,
or two JetStream stores on one bucket of a private nats-server, as two kawa processes).

Exactly one leads; a leader that dies without releasing (a crash) is replaced within the
lease duration; a clean stop hands over at once; a leader whose lease is taken from it
stops leading at its next renewal, and leads again once the taker's lease expires."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from kawa.coordination import leases
from kawa.coordination.election import CONTROLLERS_LEASE, LEASES, Lead, LeaderElector, Timing
from kawa.jetstream import NatsOptions
from kawa.store.base import ResourceKey, ResourceStore
from kawa.store.jetstream import JetStreamResourceStore
from kawa.store.sqlite import SqliteResourceStore

from ..nats_support import nats_url, unique
from ..waiting import eventually

__all__ = ["nats_url"]

TIMING = Timing(lease_duration=2.0, renew_deadline=1.2, retry_period=0.2)
KEY = ResourceKey(LEASES, "kube-system", CONTROLLERS_LEASE)


@pytest.fixture(params=["sqlite", "jetstream"])
async def stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[ResourceStore, ResourceStore]]:
    """Two candidates' views of one store."""
    if request.param == "sqlite":
        store = SqliteResourceStore(str(tmp_path / "resources.db"))
        try:
            yield store, store
        finally:
            await store.close()
        return
    url = request.getfixturevalue("nats_url")
    bucket = unique("election")
    one = await JetStreamResourceStore.open(NatsOptions((url,)), bucket)
    two = await JetStreamResourceStore.open(NatsOptions((url,)), bucket)
    try:
        yield one, two
    finally:
        await one.close()
        await two.close()


async def until(check: Callable[[], bool], message: str) -> None:
    async def holds() -> bool:
        return check()

    await eventually(holds, 10, message)


class Leads:
    """Records who leads: never two at once."""

    def __init__(self) -> None:
        self.running: set[str] = set()
        self.most_at_once = 0
        self.started: list[str] = []
        self.cancelled: list[str] = []
        self.changed = asyncio.Event()

    def of(self, name: str) -> Lead:
        async def lead() -> None:
            self.running.add(name)
            self.started.append(name)
            self.most_at_once = max(self.most_at_once, len(self.running))
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled.append(name)
                raise
            finally:
                self.running.discard(name)

        return lead


@contextlib.asynccontextmanager
async def candidates(
    stores: tuple[ResourceStore, ResourceStore], leads: Leads, *, release_on_cancel: bool = True
) -> AsyncIterator[dict[str, tuple[LeaderElector, asyncio.Task[None]]]]:
    running: dict[str, tuple[LeaderElector, asyncio.Task[None]]] = {}
    for name, store in zip(("a", "b"), stores, strict=True):
        elector = LeaderElector(store, name, timing=TIMING, release_on_cancel=release_on_cancel)
        running[name] = (elector, asyncio.create_task(elector.run(leads.of(name))))
        if name == "a":  # a first: it is the one that leads
            await until(lambda: running["a"][0].leading, "a never led")
    try:
        yield running
    finally:
        for _, task in running.values():
            task.cancel()
        await asyncio.gather(*(task for _, task in running.values()), return_exceptions=True)


async def test_exactly_one_leads(stores: tuple[ResourceStore, ResourceStore]) -> None:
    leads = Leads()
    async with candidates(stores, leads) as running:
        # several renewals (and tries of b) later, a still leads alone
        await asyncio.sleep(TIMING.lease_duration + 2 * TIMING.retry_period)
        assert leads.running == {"a"}
        assert running["a"][0].leading
        assert not running["b"][0].leading
        assert running["b"][0].holder == "a"
        stored = leases.read(await stores[0].get(KEY))
        assert (stored.holder, stored.duration, stored.transitions) == ("a", 2, 0)
    assert leads.most_at_once == 1
    assert leads.started == ["a"]


async def test_a_crashed_leader_is_replaced_within_the_lease_duration(
    stores: tuple[ResourceStore, ResourceStore],
) -> None:
    leads = Leads()
    async with candidates(stores, leads, release_on_cancel=False) as running:
        await asyncio.sleep(3 * TIMING.retry_period)  # b has seen a's renewals
        loop = asyncio.get_running_loop()
        running["a"][1].cancel()  # a "crash": the lease is left as it was
        crashed = loop.time()
        await until(lambda: running["b"][0].leading, "b never took over")
        took = loop.time() - crashed
        assert TIMING.lease_duration - 2 * TIMING.retry_period < took
        assert took < TIMING.lease_duration + 3 * TIMING.retry_period + 1.0  # a loaded machine
        stored = leases.read(await stores[1].get(KEY))
        assert (stored.holder, stored.transitions) == ("b", 1)
    assert leads.started == ["a", "b"]
    assert leads.most_at_once == 1


async def test_a_clean_stop_hands_over_at_once(
    stores: tuple[ResourceStore, ResourceStore],
) -> None:
    leads = Leads()
    async with candidates(stores, leads) as running:
        await asyncio.sleep(3 * TIMING.retry_period)
        loop = asyncio.get_running_loop()
        running["a"][1].cancel()
        stopped = loop.time()
        with contextlib.suppress(asyncio.CancelledError):
            await running["a"][1]
        assert "a" in leads.cancelled  # lead() ended before the lease was released
        await until(lambda: running["b"][0].leading, "b never took over")
        # released: b takes it at its next try, long before a's lease would have expired
        assert loop.time() - stopped < TIMING.lease_duration / 2
    assert leads.started == ["a", "b"]


async def test_a_stolen_lease_cancels_lead(stores: tuple[ResourceStore, ResourceStore]) -> None:
    leads = Leads()
    store = stores[0]
    elector = LeaderElector(store, "a", timing=TIMING)
    task = asyncio.create_task(elector.run(leads.of("a")))
    try:
        await until(lambda: elector.leading, "a never led")
        current = await store.get(KEY)
        current["metadata"].pop("resourceVersion")  # unconditional: the thief overrides
        current["spec"] = leases.spec(leases.Record("thief", 2, "t", "t", 9))
        await store.update(KEY, current)
        await until(lambda: "a" in leads.cancelled, "lead() kept running")
        assert not elector.leading
        assert elector.holder == "thief"
        # the thief never renews: a takes the lease back once it expired, and leads anew
        await until(lambda: leads.started.count("a") == 2, "a never led again")
        assert elector.transitions == 2
        assert leases.read(await store.get(KEY)).transitions == 10
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert leases.read(await store.get(KEY)).holder == ""  # released on the stop


async def test_lead_returning_releases_and_ends_the_run(
    stores: tuple[ResourceStore, ResourceStore],
) -> None:
    calls = 0

    async def lead() -> None:
        nonlocal calls
        calls += 1

    elector = LeaderElector(stores[0], "a", timing=TIMING)
    await asyncio.wait_for(elector.run(lead), 10)
    assert calls == 1
    assert not elector.leading
    assert leases.read(await stores[0].get(KEY)).holder == ""


async def test_lead_raising_releases_and_raises(
    stores: tuple[ResourceStore, ResourceStore],
) -> None:
    async def lead() -> None:
        raise RuntimeError("broken")

    elector = LeaderElector(stores[0], "a", timing=TIMING)
    with pytest.raises(RuntimeError, match="broken"):
        await asyncio.wait_for(elector.run(lead), 10)
    assert leases.read(await stores[0].get(KEY)).holder == ""
