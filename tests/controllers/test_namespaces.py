"""Namespace injection creates Broker default; deleting a namespace deletes what is in it."""

from __future__ import annotations

import functools
from pathlib import Path

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
