"""The ResourceStore contract against JetStream (a KV bucket on a private nats-server), and
what only a shared, networked backend has: two processes on one bucket, key escaping, the
sweep of deleted keys, markers written by other tools, consumers left behind, bad buckets
(streams of the bucket's name or subjects that kawa did not make, other replicas, a user who
may not make the bucket: each refused with a message saying what differs, changing nothing)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from pathlib import Path

import nats.js.errors
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType

from kawa.errors import (
    AlreadyExistsError,
    ConflictError,
    GoneError,
    NotFoundError,
    PermanentError,
    TemporaryError,
)
from kawa.jetstream import JetStreamRefused, NatsOptions, StreamConflict, connect
from kawa.store.base import ResourceKey, ResourceStore
from kawa.store.jetstream import JetStreamResourceStore
from kawa.store.jetstream_reads import kv_key

from ..nats_support import as_user, nats_server, nats_url, unique, users_config
from ..waiting import eventually
from .contract import (
    BROKERS,
    DurableResourceStoreContract,
    bkey,
    broker,
    configmap,
    rv,
    take,
    watching,
)

__all__ = ["nats_url"]


def bucket_for(tmp_path: Path) -> str:
    """The test's bucket: a new one, or the one a store under ``tmp_path`` used before."""
    marker = tmp_path / "bucket"
    if not marker.exists():
        marker.write_text(unique("store"))
    return marker.read_text()


class TestJetStreamStore(DurableResourceStoreContract):
    url: str

    @pytest.fixture(autouse=True)
    def _server(self, nats_url: str) -> None:
        self.url = nats_url

    async def open_store(self, tmp_path: Path, *, history: int) -> ResourceStore:
        return await JetStreamResourceStore.open(
            NatsOptions((self.url,)), bucket_for(tmp_path), history=history
        )


# -- what only a shared, networked backend has -------------------------------------------------


@contextlib.asynccontextmanager
async def two_stores(url: str, history: int = 64) -> AsyncIterator[tuple[ResourceStore, ...]]:
    """Two stores on one bucket, each with its own connection (two kawa processes)."""
    bucket = unique("shared")
    one = await JetStreamResourceStore.open(NatsOptions((url,)), bucket, history=history)
    two = await JetStreamResourceStore.open(NatsOptions((url,)), bucket, history=history)
    try:
        yield one, two
    finally:
        await one.close()
        await two.close()


async def test_two_processes_share_objects_versions_and_watches(nats_url: str) -> None:
    async with two_stores(nats_url) as (one, two):
        since = (await two.list(BROKERS)).resource_version
        async with watching(two, BROKERS, since=since) as events:
            created = await one.create(bkey("b1"), broker("b1"))
            assert await two.get(bkey("b1")) == created
            updated = await two.update(bkey("b1"), dict(created, spec={"a": 1}))
            with pytest.raises(ConflictError, match="modified"):
                await one.update(bkey("b1"), dict(created, spec={"a": 2}))
            with pytest.raises(AlreadyExistsError):
                await one.create(bkey("b1"), broker("b1"))
            deleted = await one.delete(bkey("b1"))
            seen = await take(events, 3)
        assert [(e.type, e.object) for e in seen] == [
            ("ADDED", created),
            ("MODIFIED", updated),
            ("DELETED", deleted),
        ]
        assert (await one.list(BROKERS)).resource_version == rv(deleted)
        assert (await two.list(BROKERS)).resource_version == rv(deleted)


async def test_keys_of_any_name_stay_apart(nats_url: str) -> None:
    # RBAC names hold ':' and dots; names and resources with dots must not run together
    keys = [
        ResourceKey("clusterroles.rbac.authorization.k8s.io", "", "system:controller:a.b"),
        ResourceKey("clusterroles.rbac.authorization.k8s.io", "", "system=3Acontroller"),
        ResourceKey("a.b", "c", "d"),
        ResourceKey("a", "b.c", "d"),
        ResourceKey("a", "b", "c.d"),
        ResourceKey("a", "", "b"),
        ResourceKey("a", "=", "b"),
        ResourceKey("configmaps", "default", "ü-ñ_x"),
    ]
    async with two_stores(nats_url) as (store, _):
        for key in keys:
            await store.create(key, {"metadata": {}, "data": {"key": str(key)}})
        for key in keys:
            assert (await store.get(key))["data"] == {"key": str(key)}
        listed = await store.list("clusterroles.rbac.authorization.k8s.io")
        assert [o["metadata"]["name"] for o in listed.items] == [
            "system:controller:a.b",
            "system=3Acontroller",
        ]
        assert [o["data"]["key"] for o in (await store.list("a", "b")).items] == [
            str(ResourceKey("a", "b", "c.d"))
        ]
        assert len((await store.list("a")).items) == 4


