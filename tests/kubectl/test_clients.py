"""The Kubernetes Python client lists and watches kawa; a watch resumed from a
resourceVersion across a kawa restart gets the events it missed, or 410 once compacted."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import kubernetes
import orjson
import pytest

from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ..e2e.e2e_support import KawaProcess, kawa_up
from .kubectl_support import Api, watch_lines

pytestmark = pytest.mark.slow

GROUP, VERSION = "eventing.knative.dev", "v1"
kube: Any = kubernetes  # the client's own annotations are partial


def _broker(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Broker",
        "metadata": {"name": name, "namespace": "pyclient"},
        "spec": spec,
    }


def test_python_client_lists_and_watches(kawa: KawaProcess) -> None:
    api_client: Any = kube.config.new_client_from_config(
        config_file=str(kawa.data_dir / "kubeconfig")
    )
    try:
        core: Any = kube.client.CoreV1Api(api_client)
        custom: Any = kube.client.CustomObjectsApi(api_client)
        core.create_namespace(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "pyclient"}}
        )
        names = [ns.metadata.name for ns in core.list_namespace().items]
        assert {"default", "pyclient"} <= set(names)
        custom.create_namespaced_custom_object(
            GROUP, VERSION, "pyclient", "brokers", _broker("one")
        )
        listed = custom.list_namespaced_custom_object(GROUP, VERSION, "pyclient", "brokers")
        assert [i["metadata"]["name"] for i in listed["items"]] == ["one"]
        rv = listed["metadata"]["resourceVersion"]

        seen: list[tuple[str, str]] = []
        w = kube.watch.Watch()

        def consume() -> None:
            for event in w.stream(
                custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                "pyclient",
                "brokers",
                resource_version=rv,
                timeout_seconds=10,
            ):
                seen.append((event["type"], event["object"]["metadata"]["name"]))
                if event["type"] == "DELETED":
                    w.stop()

        thread = threading.Thread(target=consume)
        thread.start()
        custom.create_namespaced_custom_object(
            GROUP, VERSION, "pyclient", "brokers", _broker("two")
        )
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, "pyclient", "brokers", "two", {"spec": {"delivery": {"retry": 2}}}
        )
        custom.delete_namespaced_custom_object(GROUP, VERSION, "pyclient", "brokers", "two")
        thread.join(15)
        assert not thread.is_alive()
        two = [t for t, name in seen if name == "two"]
        assert two[0] == "ADDED"
        assert "MODIFIED" in two
        assert two[-1] == "DELETED"
        # the core API too: a typed list with a label selector
        core.patch_namespace("pyclient", {"metadata": {"labels": {"team": "py"}}})
        labelled = core.list_namespace(label_selector="team=py").items
        assert [ns.metadata.name for ns in labelled] == ["pyclient"]
    finally:
        api_client.close()


BROKERS = "/apis/eventing.knative.dev/v1/namespaces/default/brokers"


def _obj(name: str) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Broker", "metadata": {"name": name}}


def test_watch_resumes_across_a_restart(tmp_path: Path) -> None:
    with kawa_up(tmp_path) as kawa:
        api = Api(kawa.data_dir / "kubeconfig")
        api.call("POST", BROKERS, _obj("first"))
        listed = api.call("GET", BROKERS)
        rv = listed["metadata"]["resourceVersion"]
        (added,) = watch_lines(api, f"{BROKERS}?watch=1&resourceVersion=0", 1)
        assert (added["type"], added["object"]["metadata"]["name"]) == ("ADDED", "first")

        kawa.stop()
        kawa.start()
        api = Api(kawa.data_dir / "kubeconfig")
        # while the client was away: one added, one changed, one deleted
        api.call("POST", BROKERS, _obj("second"))
        api.call(
            "PATCH",
            f"{BROKERS}/second",
            {"metadata": {"labels": {"changed": "yes"}}},
            "application/merge-patch+json",
        )
        api.call("DELETE", f"{BROKERS}/first")
        events = watch_lines(
            api, f"{BROKERS}?watch=1&resourceVersion={rv}&timeoutSeconds=1", 20, timeout=5
        )
        seen = [(e["type"], e["object"]["metadata"]["name"]) for e in events]
        assert ("ADDED", "second") in seen, seen
        assert ("MODIFIED", "second") in seen, seen
        assert ("DELETED", "first") in seen, seen
        assert seen.index(("ADDED", "second")) < seen.index(("MODIFIED", "second"))
        assert [t for t, _ in seen].count("ADDED") >= 1
        kawa.stop()

        # compaction: with the history gone, resuming from that version is 410 Gone
        asyncio.run(_compact(kawa.data_dir / "resources.db"))
        kawa.start()
        api = Api(kawa.data_dir / "kubeconfig")
        (error,) = watch_lines(api, f"{BROKERS}?watch=1&resourceVersion={rv}", 1)
        assert error["type"] == "ERROR", error
        assert error["object"]["code"] == 410, error
        assert error["object"]["reason"] == "Expired", error
        # and a client that relists starts again from now
        fresh = api.call("GET", BROKERS)
        assert [i["metadata"]["name"] for i in fresh["items"]] == ["second"]


async def _compact(path: Path) -> None:
    """Write enough changes through a store that keeps little history to compact it."""
    store = SqliteResourceStore(str(path), history=10)
    try:
        key = ResourceKey("configmaps", "default", "churn")
        obj = orjson.loads(b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"churn"}}')
        obj = await store.create(key, obj)
        for n in range(1000):
            obj["data"] = {"n": str(n)}
            obj = await store.update(key, obj)
    finally:
        await store.close()
