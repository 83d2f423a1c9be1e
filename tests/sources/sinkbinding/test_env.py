"""The K_SINK / K_CE_OVERRIDES / K_CA_CERTS contract on pod specs, and a binding deleted while
kawa was down (its subjects are released at the next reconcile, from their annotation)."""

from __future__ import annotations

from typing import Any

from kawa.apis.conditions import system_clock
from kawa.reconciler.events import EventRecorder
from kawa.sources.container import pod as adapter
from kawa.sources.sinkbinding import env, subjects
from kawa.sources.sinkbinding.reconciler import SINKBINDINGS, SinkBindingReconciler
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ...tls_support import certificate_authority
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
    # an https sink with its own CACerts: K_CA_CERTS, and another Pod (what it runs changed)
    pinned = adapter.adapter_pod(source, "https://a/", "", None, "PEM")
    variables = {e["name"]: e["value"] for e in pinned["spec"]["containers"][0]["env"]}
    assert variables["K_CA_CERTS"] == "PEM"
    assert (
        pinned["metadata"]["name"]
        != adapter.adapter_pod(source, "https://a/", "")["metadata"]["name"]
    )


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


async def test_an_https_sink_with_its_own_ca_certs_gives_k_ca_certs() -> None:
    """A sink whose Destination carries ``CACerts``: the binding reports them
    (``status.sinkCACerts``) and its subjects get ``K_CA_CERTS``, as Knative's SinkBinding
    does; the CACerts gone, so is the variable."""
    pem = certificate_authority("sink-ca").pem
    store = SqliteResourceStore(":memory:")
    try:
        container = {"name": "user-container", "image": "x"}
        await put(
            store,
            {
                "apiVersion": "serving.knative.dev/v1",
                "kind": "Service",
                "metadata": {"name": "svc", "namespace": "default"},
                "spec": {"template": {"spec": {"containers": [container]}}},
            },
        )
        subject = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "svc"}
        binding = {
            "apiVersion": "sources.knative.dev/v1",
            "kind": "SinkBinding",
            "metadata": {"name": "b", "namespace": "default"},
            "spec": {"subject": subject, "sink": {"uri": "https://sink.example/", "CACerts": pem}},
        }
        await put(store, binding)
        reconciler = SinkBindingReconciler(
            store, system_clock, EventRecorder(store, "sinkbinding-controller")
        )
        key = ResourceKey(SINKBINDINGS, "default", "b")
        await reconciler.reconcile(key)
        stored = await store.get(key)
        assert stored["status"]["sinkCACerts"] == pem
        svc_key = ResourceKey(subjects.SERVICE.resource, "default", "svc")
        svc = await store.get(svc_key)
        variables = {
            e["name"]: e["value"] for e in svc["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        assert variables["K_SINK"] == "https://sink.example/"
        assert variables["K_CA_CERTS"] == pem

        stored["spec"]["sink"] = {"uri": "https://sink.example/"}
        await store.update(key, stored)
        await reconciler.reconcile(key)
        assert "sinkCACerts" not in (await store.get(key))["status"]
        svc = await store.get(svc_key)
        names = [e["name"] for e in svc["spec"]["template"]["spec"]["containers"][0]["env"]]
        assert names == ["K_SINK", "K_CE_OVERRIDES"]
    finally:
        await store.close()
