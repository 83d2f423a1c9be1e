"""What an ApiServerSource's status says when it cannot run: its ServiceAccount does not exist
(though RBAC objects name it), kinds kawa does not serve, a remote cluster that refuses the
connection. Real SQLite store, the controller and adapters as kawa runs them."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kawa.sources.apiserver.remote import ApiError, describe_failure
from kawa.store.sqlite import SqliteResourceStore

from .support import (
    Subscriber,
    cluster_grant,
    condition,
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

PODS = [{"apiVersion": "v1", "kind": "Pod"}]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteResourceStore]:
    store = SqliteResourceStore(str(tmp_path / "resources.db"))
    await put(store, namespace("default"))
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def sub() -> AsyncIterator[Subscriber]:
    async with subscriber() as s:
        yield s


async def test_a_service_account_that_does_not_exist_is_not_ready(
    store: SqliteResourceStore, sub: Subscriber, tmp_path: Path
) -> None:
    # bound by a ClusterRoleBinding, but the ServiceAccount itself was never created
    for obj in cluster_grant(["pods"], account="ghost"):
        await put(store, obj)
    await put(store, source("s", {"uri": sub.url}, PODS, serviceAccountName="ghost"))
    started = time.monotonic()
    async with running_sources(store, tmp_path):
        permissions = await wait_condition(store, "s", "False", "SufficientPermissions")
        assert permissions.reason == "ServiceAccountNotFound"
        assert permissions.message == 'ServiceAccount "ghost" not found in namespace default'
        ready = await condition(store, "s")
        assert (ready.status, ready.reason) == ("False", "ServiceAccountNotFound")
        assert ready.message == permissions.message
        assert (await condition(store, "s", "Deployed")).status == "Unknown"
        await put(store, pod("unseen"))
        assert sub.events == []  # it does not run (not Deployed)
        # ServiceAccounts are watched: creating it makes the source Ready at once (well
        # before the controller's 10 s resync), deleting it makes it not Ready again
        await put(store, service_account("ghost"))
        await wait_condition(store, "s", "True")
        await sub.wait_for(1)
        await remove(store, service_account("ghost"))
        gone = await wait_condition(store, "s", "False")
        assert gone.reason == "ServiceAccountNotFound"
        assert time.monotonic() - started < 9.5, "only the periodic resync noticed"
        await put(store, pod("while-gone"))
        assert len(sub.events) == 1  # stopped with the condition above
    assert sub.summary() == [("dev.knative.apiserver.ref.add", "unseen")]


async def test_the_default_service_account_exists_in_every_namespace(
    store: SqliteResourceStore, sub: Subscriber, tmp_path: Path
) -> None:
    # Kubernetes keeps a ServiceAccount "default" in every namespace; kawa does not store it
    for obj in cluster_grant(["pods"], account="default"):
        await put(store, obj)
    await put(store, source("s", {"uri": sub.url}, PODS, serviceAccountName="default"))
    async with running_sources(store, tmp_path):
        await wait_condition(store, "s", "True")


async def test_every_unknown_kind_is_named_once(
    store: SqliteResourceStore, sub: Subscriber, tmp_path: Path
) -> None:
    resources = [
        {"apiVersion": "v1", "kind": "Frobnicator"},
        {"apiVersion": "v1", "kind": "Pod"},
        {"apiVersion": "example.com/v1", "kind": "Gadget"},
        {"apiVersion": "v2", "kind": "Pod"},
    ]
    await put(store, source("s", {"uri": sub.url}, resources))
    async with running_sources(store, tmp_path):
        deployed = await wait_condition(store, "s", "False", "Deployed")
    assert deployed.reason == "UnknownKind"
    assert deployed.message == (
        "Frobnicator (v1) is not a kind kawa serves; "
        "Gadget (example.com/v1) is not a kind kawa serves; "
        "Pod (v2) is not a kind kawa serves (it is served as v1)"
    )


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_an_unreachable_cluster_says_where_and_why(
    store: SqliteResourceStore, sub: Subscriber, tmp_path: Path
) -> None:
    port = closed_port()
    kubeconfig = (
        "current-context: c\n"
        "contexts: [{name: c, context: {cluster: x, user: u}}]\n"
        f"clusters: [{{name: x, cluster: {{server: 'https://127.0.0.1:{port}', "
        "insecure-skip-tls-verify: true}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
    )
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "far", "namespace": "default"},
        "stringData": {"kubeconfig": kubeconfig},
    }
    await put(store, secret)
    annotations = {"sources.kawa.dev/kubeconfig-secret": "far"}
    await put(store, source("s", {"uri": sub.url}, PODS, meta={"annotations": annotations}))
    async with running_sources(store, tmp_path):
        deployed = await wait_condition(store, "s", "False", "Deployed")
    assert deployed.reason == "ClusterUnreachable"
    assert deployed.message == f"cannot connect to https://127.0.0.1:{port}: Connection refused"


def test_failures_are_worded_for_people() -> None:
    url = "https://10.0.0.1:6443"
    assert describe_failure(url, TimeoutError()) == (
        "cannot connect to https://10.0.0.1:6443: no answer within 10s"
    )
    assert describe_failure(url, ApiError(503, "etcd is down")) == (
        "https://10.0.0.1:6443 answered HTTP 503: etcd is down"
    )
