"""The K_SINK / K_CE_OVERRIDES contract on pod specs, and a binding deleted while kawa was
down (its subjects are released at the next reconcile, from their annotation)."""

from __future__ import annotations

from typing import Any

from kawa.apis.conditions import system_clock
from kawa.reconciler.events import EventRecorder
from kawa.sources.container import pod as adapter
from kawa.sources.sinkbinding import env, subjects
from kawa.sources.sinkbinding.reconciler import SINKBINDINGS, SinkBindingReconciler
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ..apiserver.support import put


def test_bind_replaces_and_unbind_removes_only_the_sink_variables() -> None:
    spec: dict[str, Any] = {
        "initContainers": [{"name": "init", "image": "busybox"}],
        "containers": [
            {
                "name": "app",
                "image": "app",
                "env": [{"name": "A", "value": "1"}, {"name": "K_SINK", "value": "http://old/"}],
            }
        ],
    }
    env.bind(spec, "http://new/", '{"extensions":{"a":"b"}}')
    assert spec["containers"][0]["env"] == [
        {"name": "A", "value": "1"},
        {"name": "K_SINK", "value": "http://new/"},
        {"name": "K_CE_OVERRIDES", "value": '{"extensions":{"a":"b"}}'},
    ]
    assert [e["name"] for e in spec["initContainers"][0]["env"]] == ["K_SINK", "K_CE_OVERRIDES"]
    assert env.bound_sink(spec) == "http://new/"
    env.unbind(spec)
    assert spec["containers"][0]["env"] == [{"name": "A", "value": "1"}]
    assert "env" not in spec["initContainers"][0]


def test_ce_overrides_json_is_knatives_format() -> None:
    obj = {"spec": {"ceOverrides": {"extensions": {"b": "2", "a": "1"}}}}
    assert env.ce_overrides_json(obj) == '{"extensions":{"a":"1","b":"2"}}'
    assert env.ce_overrides_json({"spec": {}}) == ""


def test_the_adapter_pod_name_follows_what_it_runs() -> None:
    source = {
        "apiVersion": "sources.knative.dev/v1",
        "kind": "ContainerSource",
        "metadata": {"name": "s", "namespace": "default", "uid": "u1"},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}},
    }
    one = adapter.adapter_pod(source, "http://a/", "")
    assert one == adapter.adapter_pod(source, "http://a/", "")
    other = adapter.adapter_pod(source, "http://b/", "")
    assert one["metadata"]["name"] != other["metadata"]["name"]
    assert one["metadata"]["name"].startswith("s-deployment-")
    assert one["metadata"]["labels"]["pod-template-hash"] == one["metadata"]["name"][-10:]


async def test_a_binding_deleted_while_kawa_was_down_is_taken_out() -> None:
    store = SqliteResourceStore(":memory:")
    try:
        container = {"name": "user-container", "image": "x", "env": [{"name": "A", "value": "1"}]}
        env.bind({"containers": [container]}, "http://sink/", "")
        await put(
            store,
            {
                "apiVersion": "serving.knative.dev/v1",
                "kind": "Service",
                "metadata": {
                    "name": "svc",
                    "namespace": "default",
                    "annotations": {subjects.BOUND_ANNOTATION: "gone"},
                },
                "spec": {"template": {"spec": {"containers": [container]}}},
            },
        )
        reconciler = SinkBindingReconciler(
            store, system_clock, EventRecorder(store, "sinkbinding-controller")
        )
        await reconciler.reconcile(ResourceKey(SINKBINDINGS, "default", "gone"))
        svc = await store.get(ResourceKey(subjects.SERVICE.resource, "default", "svc"))
        assert svc["spec"]["template"]["spec"]["containers"][0]["env"] == [
            {"name": "A", "value": "1"}
        ]
        assert subjects.BOUND_ANNOTATION not in (svc["metadata"].get("annotations") or {})
    finally:
        await store.close()