async def test_a_deleted_key_is_swept_after_history_changes(nats_url: str) -> None:
    history = 5
    async with two_stores(nats_url, history=history) as (store, _):
        assert isinstance(store, JetStreamResourceStore)
        key = bkey("short-lived")
        created = await store.create(key, broker("short-lived"))
        await store.update(key, broker("short-lived", a=1))
        await store.delete(key)
        recreated = await store.create(key, broker("short-lived", again=True))
        client, js = await connect(NatsOptions((nats_url,)))
        try:
            subject = f"$KV.{store.bucket}.{kv_key(key)}"

            async def kept() -> int:
                info = await js.stream_info(store.stream, subjects_filter=subject)
                return (info.state.subjects or {}).get(subject, 0)

            assert await kept() == 4  # created, updated, deleted, created again
            for i in range(history):
                await store.create(bkey(f"other{i}"), broker(f"other{i}"))

            async def swept() -> bool:
                return await kept() == 1

            await eventually(swept, message="the deleted revisions and marker are purged")
            assert await store.get(key) == recreated
            with pytest.raises(GoneError):
                async with watching(store, BROKERS, since=rv(created)) as events:
                    await take(events, 1)
        finally:
            await client.close()


async def test_a_bodiless_delete_marker_is_a_deletion_watches_skip(nats_url: str) -> None:
    """A key deleted by hand (``nats kv del``) is gone; there is no object to announce."""
    async with two_stores(nats_url) as (store, _):
        assert isinstance(store, JetStreamResourceStore)
        created = await store.create(bkey("b1"), broker("b1"))
        client, js = await connect(NatsOptions((nats_url,)))
        try:
            kv = await js.key_value(store.bucket)
            await kv.delete(kv_key(bkey("b1")))
        finally:
            await client.close()
        with pytest.raises(NotFoundError):
            await store.get(bkey("b1"))
        assert (await store.list(BROKERS)).items == []
        async with watching(store, BROKERS, since=rv(created)) as events:
            later = await store.create(bkey("b2"), broker("b2"))
            [event] = await take(events, 1)
        assert (event.type, event.object) == ("ADDED", later)
        again = await store.create(bkey("b1"), broker("b1"))  # over the marker
        assert rv(again) > rv(later)


async def test_lists_and_watches_leave_no_consumer_behind(nats_url: str) -> None:
    async with two_stores(nats_url) as (store, _):
        assert isinstance(store, JetStreamResourceStore)
        await store.create(bkey("b1"), broker("b1"))
        for _ in range(3):
            since = (await store.list(BROKERS)).resource_version
            async with watching(store, BROKERS, since=since - 1) as events:
                await take(events, 1)
        client, js = await connect(NatsOptions((nats_url,)))
        try:

            async def none_left() -> bool:
                return not await consumers(js, store.stream)

            await eventually(none_left, message="the consumers are deleted")
        finally:
            await client.close()


async def consumers(js: JetStreamContext, stream: str) -> list[str]:
    return [str(c.name) for c in await js.consumers_info(stream)]


async def test_a_stream_of_the_name_that_is_no_bucket_is_refused(nats_url: str) -> None:
    bucket = unique("taken")
    client, js = await connect(NatsOptions((nats_url,)))
    try:
        await js.add_stream(name=f"KV_{bucket}", subjects=[f"other.{bucket}"])
        await js.publish(f"other.{bucket}", b"theirs")
        with pytest.raises(StreamConflict) as caught:
            await JetStreamResourceStore.attach(client, js, bucket)
        assert str(caught.value).startswith(
            f"JetStream stream KV_{bucket} (the resource store's KV bucket {bucket}) exists "
            f"with other settings than kawa's: subjects is [other.{bucket}], kawa's is "
            f"[$KV.{bucket}.>]. kawa changes nothing in it: if it is not kawa's, remove it "
            f"(nats stream rm KV_{bucket})"
        )
        info = await js.stream_info(f"KV_{bucket}")
        assert (info.config.subjects, info.state.messages) == ([f"other.{bucket}"], 1)
        with pytest.raises(PermanentError, match="expected letters, digits"):
            await JetStreamResourceStore.attach(client, js, "bad.name")
    finally:
        await client.close()


