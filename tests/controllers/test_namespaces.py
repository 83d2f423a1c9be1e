"""Namespace injection creates Broker default; deleting a namespace terminates it: what is in
it is deleted, the namespace waits for the objects' finalizers, then goes."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from ..broker.broker_support import broker, running_kawa
from ..waiting import eventually

NAMESPACES = "/api/v1/namespaces"


async def test_injection_label_creates_the_default_broker(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa:
        ns = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "team", "labels": {"eventing.knative.dev/injection": "enabled"}},
        }
        async with kawa.session.post(kawa.url + NAMESPACES, json=ns) as resp:
            assert resp.status == 201, await resp.text()
        ready = await kawa.wait_ready("Broker", "default", ns="team")
        assert ready["metadata"]["labels"]["eventing.knative.dev/namespaceInjected"] == "true"
        assert ready["status"]["address"]["url"].endswith("/brokers/team/default")


async def test_objects_need_their_namespace_and_go_with_it(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa:
        api = "/apis/eventing.knative.dev/v1/namespaces/gone/brokers"
        async with kawa.session.post(kawa.url + api, json=broker(ns="gone")) as resp:
            assert resp.status == 404
            assert 'namespaces "gone" not found' in (await resp.json())["message"]
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gone"}}
        async with kawa.session.post(kawa.url + NAMESPACES, json=ns) as resp:
            assert resp.status == 201
        await kawa.apply(broker(ns="gone"))
        async with kawa.session.delete(kawa.url + NAMESPACES + "/gone") as resp:
            assert resp.status == 200

        async def brokers_gone() -> bool:
            async with kawa.session.get(kawa.url + api) as resp:
                return not (await resp.json())["items"]

        await eventually(brokers_gone, message="the broker outlived its namespace")


async def test_system_namespaces_cannot_be_deleted(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa:
        for name in ("default", "kube-system", "kube-public"):
            async with kawa.session.delete(f"{kawa.url}{NAMESPACES}/{name}") as resp:
                assert resp.status == 403
                body = await resp.json()
                assert body["reason"] == "Forbidden"
                assert "may not be deleted" in body["message"]
        async with kawa.session.get(f"{kawa.url}{NAMESPACES}/default") as resp:
            assert resp.status == 200


async def test_every_namespace_has_a_default_service_account(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa:
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "accounts"}}
        async with kawa.session.post(kawa.url + NAMESPACES, json=ns) as resp:
            assert resp.status == 201
        path = kawa.url + NAMESPACES + "/accounts/serviceaccounts/default"

        async def present(url: str = path) -> bool:
            async with kawa.session.get(url) as resp:
                return resp.status == 200

        for name in ("default", "kube-system", "accounts"):
            url = kawa.url + NAMESPACES + f"/{name}/serviceaccounts/default"
            await eventually(functools.partial(present, url), message=name)
        # deleted, it comes back (as Kubernetes' service account controller does)
        async with kawa.session.delete(path) as resp:
            assert resp.status == 200
        await eventually(present, 15.0, "the deleted ServiceAccount never came back")


async def call(kawa: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/merge-patch+json"} if method == "PATCH" else {}
    async with kawa.session.request(method, kawa.url + path, json=body, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_a_deleted_namespace_terminates_and_waits_for_its_objects(tmp_path: Path) -> None:
    """Kubernetes' namespace lifecycle: Terminating at once, emptied by the controller, kept
    (with conditions saying why) while an object's finalizer holds it, gone after."""
    configmaps = f"{NAMESPACES}/team/configmaps"
    async with running_kawa(tmp_path) as kawa:
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}
        status, body = await call(kawa, "POST", NAMESPACES, ns)
        assert status == 201, body
        assert body["spec"]["finalizers"] == ["kubernetes"]
        await kawa.apply(broker(ns="team"))
        held = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "held", "finalizers": ["example.com/keep"]},
        }
        assert (await call(kawa, "POST", configmaps, held))[0] == 201
        assert (await call(kawa, "POST", configmaps, {**held, "metadata": {"name": "free"}}))[
            0
        ] == 201

        status, body = await call(kawa, "DELETE", f"{NAMESPACES}/team")
        assert status == 200, body
        assert body["status"]["phase"] == "Terminating"
        assert body["metadata"]["deletionTimestamp"]

        async def held_only() -> Any:
            _, ns_now = await call(kawa, "GET", f"{NAMESPACES}/team")
            conditions = {c["type"]: c for c in ns_now["status"].get("conditions") or []}
            remaining = conditions.get("NamespaceFinalizersRemaining", {})
            return ns_now if remaining.get("status") == "True" else None

        terminating = await eventually(held_only, message="no condition names the finalizer")
        conditions = {c["type"]: c for c in terminating["status"]["conditions"]}
        assert conditions["NamespaceContentRemaining"]["reason"] == "SomeResourcesRemain"
        assert conditions["NamespaceContentRemaining"]["message"] == (
            "Some resources are remaining: configmaps. has 1 resource instances"
        )
        assert conditions["NamespaceFinalizersRemaining"]["message"] == (
            "Some content in the namespace has finalizers remaining: "
            "example.com/keep in 1 resource instances"
        )
        assert conditions["NamespaceDeletionContentFailure"]["status"] == "False"
        assert terminating["spec"]["finalizers"] == ["kubernetes"]
        _, listed = await call(kawa, "GET", configmaps)
        [left] = listed["items"]
        assert left["metadata"]["name"] == "held"
        assert left["metadata"]["deletionTimestamp"]
        _, brokers = await call(
            kawa, "GET", "/apis/eventing.knative.dev/v1/namespaces/team/brokers"
        )
        assert brokers["items"] == []
        # nothing new may be created in it
        status, body = await call(kawa, "POST", configmaps, {**held, "metadata": {"name": "new"}})
        assert (status, body["reason"]) == (403, "Forbidden")
        assert body["message"] == (
            'configmaps "new" is forbidden: unable to create new content in namespace team '
            "because it is being terminated"
        )
        # the finalizer goes: the object, then the namespace
        status, _ = await call(
            kawa, "PATCH", f"{configmaps}/held", {"metadata": {"finalizers": None}}
        )
        assert status == 200

        async def namespace_gone() -> bool:
            return (await call(kawa, "GET", f"{NAMESPACES}/team"))[0] == 404

        await eventually(namespace_gone, message="the emptied namespace was never removed")
