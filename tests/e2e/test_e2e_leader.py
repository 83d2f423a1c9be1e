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
survivor goes on from the state the dead leader saved in the shared store.

The workload controllers' actions are counted too, by a watch of the Pods on the survivor
open from before the first of them to the end: a Deployment of two Pods made before the
SIGKILL and scaled to three while nobody leads, and a Job of two completions made while
nobody leads (all their Pods bound to ``b``, the survivor, so that none is lost with ``a``).
Every Pod is created once: three of the ReplicaSet and two of the Job were ever added, none
deleted, and the Job completes with ``succeeded: 2``."""

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
from .watching import ApiWatch

LEASE_DURATION = 3.0
LEASES = "/apis/coordination.k8s.io/v1/namespaces"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
PODS = "/api/v1/namespaces/default/pods"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
JOBS = "/apis/batch/v1/namespaces/default/jobs"
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


def on_b(command: str) -> dict[str, Any]:
    """A Pod template: ``busybox`` running ``command``, bound to node ``b``."""
    container = {"name": "c", "image": "busybox", "args": ["sh", "-c", command]}
    return {
        "nodeName": "b",
        "terminationGracePeriodSeconds": 1,
        "restartPolicy": "Never",
        "containers": [container],
    }


def deployment(replicas: int) -> dict[str, Any]:
    labels = {"app": "web"}
    template = {**on_b("sleep 3600"), "restartPolicy": "Always"}
    return {
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": template},
        },
    }


def job() -> dict[str, Any]:
    return {
        "metadata": {"name": "twice"},
        "spec": {"completions": 2, "template": {"spec": on_b("true")}},
    }


def running(kawa: KawaProcess, selector: str) -> int:
    found = call(kawa, "GET", f"{PODS}?labelSelector={selector}")
    return sum(1 for p in found["items"] if p.get("status", {}).get("phase") == "Running")


def pods_by_owner(watch: ApiWatch) -> dict[tuple[str, str], set[str]]:
    """(event type, owner kind) -> the uids of the Pods of that owner in such events."""
    counted: dict[tuple[str, str], set[str]] = {}
    for kind, pod in watch.events:
        owners = pod["metadata"].get("ownerReferences") or [{"kind": "-"}]
        counted.setdefault((kind, owners[0]["kind"]), set()).add(pod["metadata"]["uid"])
    return counted


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
        pod_watch: ApiWatch | None = None
        try:
            a.start()
            wait_until(lambda: holder(a) == "a", 15, "a never led")
            uid = watch_configmaps(a, sink.url)
            ping_every_second(a, ticks.sink.url)
            call(a, "POST", CONFIGMAPS, configmap("one", "1"))
            two = call(a, "POST", CONFIGMAPS, configmap("two", "1"))
            b.start()
            pod_watch = ApiWatch(b, PODS)
            call(a, "POST", DEPLOYMENTS, deployment(2))
            wait_until(lambda: running(b, "app%3Dweb") == 2, 30, "the Deployment's Pods")
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
            web = call(b, "GET", f"{DEPLOYMENTS}/web")
            call(b, "PUT", f"{DEPLOYMENTS}/web", {**web, "spec": {**web["spec"], "replicas": 3}})
            call(b, "POST", JOBS, job())
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

            # every Pod created once: the scale-up's one and the Job's two, none twice
            def completed() -> Any:
                done = call(b, "GET", f"{JOBS}/twice")
                return done if done.get("status", {}).get("succeeded") == 2 else None

            done = wait_until(completed, 30, "the Job never completed")
            assert {c["type"] for c in done["status"]["conditions"]} >= {"Complete"}, done
            wait_until(lambda: running(b, "app%3Dweb") == 3, 20, "the scale-up's Pod")
            assert pod_watch.error is None, pod_watch.error  # it saw the whole run
            counted = pods_by_owner(pod_watch)
            assert {k: len(v) for k, v in counted.items() if k[0] == "ADDED"} == {
                ("ADDED", "ReplicaSet"): 3,
                ("ADDED", "Job"): 2,
            }, counted
            assert not [k for k in counted if k[0] == "DELETED"], counted
            assert len(call(b, "GET", "/apis/apps/v1/namespaces/default/replicasets")["items"]) == 1
            assert len(call(b, "GET", f"{PODS}?labelSelector=app%3Dweb")["items"]) == 3
        finally:
            if pod_watch is not None:
                pod_watch.close()
            a.stop()
            b.stop()
            sink.close()
            ticks.sink.close()
