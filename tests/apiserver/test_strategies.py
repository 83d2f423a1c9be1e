"""Per-kind strategies through the API: a Pod is deleted gracefully (``deletionTimestamp``)
when it runs on a node, at once otherwise, and updates keep the deletion fields; the
protected namespaces are never deleted; other kinds follow the default (deleted at once).
No kubelet runs here: a Pod being deleted stays until someone removes it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from kawa.errors import NotFoundError
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from .api_support import serving as serving_api

PODS = "/api/v1/namespaces/default/pods"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[tuple[SqliteResourceStore, aiohttp.ClientSession, str]]:
    async with serving_api() as api:
        yield api.store, api.client, api.url + PODS


def pod(name: str, node: str = "kawa", grace: int = 30) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [{"name": "c", "image": "busybox", "args": ["sleep", "60"]}],
        "terminationGracePeriodSeconds": grace,
    }
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def node(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": {}}


async def create(client: aiohttp.ClientSession, url: str, obj: dict[str, Any]) -> None:
    async with client.post(url, json=obj) as resp:
        assert resp.status == 201, await resp.text()


async def test_a_bound_pod_is_deleted_gracefully() -> None:
    async with serving() as (store, client, url):
        await create(client, url, pod("p", grace=7))
        async with client.delete(f"{url}/p") as resp:
            assert resp.status == 200
            body = await resp.json()
        meta = body["metadata"]
        assert meta["deletionGracePeriodSeconds"] == 7
        assert meta["deletionTimestamp"].endswith("Z")
        stored = await store.get(ResourceKey("pods", "default", "p"))
        assert stored["metadata"]["deletionTimestamp"] == meta["deletionTimestamp"]
        # kubectl get pods says Terminating
        async with client.get(url, headers={"Accept": TABLE}) as resp:
            table = await resp.json()
        assert table["rows"][0]["cells"][2] == "Terminating"
        # a label change (PUT or patch) keeps the deletion, a forged one is ignored
        stored["metadata"]["labels"] = {"a": "b"}
        stored["metadata"]["deletionTimestamp"] = "2000-01-01T00:00:00Z"
        async with client.put(f"{url}/p", json=stored) as resp:
            assert resp.status == 200, await resp.text()
            assert (await resp.json())["metadata"]["deletionTimestamp"] == meta["deletionTimestamp"]
        patch = {"metadata": {"labels": {"c": "d"}, "deletionTimestamp": None}}
        headers = {"Content-Type": "application/merge-patch+json"}
        async with client.patch(f"{url}/p", json=patch, headers=headers) as resp:
            patched = await resp.json()
            assert patched["metadata"]["deletionTimestamp"] == meta["deletionTimestamp"]
            assert patched["metadata"]["labels"] == {"a": "b", "c": "d"}
        # deleting again with a longer period changes nothing; a shorter one shortens it
        async with client.delete(f"{url}/p", json={"gracePeriodSeconds": 60}) as resp:
            assert (await resp.json())["metadata"]["deletionGracePeriodSeconds"] == 7
        async with client.delete(f"{url}/p?gracePeriodSeconds=2") as resp:
            assert (await resp.json())["metadata"]["deletionGracePeriodSeconds"] == 2
        # --grace-period=0 --force: gone at once
        async with client.delete(f"{url}/p", json={"gracePeriodSeconds": 0}) as resp:
            assert resp.status == 200
        with pytest.raises(NotFoundError):
            await store.get(ResourceKey("pods", "default", "p"))


async def test_pods_not_running_on_a_node_go_at_once() -> None:
    async with serving() as (store, client, url):
        await create(client, url, pod("unbound", node=""))
        await create(client, url, pod("done"))
        key = ResourceKey("pods", "default", "done")
        done = await store.get(key)
        done["status"] = {"phase": "Succeeded"}
        await store.update(key, done, status_only=True)
        for name in ("unbound", "done"):
            async with client.delete(f"{url}/{name}") as resp:
                assert resp.status == 200
            with pytest.raises(NotFoundError):
                await store.get(ResourceKey("pods", "default", name))


async def test_a_bad_grace_period_is_refused() -> None:
    async with serving() as (_, client, url):
        await create(client, url, pod("p"))
        async with client.delete(f"{url}/p?gracePeriodSeconds=soon") as resp:
            assert resp.status == 422
            assert "gracePeriodSeconds" in await resp.text()
        async with client.delete(f"{url}/p", json={"gracePeriodSeconds": "1"}) as resp:
            assert resp.status == 422


async def test_deleting_the_collection_is_graceful_too() -> None:
    async with serving() as (store, client, url):
        await create(client, url, pod("bound"))
        await create(client, url, pod("unbound", node=""))
        async with client.delete(url) as resp:
            assert resp.status == 200
        left = (await store.list("pods", "default")).items
        assert [p["metadata"]["name"] for p in left] == ["bound"]
        assert left[0]["metadata"]["deletionTimestamp"]


async def test_the_protected_namespaces_are_never_deleted() -> None:
    async with serving_api() as api:
        for name in ("kube-system", "kube-public", "doomed"):
            namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            assert (await api.call("POST", "/api/v1/namespaces", namespace))[0] == 201
        status, body = await api.call("DELETE", "/api/v1/namespaces/default")
        assert (status, body["reason"]) == (403, "Forbidden")
        assert (
            body["message"]
            == 'namespaces "default" is forbidden: this namespace may not be deleted'
        )
        status, body = await api.call("DELETE", "/api/v1/namespaces")
        assert status == 200
        assert [i["metadata"]["name"] for i in body["items"]] == ["doomed"]
        left = {n["metadata"]["name"]: n for n in (await api.store.list("namespaces")).items}
        assert sorted(left) == ["default", "doomed", "kube-public", "kube-system"]
        # no namespace controller runs here to empty it: it stays, terminating
        assert left["doomed"]["status"]["phase"] == "Terminating"
        assert left["doomed"]["metadata"]["deletionTimestamp"]
        assert not left["default"]["metadata"].get("deletionTimestamp")


async def test_other_kinds_are_deleted_at_once() -> None:
    """The default strategy: a grace period means nothing to a ConfigMap."""
    async with serving_api() as api:
        path = "/api/v1/namespaces/default/configmaps"
        configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
        assert (await api.call("POST", path, configmap))[0] == 201
        status, body = await api.call("DELETE", f"{path}/c", {"gracePeriodSeconds": 30})
        assert status == 200
        assert "deletionTimestamp" not in body["metadata"]
        with pytest.raises(NotFoundError):
            await api.store.get(ResourceKey("configmaps", "default", "c"))


async def test_pods_run_on_existing_nodes_only() -> None:
    """A Pod naming a node that does not exist would never run nor stop: refused; one stored
    so (its node deleted, or by an older kawa) goes at once when deleted."""
    async with serving() as (store, client, url):
        async with client.post(url, json=pod("elsewhere", node="node-7")) as resp:
            assert resp.status == 422
            body = await resp.json()
        [cause] = body["details"]["causes"]
        assert cause["field"] == "spec.nodeName"
        assert 'node "node-7" not found' in cause["message"]
        await store.create(ResourceKey("nodes", "", "node-2"), node("node-2"))
        await create(client, url, pod("on-node-2", node="node-2"))
        await create(client, url, pod("unbound", node=""))
        binding = {"spec": {"nodeName": "node-7"}}
        headers = {"Content-Type": "application/merge-patch+json"}
        async with client.patch(f"{url}/unbound", json=binding, headers=headers) as resp:
            assert resp.status == 422
        key = ResourceKey("pods", "default", "old")
        await store.create(key, pod("old", node="node-7"))
        async with client.delete(f"{url}/old") as resp:
            assert resp.status == 200
        with pytest.raises(NotFoundError):
            await store.get(key)
