"""Two ``kawa up --nats`` nodes on one private nats-server: one leads the controllers, the
other takes over within the lease duration when the leader is SIGKILLed.

Each node has its own data dir, ports and ``--node-name`` (``a``, ``b``); both share the
JetStream store and event log. The leader's Lease (``kube-system/kawa-controllers``) and
both heartbeat Leases (``kube-node-lease``) are read through the API. After the SIGKILL, a
Trigger applied through the survivor becomes Ready: its controllers run there now.

An ApiServerSource (mode Resource, ConfigMaps labelled ``watched=yes`` in ``default``,
sinking to a recorder in the test) runs on the leader across the change: two ConfigMaps
made before the SIGKILL, an update, a delete and a create made through the survivor while
nobody leads; every change is delivered exactly once (the survivor resumes the watch from
the state the dead leader saved in the shared store: no ``add`` sent again, the delete made
during the failover sent)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from kawa.sources.apiserver.state import StateStore, streams_of

from ..kubectl.sinks import Sink
from ..nats_support import nats_server
from ..waiting import wait_until
from .e2e_support import KawaProcess, broker, free_port, trigger

LEASE_DURATION = 3.0
LEASES = "/apis/coordination.k8s.io/v1/namespaces"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
ADD, UPDATE, DELETE = (f"dev.knative.apiserver.resource.{c}" for c in ("add", "update", "delete"))


def holder(kawa: KawaProcess) -> str:
    status, lease = kawa.request("GET", f"{LEASES}/kube-system/leases/kawa-controllers")
    return str(lease["spec"].get("holderIdentity") or "") if status == 200 else ""


def node(tmp_path: Path, name: str, nats: str) -> KawaProcess:
    return KawaProcess(
        tmp_path,
        tmp_path / f"data-{name}",
        free_port(),
        free_port(),
        ("--node-name", name, "--leader-lease-duration", str(LEASE_DURATION)),
        nats,
    )


def call(kawa: KawaProcess, method: str, path: str, body: Any = None) -> Any:
    status, answer = kawa.request(method, path, body)
    assert status in (200, 201), (method, path, answer)
    return answer


def watch_configmaps(kawa: KawaProcess, sink_url: str) -> str:
    """A ServiceAccount allowed to watch ConfigMaps in ``default`` and an ApiServerSource of
    the ConfigMaps labelled ``watched=yes`` there; its uid."""
    rbac = "/apis/rbac.authorization.k8s.io/v1/namespaces/default"
    call(kawa, "POST", "/api/v1/namespaces/default/serviceaccounts", {"metadata": {"name": "w"}})
    rule = {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}
    call(kawa, "POST", f"{rbac}/roles", {"metadata": {"name": "w"}, "rules": [rule]})
    binding = {
        "metadata": {"name": "w"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "w"},
        "subjects": [{"kind": "ServiceAccount", "name": "w", "namespace": "default"}],
    }
    call(kawa, "POST", f"{rbac}/rolebindings", binding)
    source = {
        "apiVersion": "sources.knative.dev/v1",
        "kind": "ApiServerSource",
        "metadata": {"name": "cms"},
        "spec": {
            "mode": "Resource",
            "serviceAccountName": "w",
            "resources": [
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "selector": {"matchLabels": {"watched": "yes"}},
                }
            ],
            "sink": {"uri": sink_url},
        },
    }
    path = "/apis/sources.knative.dev/v1/namespaces/default/apiserversources"
    return str(call(kawa, "POST", path, source)["metadata"]["uid"])


def configmap(name: str, value: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"watched": "yes"}}, "data": {"v": value}}


def handled(kawa: KawaProcess, uid: str, version: str) -> None:
    """Wait until the source's state in the shared store reached resourceVersion ``version``:
    it sends each event before saving, so every event up to that change has arrived."""

    def reached() -> bool:
        stored = kawa.stored(StateStore.key("default", uid)) or {}
        streams = streams_of(stored.get("streams")).values()
        return any(int(s.resource_version) >= int(version) for s in streams)

    wait_until(reached, 20, f"the ApiServerSource never handled resourceVersion {version}")


def summary(sink: Sink) -> list[tuple[str, str, str]]:
    """(type, name, data.v) of every event received, in order."""
    return [
        (r.ce("type") or "", r.ce("name") or "", str(r.json().get("data", {}).get("v")))
        for r in sink.events()
    ]


@pytest.mark.slow
def test_the_survivor_leads_after_the_leader_is_killed(tmp_path: Path) -> None:
    sink = Sink()
    with nats_server(tmp_path / "nats") as url:
        a, b = node(tmp_path, "a", url), node(tmp_path, "b", url)
        try:
            a.start()
            wait_until(lambda: holder(a) == "a", 15, "a never led")
            uid = watch_configmaps(a, sink.url)
            call(a, "POST", CONFIGMAPS, configmap("one", "1"))
            two = call(a, "POST", CONFIGMAPS, configmap("two", "1"))
            b.start()
            a.create(broker())
            b.wait_ready("brokers", "default", timeout=20)
            assert holder(b) == "a"

            def node_leases() -> set[str]:
                status, found = b.request("GET", f"{LEASES}/kube-node-lease/leases")
                return {i["metadata"]["name"] for i in found["items"]} if status == 200 else set()

            wait_until(lambda: node_leases() >= {"a", "b"}, 15, "no heartbeat Leases")
            # a sent both adds and saved that in the shared store: nothing is in flight
            sink.wait(lambda r: r.ce("type") == ADD, 2, "the adds of one and two", 20)
            handled(b, uid, two["metadata"]["resourceVersion"])

            a.kill()
            killed = time.monotonic()
            one = call(b, "GET", f"{CONFIGMAPS}/one")  # while nobody leads
            call(b, "PUT", f"{CONFIGMAPS}/one", {**one, "data": {"v": "2"}})
            call(b, "DELETE", f"{CONFIGMAPS}/two")
            three = call(b, "POST", CONFIGMAPS, configmap("three", "1"))
            wait_until(lambda: holder(b) == "b", 15, "b never took over")
            took = time.monotonic() - killed
            # the lease duration, plus a retry period and a loaded machine's slack
            assert took < LEASE_DURATION + 3.0, took

            b.create(trigger("after-failover", "http://127.0.0.1:9/"))
            b.wait_ready("triggers", "after-failover", timeout=20)
            sink.wait(lambda r: r.ce("name") == "three", 1, "the add of three", 20)
            handled(b, uid, three["metadata"]["resourceVersion"])
            assert summary(sink) == [
                (ADD, "one", "1"),
                (ADD, "two", "1"),
                (UPDATE, "one", "2"),
                (DELETE, "two", "1"),
                (ADD, "three", "1"),
            ]
        finally:
            a.stop()
            b.stop()
            sink.close()
