"""ApiServerSource against kawa's own store: real SQLite store, real Dispatcher, a real
subscriber on loopback; the controller and adapters run as kawa runs them."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kawa.apis.manifests import load_manifests
from kawa.sources.apiserver.state import StateStore
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ...oidc_support import set_oidc
from ...waiting import eventually
from .support import (
    API_URL,
    SOURCES,
    Subscriber,
    cluster_grant,
    condition,
    handled,
    k8s_event,
    namespace,
    pod,
    put,
    remove,
    running_sources,
    service_account,
    source,
    subscriber,
    wait_condition,
)

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
SEED = Path(__file__).parents[3] / "examples" / "seed"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteResourceStore]:
    store = SqliteResourceStore(str(tmp_path / "resources.db"))
    await put(store, namespace("default"))
    await put(store, service_account("watcher"))
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def sub() -> AsyncIterator[Subscriber]:
    async with subscriber() as s:
        yield s


def sink(sub: Subscriber) -> dict[str, str]:
    return {"uri": sub.url}


async def grant(store: SqliteResourceStore, *resources: str) -> None:
    for obj in cluster_grant(list(resources)):
        await put(store, obj)


async def test_resource_mode_events_add_update_delete(
    store: SqliteResourceStore, sub: Subscriber, tmp_path: Path
) -> None:
    await grant(store, "events")
    first = await put(store, k8s_event("e1"))
    resources = [{"apiVersion": "v1", "kind": "Event"}]
    await put(store, source("s", sink(sub), resources, mode="Resource"))
    async with running_sources(store, tmp_path):
        await wait_condition(store, "s", "True")
        await sub.wait_for(1)
        updated = await put(store, {**k8s_event("e1"), "message": "again"})
        await sub.wait_for(2)
        removed = await remove(store, k8s_event("e1"))
        await sub.wait_for(3)
        await handled(store, tmp_path, removed)
    _add, _update, _delete = sub.events
    assert [e.type for e in sub.events] == [
        "dev.knative.apiserver.resource.add",
        "dev.knative.apiserver.resource.update",
        "dev.knative.apiserver.resource.delete",
    ]
    for event in sub.events:
        assert event.source == API_URL
        assert event.get("subject") == "/apis/v1/namespaces/default/events/e1"
        assert event.datacontenttype == "application/json"
        assert event.extensions() == {
            "kind": "Event",
            "apiversion": "v1",
            "name": "e1",
            "namespace": "default",
        }
        assert UUID.match(event.id)
        assert event.specversion == "1.0"
    assert len({e.id for e in sub.events}) == 3
    assert sub.data(0) == first
    assert sub.data(1) == updated
    assert sub.data(1)["message"] == "again"
    assert sub.data(2)["metadata"]["name"] == "e1"
    obj = await store.get(ResourceKey(SOURCES, "default", "s"))
    status = obj["status"]
    assert status["sinkUri"] == sub.url
    assert status["namespaces"] == ["default"]
    assert status["ceAttributes"] == [
        {"type": f"dev.knative.apiserver.resource.{c}", "source": API_URL}
        for c in ("add", "update", "delete")
    ]
    types = {c["type"]: c["status"] for c in status["conditions"]}
    assert types == {
        "Deployed": "True",
        "SinkProvided": "True",
        "SufficientPermissions": "True",
        "OIDCIdentityCreated": "True",  # reason: the authentication-oidc feature is off
        "Ready": "True",
    }


async def test_reference_mode_pods(
    store: SqliteResourceStore, sub: Subscriber, tmp_path: Path
) -> None:
    await grant(store, "pods")
    await put(store, source("s", sink(sub), [{"apiVersion": "v1", "kind": "Pod"}]))
    async with running_sources(store, tmp_path):
        await wait_condition(store, "s", "True")
        await put(store, pod("p1"))
        await sub.wait_for(1)
        await put(store, pod("p1", labels={"x": "y"}))
        await sub.wait_for(2)
        await remove(store, pod("p1"))
        await sub.wait_for(3)
    assert sub.summary() == [
        ("dev.knative.apiserver.ref.add", "p1"),
        ("dev.knative.apiserver.ref.update", "p1"),
        ("dev.knative.apiserver.ref.delete", "p1"),
    ]
    ref = {"kind": "Pod", "namespace": "default", "name": "p1", "apiVersion": "v1"}
    for i, event in enumerate(sub.events):
        assert sub.data(i) == ref
        assert list(sub.data(i)) == ["kind", "namespace", "name", "apiVersion"]
        assert event.get("subject") == "/apis/v1/namespaces/default/pods/p1"
        assert event.get("kind") == "Pod"


async def test_v1alpha1_ref_mode_and_ce_overrides(
    store: SqliteResourceStore, sub: Subscriber, tmp_path: Path
) -> None:
    await grant(store, "pods")
    await put(
        store,
        {
            "apiVersion": "sources.eventing.knative.dev/v1alpha1",
            "kind": "ApiServerSource",
            "metadata": {"name": "old", "namespace": "default"},
            "spec": {
                "serviceAccountName": "watcher",
                "mode": "Ref",
                "resources": [{"apiVersion": "v1", "kind": "Pod"}],
                "sink": {"apiVersion": "v1", "kind": "Service", "name": "nope"},
            },
        },
    )
    # the 2019 flat sink names a core Service kawa cannot address: not Ready, says why
    async with running_sources(store, tmp_path):
        missing = await wait_condition(store, "old", "False", "SinkProvided")
        assert "Service" in missing.message
        ready = await condition(store, "old")
        assert ready.status == "False"
        assert ready.reason == missing.reason
    v1 = source(
        "s",
        sink(sub),
        [{"apiVersion": "v1", "kind": "Pod"}],
        ceOverrides={"extensions": {"team": "a"}},
    )
    await put(store, v1)
    async with running_sources(store, tmp_path):
        await wait_condition(store, "s", "True")
        await put(store, pod("p"))
        events = await sub.wait_for(1)
    assert events[0].get("team") == "a"
    assert events[0].type == "dev.knative.apiserver.ref.add"


async def test_label_selector_and_owner_filter(
    store: SqliteResourceStore, sub: Subscriber, tmp_path: Path
) -> None:
    await grant(store, "pods")
    selector = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["test"]}],
    }
    owner_ref = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u1"}
    await put(
        store,
        source(
            "s",
            sink(sub),
            [{"apiVersion": "v1", "kind": "Pod", "selector": selector}],
            owner={"apiVersion": "apps/v1", "kind": "ReplicaSet"},
        ),
    )
    async with running_sources(store, tmp_path):
        await wait_condition(store, "s", "True")
        await put(store, pod("other-label", labels={"app": "db"}, ownerReferences=[owner_ref]))
        await put(
            store,
            pod("excluded", labels={"app": "web", "tier": "test"}, ownerReferences=[owner_ref]),
        )
        await put(store, pod("no-owner", labels={"app": "web"}))
        await put(
            store,
            pod(
                "wrong-owner", labels={"app": "web"}, ownerReferences=[{**owner_ref, "kind": "Job"}]
            ),
        )
        await put(store, pod("yes", labels={"app": "web"}, ownerReferences=[owner_ref]))
        await sub.wait_for(1)
        # relabelled out of the selector: a delete, as a watch with a label selector says
        await put(store, pod("yes", labels={"app": "db"}, ownerReferences=[owner_ref]))
        await sub.wait_for(2)
        await handled(store, tmp_path, await remove(store, pod("yes")))
    assert sub.summary() == [
        ("dev.knative.apiserver.ref.add", "yes"),
        ("dev.knative.apiserver.ref.delete", "yes"),
    ]


async def test_namespace_selector(
    store: SqliteResourceStore, sub: Subscriber, tmp_path: Path
) -> None:
    await grant(store, "pods")
    for name, labels in (("blue", {"env": "prod"}), ("green", {"env": "prod"}), ("red", {})):
        await put(store, namespace(name, labels))
    await put(store, pod("before", "blue"))
    await put(
        store,
        source(
            "s",
            sink(sub),
            [{"apiVersion": "v1", "kind": "Pod"}],
            namespaceSelector={"matchLabels": {"env": "prod"}},
        ),
    )
    async with running_sources(store, tmp_path):
        await wait_condition(store, "s", "True")
        await sub.wait_for(1)  # the initial list: the pod already in "blue"
        await put(store, pod("p", "red"))
        await put(store, pod("p", "default"))
        green = await put(store, pod("p", "green"))
        await sub.wait_for(2)
        await handled(store, tmp_path, green)  # written last, in a namespace it watches
        obj = await store.get(ResourceKey(SOURCES, "default", "s"))
    assert obj["status"]["namespaces"] == ["blue", "green"]
    assert [(e.get("namespace"), e.get("name")) for e in sub.events] == [
        ("blue", "before"),
        ("green", "p"),
    ]


async def test_missing_sink_is_not_ready(store: SqliteResourceStore, tmp_path: Path) -> None:
    await grant(store, "pods")
    broker_sink = {
        "ref": {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "default"}
    }
    await put(store, source("s", broker_sink, [{"apiVersion": "v1", "kind": "Pod"}]))
    async with running_sources(store, tmp_path):
        ready = await wait_condition(store, "s", "False")
        assert ready.reason == "NotFound"
        assert 'Broker "default" does not exist' in ready.message
        sink_condition = await condition(store, "s", "SinkProvided")
        assert sink_condition.status == "False"
        deployed = await condition(store, "s", "Deployed")
        assert deployed.status == "Unknown"


async def test_unreachable_sink_is_reported(store: SqliteResourceStore, tmp_path: Path) -> None:
    await grant(store, "pods")
    async with subscriber() as sub:
        sub.answer = 500
        await put(store, source("s", sink(sub), [{"apiVersion": "v1", "kind": "Pod"}]))
        async with running_sources(store, tmp_path):
            await wait_condition(store, "s", "True")
            await put(store, pod("p"))
            failed = await wait_condition(store, "s", "False", "SinkProvided")
            assert failed.reason == "Unreachable"
            assert "HTTP 500" in failed.message
            sub.answer = 202
            await put(store, pod("q"))
            await wait_condition(store, "s", "True")


async def test_rbac_missing_then_granted_then_revoked(
    store: SqliteResourceStore, sub: Subscriber, tmp_path: Path
) -> None:
    role, binding = cluster_grant(["events"])
    await put(store, source("s", sink(sub), [{"apiVersion": "v1", "kind": "Event"}]))
    async with running_sources(store, tmp_path):
        ready = await wait_condition(store, "s", "False")
        permissions = await condition(store, "s", "SufficientPermissions")
        assert permissions.status == "False"
        assert permissions.reason == "InsufficientPermissions"
        assert "cannot list events in namespace default" in permissions.message
        assert "cannot get events in namespace default" in permissions.message
        assert 'ServiceAccount "watcher"' in permissions.message
        assert ready.message == permissions.message
        await put(store, k8s_event("hidden"))
        assert sub.events == []  # it does not run (not Ready for want of permissions)
        # granted: Ready, and the first start sends the objects that exist
        await put(store, role)
        await put(store, binding)
        await wait_condition(store, "s", "True")
        await sub.wait_for(1)
        await put(store, k8s_event("e1"))
        await sub.wait_for(2)
        # revoked: not Ready, naming the permission; no events
        await remove(store, binding)
        await wait_condition(store, "s", "False")
        assert (
            "cannot watch events in namespace default"
            in (await condition(store, "s", "SufficientPermissions")).message
        )
        await put(store, k8s_event("e2"))
        assert len(sub.events) == 2  # its watch is refused (the condition above)
        # granted back: resumes where it stopped (e2 is sent now), then new changes
        await put(store, binding)
        await wait_condition(store, "s", "True")
        await sub.wait_for(3)
        e3 = await put(store, k8s_event("e3"))
        await sub.wait_for(4)
        await handled(store, tmp_path, e3)
    assert sub.summary() == [
        ("dev.knative.apiserver.ref.add", "hidden"),
        ("dev.knative.apiserver.ref.add", "e1"),
        ("dev.knative.apiserver.ref.add", "e2"),
        ("dev.knative.apiserver.ref.add", "e3"),
    ]


async def test_role_binding_in_namespace_and_cluster_scope_message(
    store: SqliteResourceStore, sub: Subscriber, tmp_path: Path
) -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "r", "namespace": "default"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "rb", "namespace": "default"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
        "subjects": [{"kind": "ServiceAccount", "name": "watcher"}],
    }
    await put(store, role)
    await put(store, binding)
    await put(store, source("s", sink(sub), [{"apiVersion": "v1", "kind": "Pod"}]))
    await put(store, source("ns", sink(sub), [{"apiVersion": "v1", "kind": "Namespace"}]))
    async with running_sources(store, tmp_path):
        await wait_condition(store, "s", "True")
        await wait_condition(store, "ns", "False")
        message = (await condition(store, "ns", "SufficientPermissions")).message
        assert "cannot list namespaces at the cluster scope" in message


async def test_deleting_the_source_stops_its_events(
    store: SqliteResourceStore, sub: Subscriber, tmp_path: Path
) -> None:
    await grant(store, "pods")
    src = source("s", sink(sub), [{"apiVersion": "v1", "kind": "Pod"}])
    await put(store, src)
    async with running_sources(store, tmp_path):
        await wait_condition(store, "s", "True")
        await put(store, pod("a"))
        await sub.wait_for(1)
        created = await store.get(ResourceKey(SOURCES, "default", "s"))
        states = StateStore(store, tmp_path)
        assert await states.read("default", created["metadata"]["uid"]) is not None
        await remove(store, src)

        async def stopped() -> bool:  # its adapter removes the state as it stops
            return await states.read("default", created["metadata"]["uid"]) is None

        await eventually(stopped, message="the deleted source kept its state")
        await put(store, pod("b"))
        await asyncio.sleep(0.2)  # time for a "b" event, if anything still ran for the source
        # nothing runs for it any more: no event of "b" (the events of "a" may be more than
        # one: a late-answered send is sent again, and "a" may have changed before the
        # deletion, an update event)
        assert {name for _, name in sub.summary()} == {"a"}, sub.summary()
    assert set(sub.summary()) == {("dev.knative.apiserver.ref.add", "a")}


async def test_restart_resumes_without_re_emitting(
    store: SqliteResourceStore, sub: Subscriber, tmp_path: Path
) -> None:
    await grant(store, "pods")
    await put(store, pod("old"))
    await put(store, source("s", sink(sub), [{"apiVersion": "v1", "kind": "Pod"}]))
    async with running_sources(store, tmp_path):
        await wait_condition(store, "s", "True")
        await sub.wait_for(1)
        a1 = await put(store, pod("a"))
        await sub.wait_for(2)
        await handled(store, tmp_path, a1)
    # while kawa is down
    await put(store, pod("b"))
    a2 = await put(store, pod("a", labels={"v": "2"}))
    async with running_sources(store, tmp_path):
        await sub.wait_for(4)
        await handled(store, tmp_path, a2)
    assert sub.summary() == [
        ("dev.knative.apiserver.ref.add", "old"),
        ("dev.knative.apiserver.ref.add", "a"),
        ("dev.knative.apiserver.ref.add", "b"),
        ("dev.knative.apiserver.ref.update", "a"),
    ]


async def test_history_lost_relists_and_sends_the_difference(
    sub: Subscriber, tmp_path: Path
) -> None:
    store = SqliteResourceStore(str(tmp_path / "small.db"), history=1)
    try:
        await put(store, namespace("default"))
        await put(store, service_account("watcher"))
        await grant(store, "pods")
        await put(store, pod("kept"))
        await put(store, pod("changed"))
        await put(store, pod("gone"))
        await put(
            store, source("s", sink(sub), [{"apiVersion": "v1", "kind": "Pod"}], mode="Resource")
        )
        async with running_sources(store, tmp_path):
            await wait_condition(store, "s", "True")
            await sub.wait_for(3)
        await put(store, pod("changed", labels={"v": "2"}))
        await remove(store, pod("gone"))
        new = await put(store, pod("new"))
        for i in range(1000):  # push the changes out of the store's history
            await put(store, namespace("filler", {"i": str(i)}))
        async with running_sources(store, tmp_path):
            await sub.wait_for(6)
            await handled(store, tmp_path, new)  # listed again past it
    finally:
        await store.close()
    assert sorted(sub.summary()[3:]) == [
        ("dev.knative.apiserver.resource.add", "new"),
        ("dev.knative.apiserver.resource.delete", "gone"),
        ("dev.knative.apiserver.resource.update", "changed"),
    ]
    gone = next(i for i, e in enumerate(sub.events) if e.type.endswith("delete"))
    assert sub.data(gone) == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "gone", "namespace": "default"},
    }


async def test_the_seed_service_account_yaml_makes_the_seed_source_ready(
    store: SqliteResourceStore, sub: Subscriber, tmp_path: Path
) -> None:
    seed_source: dict[str, Any] = load_manifests(
        (SEED / "k8s-events.yaml").read_text(), "k8s-events.yaml"
    )[0]
    # the seed's sink is Broker "default": a stand-in Broker whose address is the subscriber
    await put(store, seed_source)
    broker = {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Broker",
        "metadata": {"name": "default", "namespace": "default"},
    }
    async with running_sources(store, tmp_path):
        permissions = await wait_condition(store, "testevents", "False", "SufficientPermissions")
        assert "events-sa" in permissions.message
        for obj in load_manifests(
            (SEED / "serviceaccount.yaml").read_text(), "serviceaccount.yaml"
        ):
            await put(store, obj)
        await wait_condition(store, "testevents", "True", "SufficientPermissions")
        created = await put(store, broker)
        created["status"] = {"address": {"url": sub.url}}
        await store.update(
            ResourceKey("brokers.eventing.knative.dev", "default", "default"),
            created,
            status_only=True,
        )
        await wait_condition(store, "testevents", "True")
        await put(store, k8s_event("busybox.1", reason="Scheduled"))
        events = await sub.wait_for(1)
    assert events[0].type == "dev.knative.apiserver.resource.add"
    assert sub.data(0)["reason"] == "Scheduled"


async def test_with_authentication_oidc_the_source_sends_as_its_own_service_account(
    store: SqliteResourceStore, sub: Subscriber, tmp_path: Path
) -> None:
    """Its own ServiceAccount (status.auth, OIDCIdentityCreated), its sink's audience in
    status.sinkAudience, and its events carry that account's token for that audience."""
    account = "s-oidc-sources.knative.dev-apiserversource"

    async def tokens(namespace: str, service_account: str, audience: str) -> str:
        return f"{namespace}/{service_account}/{audience}"

    await set_oidc(store)
    await grant(store, "events")
    await put(store, k8s_event("e1"))
    resources = [{"apiVersion": "v1", "kind": "Event"}]
    destination = {"uri": sub.url, "audience": "the-sink"}
    await put(store, source("s", destination, resources, mode="Resource"))
    async with running_sources(store, tmp_path, tokens):
        await wait_condition(store, "s", "True")
        await sub.wait_for(1)
    obj = await store.get(ResourceKey(SOURCES, "default", "s"))
    assert obj["status"]["auth"] == {"serviceAccountName": account}
    assert obj["status"]["sinkAudience"] == "the-sink"
    assert (await condition(store, "s", "OIDCIdentityCreated")).status == "True"
    assert sub.authorizations[0] == f"Bearer default/{account}/the-sink"