async def test_a_bucket_of_the_name_with_other_settings_is_refused(nats_url: str) -> None:
    """A KV bucket kawa did not make (another history, memory storage) is left as it is."""
    bucket = unique("theirs")
    client, js = await connect(NatsOptions((nats_url,)))
    try:
        kv = await js.create_key_value(
            KeyValueConfig(bucket=bucket, history=5, storage=StorageType.MEMORY)
        )
        await kv.put("k", b"v")
        before = (await js.stream_info(f"KV_{bucket}")).config
        with pytest.raises(StreamConflict) as caught:
            await JetStreamResourceStore.open(NatsOptions((nats_url,)), bucket)
        assert (
            f"JetStream stream KV_{bucket} (the resource store's KV bucket {bucket}) exists "
            "with other settings than kawa's: storage is memory, kawa's is file; history "
            "(max_msgs_per_subject) is 5, kawa's is 64. kawa changes nothing in it"
        ) in str(caught.value)
        after = await js.stream_info(f"KV_{bucket}")
        assert after.config == before
        assert (await kv.get("k")).value == b"v"
    finally:
        await client.close()


async def test_a_bucket_with_other_replicas_is_refused(nats_url: str) -> None:
    """kawa changes no bucket's replicas: restarting with another --nats-replicas says so."""
    bucket = unique("replicated")
    store = await JetStreamResourceStore.open(NatsOptions((nats_url,)), bucket)
    await store.create(bkey("b"), broker("b"))
    await store.close()
    with pytest.raises(StreamConflict) as caught:
        await JetStreamResourceStore.open(NatsOptions((nats_url,), replicas=3), bucket)
    assert str(caught.value) == (
        f"JetStream stream KV_{bucket} (the resource store's KV bucket {bucket}) has 1 "
        "replica(s), and kawa was started with --nats-replicas 3: start kawa with "
        "--nats-replicas 1, or change the stream's replicas first (nats stream edit "
        f"KV_{bucket} --replicas 3); kawa changes nothing in it"
    )
    again = await JetStreamResourceStore.open(NatsOptions((nats_url,)), bucket)
    try:
        assert (await again.get(bkey("b")))["metadata"]["name"] == "b"
    finally:
        await again.close()


async def test_a_stream_holding_the_buckets_subjects_is_named(nats_url: str) -> None:
    bucket = unique("covered")
    client, js = await connect(NatsOptions((nats_url,)))
    try:
        await js.add_stream(name=f"wide{bucket}", subjects=[f"$KV.{bucket}.>"])
        with pytest.raises(StreamConflict) as caught:
            await JetStreamResourceStore.attach(client, js, bucket)
        assert str(caught.value).startswith(
            f"JetStream stream wide{bucket} holds subjects of the resource store's KV bucket "
            f"{bucket} ($KV.{bucket}.>), so kawa cannot make its stream KV_{bucket} there: "
            f"kawa changes nothing in wide{bucket}"
        )
        with pytest.raises(nats.js.errors.NotFoundError):
            await js.stream_info(f"KV_{bucket}")
    finally:
        await client.close()


async def test_a_user_who_may_not_make_the_bucket_is_told(tmp_path: Path) -> None:
    conf = users_config(tmp_path / "nats.conf", 'publish: {deny: ["$JS.API.STREAM.CREATE.>"]}')
    with nats_server(tmp_path / "nats", "-c", str(conf)) as url:
        options = NatsOptions.parse(as_user(url, "kawa"))
        with pytest.raises(JetStreamRefused) as caught:
            await JetStreamResourceStore.open(options, "refused")
        assert (
            f"NATS at {options.where} refused user 'kawa' while opening the resource store "
            'refused: permissions violation for publish to "$JS.API.STREAM.CREATE.KV_refused"'
        ) in str(caught.value)
        client, js = await connect(NatsOptions.parse(as_user(url, "admin")))
        try:
            assert await js.streams_info() == []
        finally:
            await client.close()


async def test_reopening_with_another_history_changes_the_bucket(nats_url: str) -> None:
    bucket = unique("resized")
    first = await JetStreamResourceStore.open(NatsOptions((nats_url,)), bucket, history=3)
    await first.close()
    second = await JetStreamResourceStore.open(NatsOptions((nats_url,)), bucket, history=7)
    await second.close()
    client, js = await connect(NatsOptions((nats_url,)))
    try:
        info = await js.stream_info(f"KV_{bucket}")
        assert info.config.max_msgs_per_subject == 7
    finally:
        await client.close()


