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
during the failover sent).

A PingSource ticking every second runs on the leader too, sinking to another recorder: no
tick comes with two ids (the one in flight at the SIGKILL may come twice, with its id), none
is missed across the change, and the ticks due while nobody led (inside the 60 s catch-up
window) arrive once each, after the survivor took the Lease (its ``acquireTime``): the
survivor goes on from the state the dead leader saved in the shared store."""

from __future__ import annotations

import itertools
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from kawa.sources.apiserver.state import StateStore, streams_of

from ..kubectl.sinks import Answer, Received, Sink
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


class Ticks:
    """A recorder of a PingSource's events that notes when each arrived."""

    def __init__(self) -> None:
        self.arrived: dict[int, float] = {}
        self.sink = Sink(self._stamp)

    def _stamp(self, n: int, received: Received) -> Answer:
        self.arrived[n] = time.time()
        return Answer()

    def received(self) -> list[tuple[float, str, float]]:
        """(tick as a Unix time, event id, arrival) of every event received (and stamped)."""
        return [
            (tick_of(r), r.ce("id") or "", self.arrived[n])
            for n, r in enumerate(self.sink.events())
            if n in self.arrived
        ]


def tick_of(received: Received) -> float:
    """The scheduled time of a ping (its ``time``), as a Unix time."""
    return datetime.fromisoformat(received.ce("time") or "").timestamp()


def ping_every_second(kawa: KawaProcess, sink_url: str) -> None:
    source = {
        "apiVersion": "sources.knative.dev/v1",
        "kind": "PingSource",
        "metadata": {"name": "ticks"},
        "spec": {"schedule": "* * * * * *", "sink": {"uri": sink_url}},
    }
    call(kawa, "POST", "/apis/sources.knative.dev/v1/namespaces/default/pingsources", source)


def acquired(kawa: KawaProcess) -> float:
    """When the Lease's holder took it (its ``acquireTime``), as a Unix time."""
    status, lease = kawa.request("GET", f"{LEASES}/kube-system/leases/kawa-controllers")
    assert status == 200, lease
    return datetime.fromisoformat(lease["spec"]["acquireTime"]).timestamp()


def summary(sink: Sink) -> list[tuple[str, str, str]]:
    """(type, name, data.v) of every event received, in order."""
    return [
        (r.ce("type") or "", r.ce("name") or "", str(r.json().get("data", {}).get("v")))
        for r in sink.events()
    ]


@pytest.mark.slow
def test_the_survivor_leads_after_the_leader_is_killed(tmp_path: Path) -> None:
    sink, ticks = Sink(), Ticks()
    with nats_server(tmp_path / "nats") as url:
        a, b = node(tmp_path, "a", url), node(tmp_path, "b", url)
        try:
            a.start()
            wait_until(lambda: holder(a) == "a", 15, "a never led")
            uid = watch_configmaps(a, sink.url)
            ping_every_second(a, ticks.sink.url)
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
            ticks.sink.wait(count=2, message="two ticks before the SIGKILL")

            a.kill()
            killed, killed_at = time.monotonic(), time.time()
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

            took_over = acquired(b)
            ticks.sink.wait(lambda r: tick_of(r) > took_over + 1, 1, "the survivor's ticks")
            received = ticks.received()
            ids: dict[float, list[str]] = {}
            for tick, event_id, _ in received:
                ids.setdefault(tick, []).append(event_id)
            # no tick fired twice with different ids, none missed across the change
            assert all(len(set(sent)) == 1 for sent in ids.values()), ids
            seconds = sorted(ids)
            assert all(later - earlier == 1.0 for earlier, later in itertools.pairwise(seconds)), (
                seconds
            )
            # the ticks due while nobody led came once each, once the survivor led
            due_meanwhile = [t for t in seconds if killed_at < t < took_over]
            assert due_meanwhile, (killed_at, took_over, seconds)
            assert all(len(ids[t]) == 1 for t in due_meanwhile), ids
            late = [arrived for tick, _, arrived in received if tick in due_meanwhile]
            assert min(late) >= took_over, (late, took_over)
        finally:
            a.stop()
            b.stop()
            sink.close()
            ticks.sink.close()
