"""Finalizers through the API, as Kubernetes keeps them: a DELETE of an object with
finalizers only marks it (``deletionTimestamp``, ``deletionGracePeriodSeconds: 0``); the
update that takes the last finalizer away removes it (a watch sees ``DELETED``); no new
finalizer may be added while it is being deleted, a create of its name says it is being
deleted; finalizer names are checked (built-in kinds: standard or domain-qualified). Real
HTTP to kawa's API server over a real SQLite store, no controllers."""

from __future__ import annotations

from typing import Any, Final

import aiohttp
import orjson
import pytest

from kawa.errors import NotFoundError
from kawa.store.base import ResourceKey

from .api_support import Api, serving

CM: Final = "/api/v1/namespaces/default/configmaps"
BROKERS: Final = "/apis/eventing.knative.dev/v1/namespaces/default/brokers"
MERGE: Final = {"Content-Type": "application/merge-patch+json"}
JSON_PATCH: Final = {"Content-Type": "application/json-patch+json"}


def configmap(name: str, *finalizers: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "finalizers": list(finalizers)},
        "data": {"a": "1"},
    }


async def created(api: Api, path: str, obj: dict[str, Any]) -> dict[str, Any]:
    status, body = await api.call("POST", path, obj)
    assert status == 201, body
    return dict(body)


async def test_a_delete_keeps_an_object_with_finalizers_until_they_are_gone() -> None:
    async with serving() as api:
        first = await created(api, CM, configmap("c", "example.com/a", "example.com/b"))
        watch_url = f"{api.url}{CM}?watch=1&resourceVersion={first['metadata']['resourceVersion']}"
        async with api.client.get(watch_url, timeout=aiohttp.ClientTimeout(total=30)) as stream:
            status, marked = await api.call("DELETE", f"{CM}/c")
            assert status == 200
            meta = marked["metadata"]
            assert meta["deletionTimestamp"].endswith("Z")
            assert meta["deletionGracePeriodSeconds"] == 0
            assert meta["finalizers"] == ["example.com/a", "example.com/b"]
            status, again = await api.call("GET", f"{CM}/c")
            assert (status, again) == (200, marked)
            # a second delete changes nothing
            assert (await api.call("DELETE", f"{CM}/c"))[1] == marked
            # kubectl patch --type=json: one finalizer goes, the object stays
            remove_first = [{"op": "remove", "path": "/metadata/finalizers/0"}]
            status, one_left = await api.call("PATCH", f"{CM}/c", remove_first, JSON_PATCH)
            assert status == 200, one_left
            assert one_left["metadata"]["finalizers"] == ["example.com/b"]
            assert one_left["metadata"]["deletionTimestamp"] == meta["deletionTimestamp"]
            # kubectl patch --type=merge: the last goes, and so does the object
            last = {"metadata": {"finalizers": None}}
            status, gone = await api.call("PATCH", f"{CM}/c", last, MERGE)
            assert status == 200, gone
            assert "finalizers" not in gone["metadata"]
            status, missing = await api.call("GET", f"{CM}/c")
            assert (status, missing["reason"]) == (404, "NotFound")
            events = []
            async for raw in stream.content:
                if raw.strip():
                    events.append(orjson.loads(raw))
                if len(events) == 3:
                    break
    assert [e["type"] for e in events] == ["MODIFIED", "MODIFIED", "DELETED"]
    assert events[0]["object"] == marked
    assert events[2]["object"]["metadata"]["finalizers"] == ["example.com/b"]  # as stored


async def test_a_put_without_the_finalizers_removes_a_deleting_object() -> None:
    async with serving() as api:
        await created(api, CM, configmap("c", "example.com/a"))
        _, marked = await api.call("DELETE", f"{CM}/c")
        marked["metadata"]["finalizers"] = []
        status, body = await api.call("PUT", f"{CM}/c", marked)
        assert status == 200, body
        with pytest.raises(NotFoundError):
            await api.store.get(ResourceKey("configmaps", "default", "c"))