async def test_a_revision_gone_from_the_middle_of_the_history_is_gone(nats_url: str) -> None:
    """The per-key history drops a busy object's old revisions while an older, unchanged
    object stays first in the stream: a watch from before the dropped ones must not skip
    them silently."""
    async with two_stores(nats_url, history=3) as (store, _):
        await store.create(bkey("stable"), broker("stable"))
        busy = await store.create(bkey("busy"), broker("busy"))
        versions = [rv(await store.update(bkey("busy"), broker("busy", i=i))) for i in range(5)]
        with pytest.raises(GoneError, match=f"resourceVersion {rv(busy)} is too old"):
            async with watching(store, BROKERS, since=rv(busy)) as events:
                await take(events, 1)
        async with watching(store, BROKERS, since=versions[-4]) as events:
            assert [e.resource_version for e in await take(events, 3)] == versions[-3:]


async def test_an_object_larger_than_the_servers_payload_limit_is_refused(nats_url: str) -> None:
    async with two_stores(nats_url) as (store, _):
        big = configmap("big", blob="x" * (2 * 1024 * 1024))
        with pytest.raises(TemporaryError, match="more than the NATS server's max_payload"):
            await store.create(ResourceKey("configmaps", "default", "big"), big)
        with pytest.raises(NotFoundError):
            await store.get(ResourceKey("configmaps", "default", "big"))


async def test_a_call_cancelled_as_its_answer_arrives_ends_cancelled(nats_url: str) -> None:
    """nats-py waits for each request's answer with ``asyncio.wait_for``, which on Python 3.11
    returns the answer and drops a cancel that comes at that moment (bpo-42130). The store
    gives such a cancel back: each call, cancelled at the answer of each of its requests in
    turn, ends cancelled (a controller stopped while it lists would otherwise run on, and
    ``kawa up`` never finished on SIGTERM)."""
    client, js = await connect(NatsOptions((nats_url,)))
    try:
        store = await JetStreamResourceStore.attach(client, js, unique("cancel"))
        names = (f"b{i}" for i in itertools.count())

        async def delete() -> object:
            name = next(names)
            await store.create(bkey(name), broker(name))
            return await store.delete(bkey(name))

        since = rv(await store.create(bkey("kept"), broker("kept"))) - 1

        async def watch() -> object:
            watch = store.watch(BROKERS, since=since)
            assert isinstance(watch, AsyncGenerator)
            async with contextlib.aclosing(watch) as events:
                async for event in events:
                    return event
            return None

        calls: dict[str, Callable[[], Awaitable[object]]] = {
            "watch": watch,
            "get": lambda: store.get(bkey("kept")),
            "list": lambda: store.list(BROKERS),
            "create": lambda: store.create(bkey(name := next(names)), broker(name)),
            "update": lambda: store.update(bkey("kept"), broker("kept", n=next(names))),
            "delete": delete,
        }
        wrong = []
        for what, call in calls.items():
            n = 0
            while (ended := await cancelled_at_answer(client, call, n := n + 1)) is not None:
                if ended != "cancelled":
                    wrong.append(f"{what}, cancelled at its answer {n}: {ended}")
            assert n > 1, f"{what} made no request"
        assert not wrong, "\n".join(wrong)
    finally:
        await client.close()


async def cancelled_at_answer(
    client: Client, call: Callable[[], Awaitable[object]], n: int
) -> str | None:
    """Run ``call`` in a task and cancel the task when its ``n``-th request is answered, at
    the moment the answer arrives (a callback of the request's future, found in nats-py's
    table of requests awaiting answers); how the task ended, or None if it made fewer
    requests."""

    async def run() -> object:
        return await call()

    task = asyncio.create_task(run())
    seen: list[asyncio.Future[object]] = []
    async with asyncio.timeout(10):  # a swallowed cancel may leave a watch waiting for ever
        while not task.done():
            for answer in list(client._resp_map.values()):
                if all(answer is not other for other in seen):
                    seen.append(answer)
                    if len(seen) == n:
                        answer.add_done_callback(lambda _: task.cancel())
            await asyncio.sleep(0)
    if len(seen) < n:
        await task
        return None
    if task.cancelled():
        return "cancelled"
    return f"returned {task.result()!r}" if task.exception() is None else repr(task.exception())
