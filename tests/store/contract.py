"""The ResourceStore contract: one test suite every store backend must pass.

A backend's test module subclasses :class:`ResourceStoreContract` (or
:class:`DurableResourceStoreContract`, for a backend whose data outlives the store object) and
implements :meth:`ResourceStoreContract.open_store`; nothing else (faststream style: the very
same tests run against SQLite on a file, SQLite in memory and, later, a JetStream key-value
bucket). The suite covers the whole protocol of :mod:`kawa.store.base`: create, get, list,
update, status-only update, delete, uid, resourceVersion (one counter, increasing), generation
(bumped by spec changes and the start of a deletion), finalizers (a delete only marks an
object that has some; the update that takes the last away removes it), optimistic
concurrency, watch (from now, from a
resourceVersion, of a namespace, 410 Gone for a forgotten one, no gap and no repeat between
replay and live), cancellation of writers and watchers, and close.

Watches are started at a known point (``since`` = a list's resourceVersion, as informers do)
so that a backend whose watch takes a network round trip to set up passes the same tests;
the one test of ``since=None`` writes until its watch sees something. Bookmarks are not part of
the store protocol: the API server makes them from the resourceVersions a watch delivers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kawa.errors import ConflictError, GoneError, NotFoundError
from kawa.store.base import Obj, ResourceKey, ResourceStore, WatchEvent

BROKERS = "brokers.eventing.knative.dev"
CONFIGMAPS = "configmaps"
NAMESPACES = "namespaces"
HISTORY = 1000
"""The history asked of the store that the ``store`` fixture opens (no test outruns it)."""
SHORT_HISTORY = 10
"""The history of the store that shows 410 Gone."""
TIMEOUT = 10.0
"""Seconds any awaited watch event may take (generous: a failure, not a pace)."""


def broker(name: str, ns: str = "default", **spec: Any) -> Obj:
    return {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Broker",
        "metadata": {"name": name, "namespace": ns},
        "spec": dict(spec),
    }


def configmap(name: str, ns: str = "default", **data: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns},
        "data": dict(data),
    }


def rv(obj: Obj) -> int:
    return int(obj["metadata"]["resourceVersion"])


def bkey(name: str, ns: str = "default") -> ResourceKey:
    return ResourceKey(BROKERS, ns, name)


async def take(events: AsyncIterator[WatchEvent], n: int) -> list[WatchEvent]:
    """The next ``n`` events of a watch (a test failure if they take over TIMEOUT)."""
    out: list[WatchEvent] = []
    async with asyncio.timeout(TIMEOUT):
        while len(out) < n:
            out.append(await anext(events))
    return out


@contextlib.asynccontextmanager
async def watching(
    store: ResourceStore, resource: str, namespace: str | None = None, since: int | None = None
) -> AsyncIterator[AsyncIterator[WatchEvent]]:
    """A watch that is closed when the block ends, whatever happens in it."""
    events = store.watch(resource, namespace, since)
    try:
        yield events
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


class ResourceStoreContract:
    """Behaviour every :class:`~kawa.store.base.ResourceStore` backend must show."""

    async def open_store(self, tmp_path: Path, *, history: int) -> ResourceStore:
        """A store kept under ``tmp_path`` (opening it again there finds the same data, for a
        durable backend). A watch may resume from any of the latest ``history`` changes
        (store-wide); changes older than ``4 * history`` are forgotten (410 Gone)."""
        raise NotImplementedError

    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[ResourceStore]:
        store = await self.open_store(tmp_path, history=HISTORY)
        yield store
        await store.close()

    # -- create and get ------------------------------------------------------------------------

    async def test_create_sets_the_bookkeeping_metadata(self, store: ResourceStore) -> None:
        given = broker("b1", class_="x")
        given["metadata"].update(
            uid="forged",
            resourceVersion="999",
            generation=7,
            creationTimestamp="1970-01-01T00:00:00Z",
        )
        created = await store.create(bkey("b1"), given)
        meta = created["metadata"]
        assert meta["name"] == "b1"
        assert meta["namespace"] == "default"
        assert meta["uid"]
        assert meta["uid"] != "forged"
        assert meta["generation"] == 1
        assert meta["creationTimestamp"].endswith("Z")
        assert not meta["creationTimestamp"].startswith("1970")
        assert isinstance(meta["resourceVersion"], str)
        assert rv(created) >= 1
        assert created["spec"] == {"class_": "x"}
        assert await store.get(bkey("b1")) == created

    async def test_create_takes_name_and_namespace_from_the_key(self, store: ResourceStore) -> None:
        created = await store.create(bkey("real", "ns1"), broker("other", "elsewhere"))
        assert (created["metadata"]["name"], created["metadata"]["namespace"]) == ("real", "ns1")
        cluster = await store.create(ResourceKey(NAMESPACES, "", "ns1"), {"metadata": {}})
        assert cluster["metadata"]["name"] == "ns1"
        assert "namespace" not in cluster["metadata"]
        assert await store.get(ResourceKey(NAMESPACES, "", "ns1")) == cluster

    async def test_creating_an_existing_object_conflicts(self, store: ResourceStore) -> None:
        first = await store.create(bkey("b1"), broker("b1", a=1))
        with pytest.raises(ConflictError):
            await store.create(bkey("b1"), broker("b1", a=2))
        assert await store.get(bkey("b1")) == first
        # the same name in another namespace or of another resource is another object
        await store.create(bkey("b1", "other"), broker("b1", "other"))
        await store.create(ResourceKey(CONFIGMAPS, "default", "b1"), configmap("b1"))

    async def test_concurrent_creates_of_one_key_make_one_object(
        self, store: ResourceStore
    ) -> None:
        results = await asyncio.gather(
            *(store.create(bkey("b1"), broker("b1", n=n)) for n in range(10)),
            return_exceptions=True,
        )
        created = [r for r in results if isinstance(r, dict)]
        assert len(created) == 1
        assert all(isinstance(r, ConflictError) for r in results if not isinstance(r, dict))
        assert await store.get(bkey("b1")) == created[0]

    async def test_missing_objects_are_not_found(self, store: ResourceStore) -> None:
        with pytest.raises(NotFoundError):
            await store.get(bkey("nope"))
        with pytest.raises(NotFoundError):
            await store.delete(bkey("nope"))
        with pytest.raises(NotFoundError):
            await store.update(bkey("nope"), broker("nope"))
        with pytest.raises(NotFoundError):
            await store.update(bkey("nope"), broker("nope"), status_only=True)

    async def test_objects_are_values(self, store: ResourceStore) -> None:
        given = broker("b1", nested={"list": [1, 2.5, True, None, "ü"]})
        created = await store.create(bkey("b1"), given)
        given["spec"]["nested"]["list"].append("changed by the caller")
        created["spec"]["nested"]["list"].append("changed by the caller")
        got = await store.get(bkey("b1"))
        assert got["spec"] == {"nested": {"list": [1, 2.5, True, None, "ü"]}}
        got["spec"].clear()
        assert (await store.get(bkey("b1")))["spec"] == {
            "nested": {"list": [1, 2.5, True, None, "ü"]}
        }
        assert (await store.list(BROKERS)).items[0]["spec"]["nested"]["list"][3] is None

    async def test_a_recreated_object_has_a_new_uid(self, store: ResourceStore) -> None:
        first = await store.create(bkey("b1"), broker("b1"))
        await store.delete(bkey("b1"))
        second = await store.create(bkey("b1"), broker("b1"))
        assert second["metadata"]["uid"] != first["metadata"]["uid"]
        assert rv(second) > rv(first)

    async def test_the_creator_may_choose_the_uid(self, store: ResourceStore) -> None:
        # the API server picks it before admission (a Job's selector names it)
        given = broker("b1")
        given["metadata"]["uid"] = "forged"
        created = await store.create(bkey("b1"), given, uid="chosen-before")
        assert created["metadata"]["uid"] == "chosen-before"
        assert (await store.get(bkey("b1")))["metadata"]["uid"] == "chosen-before"

    # -- resourceVersion and list --------------------------------------------------------------

    async def test_one_resource_version_counter_across_the_store(
        self, store: ResourceStore
    ) -> None:
        seen = [
            rv(await store.create(bkey("b1"), broker("b1"))),
            rv(await store.create(ResourceKey(CONFIGMAPS, "x", "c"), configmap("c", "x"))),
            rv(await store.update(bkey("b1"), broker("b1", a=1))),
            rv(await store.delete(ResourceKey(CONFIGMAPS, "x", "c"))),
            rv(await store.create(ResourceKey(NAMESPACES, "", "n"), {"metadata": {}})),
        ]
        assert seen == sorted(set(seen))
        assert (await store.list(BROKERS)).resource_version == seen[-1]
        assert (await store.list("triggers.eventing.knative.dev")).resource_version == seen[-1]

    async def test_list_sorts_by_namespace_and_name_and_filters(self, store: ResourceStore) -> None:
        for ns, name in [("b", "x"), ("a", "y"), ("a", "x")]:
            await store.create(bkey(name, ns), broker(name, ns))
        await store.create(ResourceKey(CONFIGMAPS, "a", "x"), configmap("x", "a"))
        everything = await store.list(BROKERS)
        assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in everything.items] == [
            ("a", "x"),
            ("a", "y"),
            ("b", "x"),
        ]
        assert [o["metadata"]["name"] for o in (await store.list(BROKERS, "a")).items] == ["x", "y"]
        assert (await store.list(BROKERS, "c")).items == []
        assert (await store.list("triggers.eventing.knative.dev")).items == []
        assert everything.items[0] == await store.get(bkey("x", "a"))

    # -- update --------------------------------------------------------------------------------

    async def test_generation_moves_with_the_spec_only(self, store: ResourceStore) -> None:
        created = await store.create(bkey("b1"), broker("b1"))
        labelled = broker("b1")
        labelled["metadata"]["labels"] = {"a": "b"}
        labelled["metadata"]["annotations"] = {"c": "d"}
        after_labels = await store.update(bkey("b1"), labelled)
        assert after_labels["metadata"]["generation"] == 1
        assert after_labels["metadata"]["labels"] == {"a": "b"}
        assert rv(after_labels) > rv(created)
        after_status = await store.update(
            bkey("b1"), dict(after_labels, status={"s": 1}), status_only=True
        )
        assert after_status["metadata"]["generation"] == 1
        after_spec = await store.update(bkey("b1"), broker("b1", config={"x": 1}))
        assert after_spec["metadata"]["generation"] == 2
        assert after_spec["metadata"]["uid"] == created["metadata"]["uid"]
        assert (
            after_spec["metadata"]["creationTimestamp"] == created["metadata"]["creationTimestamp"]
        )
        # any top-level field but metadata and status is spec (a ConfigMap's data)
        cm = ResourceKey(CONFIGMAPS, "default", "c")
        await store.create(cm, configmap("c", k="v"))
        assert (await store.update(cm, configmap("c", k="w")))["metadata"]["generation"] == 2

    async def test_update_keeps_what_the_store_owns(self, store: ResourceStore) -> None:
        created = await store.create(bkey("b1"), broker("b1"))
        await store.update(bkey("b1"), dict(created, status={"kept": True}), status_only=True)
        forged = broker("b1", "default", a=1)
        forged["metadata"].update(uid="forged", generation=40, creationTimestamp="then")
        forged["status"] = {"ignored": True}
        updated = await store.update(bkey("b1"), forged)
        meta = updated["metadata"]
        assert meta["uid"] == created["metadata"]["uid"]
        assert meta["creationTimestamp"] == created["metadata"]["creationTimestamp"]
        assert meta["generation"] == 2
        assert updated["status"] == {"kept": True}
        assert updated == await store.get(bkey("b1"))

    async def test_a_status_update_touches_only_the_status(self, store: ResourceStore) -> None:
        created = await store.create(bkey("b1"), broker("b1", config={"k": "v"}))
        attempt = dict(created, spec={"changed": True}, status={"conditions": []})
        attempt["metadata"] = dict(created["metadata"], labels={"not": "applied"})
        updated = await store.update(bkey("b1"), attempt, status_only=True)
        assert updated["spec"] == {"config": {"k": "v"}}
        assert "labels" not in updated["metadata"]
        assert updated["status"] == {"conditions": []}
        assert rv(updated) > rv(created)
        cleared = await store.update(bkey("b1"), broker("b1"), status_only=True)
        assert "status" not in cleared

    async def test_a_stale_resource_version_conflicts(self, store: ResourceStore) -> None:
        created = await store.create(bkey("b1"), broker("b1"))
        current = await store.update(bkey("b1"), dict(created, spec={"a": 1}))
        for status_only in (False, True):
            with pytest.raises(ConflictError, match="modified"):
                await store.update(
                    bkey("b1"),
                    dict(created, spec={"a": 2}, status={"s": 2}),
                    status_only=status_only,
                )
        assert await store.get(bkey("b1")) == current
        # the current resourceVersion, or none at all, is accepted
        again = await store.update(bkey("b1"), dict(current, spec={"a": 3}))
        unconditional = broker("b1", a=4)
        assert rv(await store.update(bkey("b1"), unconditional)) > rv(again)

    async def test_concurrent_updates_of_one_version_let_one_win(
        self, store: ResourceStore
    ) -> None:
        created = await store.create(bkey("b1"), broker("b1"))
        results = await asyncio.gather(
            *(store.update(bkey("b1"), dict(created, spec={"n": n})) for n in range(10)),
            return_exceptions=True,
        )
        won = [r for r in results if isinstance(r, dict)]
        assert len(won) == 1
        assert sum(isinstance(r, ConflictError) for r in results) == 9
        assert await store.get(bkey("b1")) == won[0]

    async def test_an_update_that_changes_nothing_is_a_no_op(self, store: ResourceStore) -> None:
        created = await store.create(bkey("b1"), broker("b1", config={"k": "v"}))
        async with watching(store, BROKERS, since=rv(created)) as events:
            same = await store.update(bkey("b1"), broker("b1", config={"k": "v"}))
            assert same == created
            same_status = await store.update(bkey("b1"), created, status_only=True)
            assert same_status == created
            changed = await store.update(bkey("b1"), broker("b1", config={"k": "w"}))
            [event] = await take(events, 1)  # no event for the no-ops
        assert (event.type, event.resource_version) == ("MODIFIED", rv(changed))

    # -- delete --------------------------------------------------------------------------------

    async def test_delete_returns_the_object_and_removes_it(self, store: ResourceStore) -> None:
        created = await store.create(bkey("b1"), broker("b1", a=1))
        deleted = await store.delete(bkey("b1"))
        assert deleted["spec"] == {"a": 1}
        assert deleted["metadata"]["uid"] == created["metadata"]["uid"]
        assert rv(deleted) > rv(created)
        with pytest.raises(NotFoundError):
            await store.get(bkey("b1"))
        assert (await store.list(BROKERS)).items == []
        assert (await store.list(BROKERS)).resource_version == rv(deleted)

    # -- finalizers ----------------------------------------------------------------------------

    async def test_a_delete_only_marks_an_object_with_finalizers(
        self, store: ResourceStore
    ) -> None:
        given = broker("b1")
        given["metadata"]["finalizers"] = ["example.com/cleanup"]
        created = await store.create(bkey("b1"), given)
        async with watching(store, BROKERS, since=rv(created)) as events:
            marked = await store.delete(bkey("b1"))
            [event] = await take(events, 1)
        meta = marked["metadata"]
        assert meta["deletionTimestamp"].endswith("Z")
        assert meta["deletionGracePeriodSeconds"] == 0
        assert meta["finalizers"] == ["example.com/cleanup"]
        assert meta["generation"] == 2  # the deletion started
        assert rv(marked) > rv(created)
        assert (event.type, event.object) == ("MODIFIED", marked)
        assert await store.get(bkey("b1")) == marked
        assert await store.delete(bkey("b1")) == marked  # again: nothing changes

    async def test_taking_the_last_finalizer_away_removes_a_deleting_object(
        self, store: ResourceStore
    ) -> None:
        given = broker("b1")
        given["metadata"]["finalizers"] = ["example.com/a", "example.com/b"]
        await store.create(bkey("b1"), given)
        marked = await store.delete(bkey("b1"))
        async with watching(store, BROKERS, since=rv(marked)) as events:
            one_left = dict(marked, metadata=dict(marked["metadata"], finalizers=["example.com/b"]))
            kept = await store.update(bkey("b1"), one_left)
            assert await store.get(bkey("b1")) == kept
            with_status = await store.update(
                bkey("b1"), dict(kept, status={"s": 1}), status_only=True
            )
            none_left = dict(with_status, metadata=dict(with_status["metadata"], finalizers=[]))
            gone = await store.update(bkey("b1"), none_left)
            seen = await take(events, 3)
        assert [e.type for e in seen] == ["MODIFIED", "MODIFIED", "DELETED"]
        removed = seen[2].object  # as it was stored, with the deletion's resourceVersion
        assert removed == dict(with_status, metadata=dict(removed["metadata"]))
        assert removed["metadata"] == dict(with_status["metadata"], resourceVersion=str(rv(gone)))
        assert seen[2].resource_version == rv(gone) > rv(with_status)
        assert gone["metadata"]["finalizers"] == []
        with pytest.raises(NotFoundError):
            await store.get(bkey("b1"))

    async def test_finalizers_removed_before_a_delete_do_not_delete(
        self, store: ResourceStore
    ) -> None:
        given = broker("b1")
        given["metadata"]["finalizers"] = ["example.com/a"]
        created = await store.create(bkey("b1"), given)
        cleared = await store.update(
            bkey("b1"), dict(created, metadata=dict(created["metadata"], finalizers=[]))
        )
        assert await store.get(bkey("b1")) == cleared
        assert cleared["metadata"]["generation"] == 1
        await store.delete(bkey("b1"))
        with pytest.raises(NotFoundError):
            await store.get(bkey("b1"))

    async def test_a_pending_grace_period_keeps_an_object_without_finalizers(
        self, store: ResourceStore
    ) -> None:
        """A Pod marked for a graceful deletion stays until its kubelet deletes it."""
        created = await store.create(bkey("b1"), broker("b1"))
        deletion = {"deletionTimestamp": "2030-01-01T00:00:30Z", "deletionGracePeriodSeconds": 30}
        marked = await store.update(
            bkey("b1"), dict(created, metadata=dict(created["metadata"], **deletion))
        )
        assert marked["metadata"]["generation"] == 2  # the deletion started
        status = await store.update(bkey("b1"), dict(marked, status={"s": 1}), status_only=True)
        assert await store.get(bkey("b1")) == status
        await store.delete(bkey("b1"))
        with pytest.raises(NotFoundError):
            await store.get(bkey("b1"))

    async def test_a_namespace_waits_for_its_spec_finalizers(self, store: ResourceStore) -> None:
        namespace = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "team"},
            "spec": {"finalizers": ["kubernetes"]},
        }
        key = ResourceKey(NAMESPACES, "", "team")
        await store.create(key, namespace)
        marked = await store.delete(key)
        assert marked["metadata"]["deletionTimestamp"]
        finalized = await store.update(key, dict(marked, spec={"finalizers": []}))
        assert finalized["spec"] == {"finalizers": []}
        with pytest.raises(NotFoundError):
            await store.get(key)

    async def test_a_create_drops_the_deletion_fields(self, store: ResourceStore) -> None:
        given = broker("b1")
        given["metadata"].update(
            deletionTimestamp="2030-01-01T00:00:00Z", deletionGracePeriodSeconds=5
        )
        created = await store.create(bkey("b1"), given)
        assert "deletionTimestamp" not in created["metadata"]
        assert "deletionGracePeriodSeconds" not in created["metadata"]

    # -- watch ---------------------------------------------------------------------------------

    async def test_watch_from_a_version_sees_every_later_change_in_order(
        self, store: ResourceStore
    ) -> None:
        since = (await store.list(BROKERS)).resource_version
        async with watching(store, BROKERS, "default", since=since) as events:
            await store.create(bkey("ignored", "other"), broker("ignored", "other"))
            await store.create(ResourceKey(CONFIGMAPS, "default", "b1"), configmap("b1"))
            created = await store.create(bkey("b1"), broker("b1"))
            updated = await store.update(bkey("b1"), broker("b1", x=1))
            status = await store.update(
                bkey("b1"), dict(updated, status={"s": 1}), status_only=True
            )
            deleted = await store.delete(bkey("b1"))
            seen = await take(events, 4)
        assert [e.type for e in seen] == ["ADDED", "MODIFIED", "MODIFIED", "DELETED"]
        assert [e.object for e in seen] == [created, updated, status, deleted]
        assert [e.resource_version for e in seen] == [
            rv(o) for o in (created, updated, status, deleted)
        ]
        assert seen[3].object["spec"] == {"x": 1}  # as it was when deleted

    async def test_watch_replays_history_then_goes_live(self, store: ResourceStore) -> None:
        created = await store.create(bkey("b1"), broker("b1"))
        await store.update(bkey("b1"), broker("b1", x=1))
        await store.create(bkey("b2", "other"), broker("b2", "other"))
        await store.delete(bkey("b1"))
        async with watching(store, BROKERS, since=rv(created)) as everywhere:
            replayed = await take(everywhere, 3)
            live = await store.create(bkey("b3"), broker("b3"))
            [after] = await take(everywhere, 1)
        assert [(e.type, e.object["metadata"]["name"]) for e in replayed] == [
            ("MODIFIED", "b1"),
            ("ADDED", "b2"),
            ("DELETED", "b1"),
        ]
        assert after.object == live
        async with watching(store, BROKERS, "default", since=rv(created)) as in_default:
            assert [e.type for e in await take(in_default, 3)] == ["MODIFIED", "DELETED", "ADDED"]

    async def test_no_change_is_lost_or_repeated_between_replay_and_live(
        self, store: ResourceStore
    ) -> None:
        for stage in range(8):  # start the watch at every stage of a write in flight
            since = (await store.list(CONFIGMAPS)).resource_version
            written: list[int] = []
            some_written = asyncio.Event()

            async def writer(stage: int, written: list[int], some_written: asyncio.Event) -> None:
                for i in range(10):
                    key = ResourceKey(CONFIGMAPS, f"ns{stage}", f"c{i}")
                    written.append(rv(await store.create(key, configmap(f"c{i}", f"ns{stage}"))))
                    if i == 2:
                        some_written.set()

            task = asyncio.create_task(writer(stage, written, some_written))
            await some_written.wait()
            for _ in range(stage):
                await asyncio.sleep(0)
            # the watch replays what was written so far while the writer goes on
            async with watching(store, CONFIGMAPS, since=since) as events:
                seen = await take(events, 10)
            await task
            assert [e.resource_version for e in seen] == written, f"stage {stage}"

    async def test_watch_from_now_skips_the_past(self, store: ResourceStore) -> None:
        await store.create(bkey("old"), broker("old"))
        async with watching(store, BROKERS) as events:
            first = asyncio.ensure_future(anext(events))
            written: list[int] = []
            try:
                async with asyncio.timeout(TIMEOUT):
                    while not first.done():  # until the watch is established and sees a change
                        created = await store.create(bkey(f"new{len(written)}"), broker("x"))
                        written.append(rv(created))
                        await asyncio.wait([first], timeout=0.01)
            finally:
                first.cancel()  # (a no-op once it is done)
                await asyncio.wait([first])
            event = first.result()
            assert event.type == "ADDED"
            assert event.resource_version in written
            later = [w for w in written if w > event.resource_version]
            assert [e.resource_version for e in await take(events, len(later))] == later

    async def test_watch_from_the_current_version_sees_only_new_changes(
        self, store: ResourceStore
    ) -> None:
        created = await store.create(bkey("b1"), broker("b1"))
        async with watching(store, BROKERS, since=rv(created)) as events:
            updated = await store.update(bkey("b1"), broker("b1", x=1))
            [event] = await take(events, 1)
        assert event.resource_version == rv(updated)

    async def test_a_forgotten_resource_version_is_gone(self, tmp_path: Path) -> None:
        store = await self.open_store(tmp_path, history=SHORT_HISTORY)
        try:
            first = await store.create(bkey("b1"), broker("b1"))
            for i in range(5 * SHORT_HISTORY):
                last = await store.update(bkey("b1"), broker("b1", i=i))
            async with watching(store, BROKERS, since=rv(first)) as events:
                with pytest.raises(GoneError):
                    await take(events, 1)
            recent = rv(last) - SHORT_HISTORY
            async with watching(store, BROKERS, since=recent) as events:
                replayed = await take(events, SHORT_HISTORY)
            assert [e.resource_version for e in replayed] == list(range(recent + 1, rv(last) + 1))
        finally:
            await store.close()

    async def test_several_watches_each_see_every_change(self, store: ResourceStore) -> None:
        since = (await store.list(BROKERS)).resource_version
        async with (
            watching(store, BROKERS, since=since) as one,
            watching(store, BROKERS, "default", since=since) as two,
        ):
            created = await store.create(bkey("b1"), broker("b1"))
            assert [e.object for e in await take(one, 1)] == [created]
            assert [e.object for e in await take(two, 1)] == [created]

    # -- cancellation and close ----------------------------------------------------------------

    async def test_cancelled_writers_never_break_later_writes(self, store: ResourceStore) -> None:
        # The kubelet's and the controllers' tasks are cancelled at any moment: a write whose
        # caller is cancelled happens entirely (announced once, in order) or not at all.
        since = (await store.list(CONFIGMAPS)).resource_version
        async with watching(store, CONFIGMAPS, since=since) as events:
            cancelled = 0
            for i in range(60):
                key = ResourceKey(CONFIGMAPS, "default", f"cm-{i}")
                task = asyncio.create_task(store.create(key, configmap(f"cm-{i}")))
                for _ in range(i % 6):  # cancel at every stage of the write
                    await asyncio.sleep(0)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                cancelled += task.cancelled()
            final = await store.create(
                ResourceKey(CONFIGMAPS, "default", "after"), configmap("after")
            )
            stored = await store.list(CONFIGMAPS)
            announced = await take(events, len(stored.items))
        assert cancelled > 0
        assert rv(final) == stored.resource_version
        assert [e.object for e in announced] == sorted(stored.items, key=rv)

    async def test_a_cancelled_watch_leaves_the_store_working(self, store: ResourceStore) -> None:
        since = (await store.list(BROKERS)).resource_version

        async def consume() -> None:
            async for _ in store.watch(BROKERS, since=since):
                pass

        tasks = [asyncio.create_task(consume()) for _ in range(5)]
        await store.create(bkey("b1"), broker("b1"))
        await asyncio.sleep(0)
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks, timeout=TIMEOUT)
        assert all(task.cancelled() for task in tasks)
        async with watching(store, BROKERS, since=since) as events:
            [event] = await take(events, 1)
        assert event.object["metadata"]["name"] == "b1"

    async def test_close_ends_open_watches(self, tmp_path: Path) -> None:
        store = await self.open_store(tmp_path, history=HISTORY)
        since = (await store.list(BROKERS)).resource_version
        seen: list[WatchEvent] = []
        watching_live = asyncio.Event()

        async def consume() -> None:
            async for event in store.watch(BROKERS, since=since):
                seen.append(event)
                watching_live.set()

        task = asyncio.create_task(consume())
        created = await store.create(bkey("b1"), broker("b1"))
        async with asyncio.timeout(TIMEOUT):
            await watching_live.wait()
            await store.close()
            await task  # ended, without an error
        assert [e.object for e in seen] == [created]


class DurableResourceStoreContract(ResourceStoreContract):
    """What a store whose data outlives the store object must show as well."""

    async def test_reopening_finds_everything_and_continues_versions(self, tmp_path: Path) -> None:
        first = await self.open_store(tmp_path, history=HISTORY)
        created = await first.create(bkey("b1"), broker("b1", a=1))
        updated = await first.update(bkey("b1"), dict(created, status={"s": 1}), status_only=True)
        gone = await first.create(bkey("gone"), broker("gone"))
        await first.delete(bkey("gone"))
        await first.close()
        second = await self.open_store(tmp_path, history=HISTORY)
        try:
            assert await second.get(bkey("b1")) == updated
            with pytest.raises(NotFoundError):
                await second.get(bkey("gone"))
            listed = await second.list(BROKERS)
            assert listed.items == [updated]
            assert listed.resource_version > rv(gone)
            again = await second.create(bkey("b2"), broker("b2"))
            assert rv(again) > listed.resource_version
        finally:
            await second.close()

    async def test_a_watch_resumes_across_a_reopen(self, tmp_path: Path) -> None:
        first = await self.open_store(tmp_path, history=HISTORY)
        created = await first.create(bkey("b1"), broker("b1"))
        updated = await first.update(bkey("b1"), broker("b1", a=1))
        await first.close()
        second = await self.open_store(tmp_path, history=HISTORY)
        try:
            async with watching(second, BROKERS, since=rv(created)) as events:
                [replayed] = await take(events, 1)
                live = await second.delete(bkey("b1"))
                [after] = await take(events, 1)
            assert replayed.object == updated
            assert (after.type, after.object) == ("DELETED", live)
        finally:
            await second.close()