async def test_no_new_finalizers_while_deleting_and_updates_keep_the_deletion() -> None:
    async with serving() as api:
        await created(api, CM, configmap("c", "example.com/a"))
        _, marked = await api.call("DELETE", f"{CM}/c")
        add = {"metadata": {"finalizers": ["example.com/a", "example.com/new"]}}
        status, body = await api.call("PATCH", f"{CM}/c", add, MERGE)
        assert (status, body["reason"]) == (422, "Invalid"), body
        [cause] = body["details"]["causes"]
        assert cause["field"] == "metadata.finalizers"
        assert 'found new finalizers ["example.com/new"]' in cause["message"]
        # a label change keeps the finalizer and the deletion fields, forged ones included
        label = {
            "metadata": {
                "labels": {"x": "y"},
                "deletionTimestamp": None,
                "deletionGracePeriodSeconds": 30,
            }
        }
        status, labelled = await api.call("PATCH", f"{CM}/c", label, MERGE)
        assert status == 200, labelled
        for field in ("deletionTimestamp", "deletionGracePeriodSeconds", "finalizers"):
            assert labelled["metadata"][field] == marked["metadata"][field]
        # a create of the name while it is held says why
        status, body = await api.call("POST", CM, configmap("c"))
        assert (status, body["reason"]) == (409, "AlreadyExists")
        assert body["message"].startswith("object is being deleted: ")


async def test_an_update_never_starts_a_deletion() -> None:
    async with serving() as api:
        await created(api, CM, configmap("c", "example.com/a"))
        forged = {"metadata": {"deletionTimestamp": "2030-01-01T00:00:00Z"}}
        status, body = await api.call("PATCH", f"{CM}/c", forged, MERGE)
        assert status == 200, body
        assert "deletionTimestamp" not in body["metadata"]
        status, body = await api.call(
            "POST", CM, dict(configmap("d"), metadata=forged["metadata"] | {"name": "d"})
        )
        assert status == 201, body
        assert "deletionTimestamp" not in body["metadata"]


async def test_finalizer_names_are_checked() -> None:
    async with serving() as api:
        # built-in kinds: qualified names, and no bare names Kubernetes does not define
        status, body = await api.call("POST", CM, configmap("c", "cleanup", "Not A Name!"))
        assert (status, body["reason"]) == (422, "Invalid"), body
        causes = {(c["field"], c["message"].split(":")[0]) for c in body["details"]["causes"]}
        assert ("metadata.finalizers[0]", "invalid value 'cleanup'") in causes
        assert ("metadata.finalizers", "invalid value 'Not A Name!'") in causes
        message = next(
            c["message"] for c in body["details"]["causes"] if c["field"].endswith("[0]")
        )
        assert "neither a standard finalizer name nor is it fully qualified" in message
        both = configmap("c", "orphan", "foregroundDeletion")
        status, body = await api.call("POST", CM, both)
        assert status == 422
        assert "cannot be both set" in body["message"]
        for fine in ("kubernetes", "foregroundDeletion", "example.com/cleanup"):
            assert (await api.call("POST", CM, configmap(f"c-{fine.lower()[:5]}", fine)))[0] == 201
        # a custom kind (Knative's) may use a bare name, with a warning (as for CRDs)
        broker = {
            "apiVersion": "eventing.knative.dev/v1",
            "kind": "Broker",
            "metadata": {"name": "b", "finalizers": ["cleanup"]},
        }
        async with api.client.post(api.url + BROKERS, json=broker) as resp:
            assert resp.status == 201, await resp.text()
            warning = resp.headers.get("Warning", "")
        assert "prefer a domain-qualified finalizer name" in warning
        broker["metadata"] = {"name": "b2", "finalizers": ["bad name"]}
        assert (await api.call("POST", BROKERS, broker))[0] == 422
        # a Namespace's spec.finalizers: standard or qualified
        namespace = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "team"},
            "spec": {"finalizers": ["cleanup"]},
        }
        status, body = await api.call("POST", "/api/v1/namespaces", namespace)
        assert status == 422, body
        assert body["details"]["causes"][0]["field"] == "spec.finalizers[0]"
        namespace["spec"] = {"finalizers": ["example.com/x"]}
        status, body = await api.call("POST", "/api/v1/namespaces", namespace)
        assert status == 201, body
        assert body["spec"]["finalizers"] == ["example.com/x", "kubernetes"]


async def test_a_forced_pod_deletion_held_by_a_finalizer() -> None:
    """A Pod's graceful deletion with a finalizer: marked, then kept with no grace left."""
    async with serving() as api:
        pods = "/api/v1/namespaces/default/pods"
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "finalizers": ["example.com/a"]},
            "spec": {"nodeName": "kawa", "containers": [{"name": "c", "image": "busybox"}]},
        }
        await created(api, pods, pod)
        status, body = await api.call("DELETE", f"{pods}/p", {"gracePeriodSeconds": 0})
        assert status == 200, body
        assert body["metadata"]["deletionGracePeriodSeconds"] == 0
        assert (await api.call("GET", f"{pods}/p"))[0] == 200
        status, body = await api.call("PATCH", f"{pods}/p", {"metadata": {"finalizers": []}}, MERGE)
        assert status == 200, body
        assert (await api.call("GET", f"{pods}/p"))[0] == 404
