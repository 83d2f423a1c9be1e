"""One contract for both ObjectWatchers: kawa's store in-process, and a remote API server over
HTTPS (a second ``kawa up`` started as a child process, reached through its kubeconfig).
Also an ApiServerSource that watches that remote kawa end to end."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kawa.sources.apiserver.local import StoreCluster
from kawa.sources.apiserver.remote import RemoteCluster, parse_kubeconfig
from kawa.sources.apiserver.watch import Cluster, ObjectWatcher, WatchChange
from kawa.store.sqlite import SqliteResourceStore

from ...e2e.e2e_support import CHILDREN, KawaProcess, kawa_up, stop
from .support import (
    handled,
    put,
    remove,
    running_sources,
    source,
    subscriber,
    wait_condition,
)

Write = Callable[[str, dict[str, Any] | None], Awaitable[dict[str, Any]]]


def config_map(name: str, ns: str = "default", **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns},
        "data": data,
    }


@pytest.fixture(scope="module")
def remote_kawa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KawaProcess]:
    workdir = tmp_path_factory.mktemp("remote-kawa")
    before = len(CHILDREN)
    try:
        with kawa_up(workdir) as kawa:
            status, _ = kawa.request(
                "POST",
                "/api/v1/namespaces",
                {"metadata": {"name": "other", "labels": {"env": "remote"}}, "kind": "Namespace"},
            )
            assert status in (201, 409)
            yield kawa
    finally:
        for proc in CHILDREN[before:]:
            stop(proc)


class Harness:
    """Writes objects to one cluster and hands out its watchers."""

    cluster: Cluster

    async def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    async def delete(self, obj: dict[str, Any]) -> None:
        raise NotImplementedError


class StoreHarness(Harness):
    def __init__(self, store: SqliteResourceStore) -> None:
        self.store = store
        self.cluster = StoreCluster(store, "https://kawa.local")

    async def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        return await put(self.store, obj)

    async def delete(self, obj: dict[str, Any]) -> None:
        await remove(self.store, obj)


class RemoteHarness(Harness):
    def __init__(self, kawa: KawaProcess, session: aiohttp.ClientSession) -> None:
        self.kawa = kawa
        config = parse_kubeconfig((kawa.data_dir / "kubeconfig").read_text())
        self.cluster = RemoteCluster(config, session)

    def _path(self, obj: dict[str, Any], name: bool = True) -> str:
        meta = obj["metadata"]
        path = f"/api/v1/namespaces/{meta['namespace']}/configmaps"
        return f"{path}/{meta['name']}" if name else path

    async def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        status, body = await asyncio.to_thread(self.kawa.request, "PUT", self._path(obj), obj)
        if status == 404:
            status, body = await asyncio.to_thread(
                self.kawa.request, "POST", self._path(obj, False), obj
            )
        assert status in (200, 201), body
        return dict(body)

    async def delete(self, obj: dict[str, Any]) -> None:
        status, body = await asyncio.to_thread(self.kawa.request, "DELETE", self._path(obj))
        assert status == 200, body


@pytest.fixture(params=["store", "remote"])
async def harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    if request.param == "store":
        store = SqliteResourceStore(str(tmp_path / "r.db"))
        try:
            yield StoreHarness(store)
        finally:
            await store.close()
    else:
        kawa = request.getfixturevalue("remote_kawa")
        async with aiohttp.ClientSession() as session:
            yield RemoteHarness(kawa, session)


async def watcher(harness: Harness, ns: str = "default") -> ObjectWatcher:
    info = await harness.cluster.kind_info("v1", "ConfigMap")
    assert (info.plural, info.group, info.namespaced) == ("configmaps", "", True)
    return harness.cluster.watcher(info, ns)


async def take(watch: AsyncIterator[WatchChange], n: int) -> list[WatchChange]:
    out: list[WatchChange] = []

    async def collect() -> None:
        async for change in watch:
            if change.type != "BOOKMARK":
                out.append(change)
                if len(out) == n:
                    return

    await asyncio.wait_for(collect(), 10)
    return out


async def test_list_then_watch(harness: Harness) -> None:
    name = f"cm-{uuid.uuid4().hex[:8]}"
    first = await harness.apply(config_map(name, a="1"))
    w = await watcher(harness)
    listing = await w.list()
    mine = [o for o in listing.items if o["metadata"]["name"] == name]
    assert len(mine) == 1
    assert mine[0]["data"] == {"a": "1"}
    assert (mine[0]["apiVersion"], mine[0]["kind"]) == ("v1", "ConfigMap")
    assert mine[0]["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    stream = w.watch(listing.resource_version)
    gen = aiter(stream)
    # from the listing's resourceVersion: what follows arrives, the watch open yet or not
    pending = asyncio.ensure_future(take(gen, 3))
    updated = await harness.apply(config_map(name, a="2"))
    await harness.delete(config_map(name))
    other = await harness.apply(config_map(f"{name}-b"))
    await harness.delete(config_map(f"{name}-b"))
    changes = await pending
    assert [(c.type, c.object["metadata"]["name"]) for c in changes] == [
        ("MODIFIED", name),
        ("DELETED", name),
        ("ADDED", f"{name}-b"),
    ]
    assert changes[0].object["data"] == {"a": "2"}
    assert changes[0].resource_version == updated["metadata"]["resourceVersion"]
    assert changes[2].resource_version == other["metadata"]["resourceVersion"]
    with contextlib.suppress(Exception):
        await gen.aclose()  # type: ignore[attr-defined]


async def test_watch_from_an_older_resource_version_replays(harness: Harness) -> None:
    name = f"replay-{uuid.uuid4().hex[:8]}"
    w = await watcher(harness)
    start = (await w.list()).resource_version
    await harness.apply(config_map(name, a="1"))
    await harness.apply(config_map(name, a="2"))
    await harness.apply(config_map(name, a="x", ns="other"))  # another namespace: not seen
    changes = await take(aiter(w.watch(start)), 2)
    assert [(c.type, c.object["data"]) for c in changes] == [
        ("ADDED", {"a": "1"}),
        ("MODIFIED", {"a": "2"}),
    ]
    later = await take(aiter(w.watch(changes[0].resource_version)), 1)
    assert later[0].object["data"] == {"a": "2"}


async def test_namespaces_and_unknown_kinds(harness: Harness) -> None:
    from kawa.apis.label_selector import LabelSelector
    from kawa.errors import NotFoundError

    if isinstance(harness, StoreHarness):
        await harness.apply(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}
        )
        await harness.apply(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}
        )
    names = await harness.cluster.namespaces(LabelSelector())
    assert {"default", "other"} <= set(names)
    assert await harness.cluster.namespace_exists("other")
    assert not await harness.cluster.namespace_exists("no-such-namespace")
    with pytest.raises(NotFoundError):
        await harness.cluster.kind_info("v1", "Gadget")


async def test_a_source_watching_a_remote_kawa(remote_kawa: KawaProcess, tmp_path: Path) -> None:
    store = SqliteResourceStore(str(tmp_path / "local.db"))
    kubeconfig = (remote_kawa.data_dir / "kubeconfig").read_bytes()
    try:
        async with subscriber() as sub, running_sources(store, tmp_path):
            src = source(
                "remote",
                {"uri": sub.url},
                [
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "selector": {"matchLabels": {"s": "r"}},
                    }
                ],
                namespaceSelector={"matchLabels": {"env": "remote"}},
                mode="Resource",
                meta={"annotations": {"sources.kawa.dev/kubeconfig-secret": "remote"}},
            )
            await put(store, src)
            missing = await wait_condition(store, "remote", "False", "Deployed")
            assert missing.reason == "KubeconfigNotFound"
            secret = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "remote", "namespace": "default"},
                "data": {"kubeconfig": base64.b64encode(kubeconfig).decode()},
            }
            await put(store, secret)
            await wait_condition(store, "remote", "True")
            async with aiohttp.ClientSession() as session:
                harness = RemoteHarness(remote_kawa, session)
                cm = config_map("watched", ns="other", k="v")
                cm["metadata"]["labels"] = {"s": "r"}
                created = await harness.apply(cm)
                unlabelled = await harness.apply(config_map("unlabelled", ns="other"))
                events = await sub.wait_for(1)
                await handled(store, tmp_path, unlabelled, "remote")  # after "watched"
            assert len(events) == 1
    finally:
        await store.close()
    event = events[0]
    assert event.type == "dev.knative.apiserver.resource.add"
    api_url = parse_kubeconfig(kubeconfig.decode()).server
    assert event.source == api_url
    assert event.get("subject") == "/apis/v1/namespaces/other/configmaps/watched"
    assert sub.data(0)["data"] == {"k": "v"}
    assert sub.data(0)["metadata"]["uid"] == created["metadata"]["uid"]


async def test_remote_credentials_refused_is_not_ready(
    remote_kawa: KawaProcess, tmp_path: Path
) -> None:
    store = SqliteResourceStore(str(tmp_path / "local.db"))
    kubeconfig = (remote_kawa.data_dir / "kubeconfig").read_text()
    token = (remote_kawa.data_dir / "token").read_text().strip()
    try:
        async with subscriber() as sub, running_sources(store, tmp_path):
            secret: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "remote", "namespace": "default"},
                "stringData": {"kubeconfig": kubeconfig.replace(token, "wrong-token")},
            }
            await put(store, secret)
            src = source(
                "remote",
                {"uri": sub.url},
                [{"apiVersion": "v1", "kind": "ConfigMap"}],
                meta={"annotations": {"sources.kawa.dev/kubeconfig-secret": "remote"}},
            )
            await put(store, src)
            refused = await wait_condition(store, "remote", "False", "SufficientPermissions")
            assert refused.reason == "InsufficientPermissions"
            assert refused.message.startswith("https://127.0.0.1:")
            secret["metadata"]["name"] = "broken"
            secret["stringData"] = {"kubeconfig": "clusters: [}"}
            await put(store, secret)
            src["metadata"]["annotations"]["sources.kawa.dev/kubeconfig-secret"] = "broken"
            await put(store, src)
            broken = await wait_condition(store, "remote", "False", "Deployed")
            assert broken.reason == "InvalidKubeconfig"
            assert "data.kubeconfig" in broken.message
    finally:
        await store.close()
