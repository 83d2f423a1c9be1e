"""The four event sources driven with the real kubectl against the suite's ``kawa up``.

Each test works in namespaces of its own (never ``default``: the kawa is shared by the whole
kubectl suite) and deletes them at the end. The sink is a real HTTP subscriber in the test
process (``sinks.Sink``, binary-mode CloudEvents, ``sink: {uri: ...}``); one test sends to a
Knative Service running Knative's event_display image and reads its log with ``kubectl
logs``. Covered: PingSource (seconds schedule, data, ``ceOverrides``, deletion stops it),
ApiServerSource (Resource mode, label selector, ``namespaceSelector``, revoking and granting
back its ClusterRoleBinding, a missing and an unreachable sink, a sink created later and
tracked, deletion), ContainerSource
(its template held to the Pod's rules and stored as written; its Pod posts to ``$K_SINK`` with
``$K_CE_OVERRIDES``; deletion stops it and its Pod) and
SinkBinding (a Pod selected by label gets ``K_SINK``, and loses it when the binding goes).
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import yaml

from kawa.sources.apiserver.state import StateStore, streams_of
from kawa.sources.ping.state import TickStore

from ..e2e.e2e_support import KawaProcess, free_port
from ..waiting import wait_until
from .kubectl_support import Kubectl, condition
from .sinks import TIMEOUT, Received, Sink

pytestmark = pytest.mark.slow

PROMPT = 1.0
"""How soon after its sink is addressable a source is Ready (the periodic resync is 10 s)."""
PYTHON_IMAGE = "docker.io/library/python:3.11-slim"
"""Maps to no program in kawa: the container's ``command`` runs on the host."""
EVENT_DISPLAY = "gcr.io/knative-releases/knative.dev/eventing/cmd/event_display"

PRODUCER = """\
import json, os, sys, time, urllib.request
sink = os.environ.get("K_SINK")
overrides = json.loads(os.environ.get("K_CE_OVERRIDES") or "{}")
extensions = overrides.get("extensions") or {}
pod = os.environ.get("HOSTNAME", "")
n = 0
while True:
    time.sleep(0.2)  # its period
    if not sink:
        continue
    n += 1
    headers = {
        "Content-Type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": f"{pod}-{os.getpid()}-{n}",
        "ce-type": "dev.kawa.test.produced",
        "ce-source": f"/producers/{pod}",
    }
    headers.update({f"ce-{k}": str(v) for k, v in extensions.items()})
    body = json.dumps({"n": n, "pod": pod}).encode()
    request = urllib.request.Request(sink, data=body, headers=headers, method="POST")
    try:
        urllib.request.urlopen(request, timeout=5).read()
    except OSError as err:
        print(f"event {n}: {err}", flush=True)
"""
"""A program that POSTs a binary-mode CloudEvent to ``$K_SINK`` every 0.2 s, with the
extensions of ``$K_CE_OVERRIDES``; without ``$K_SINK`` it idles."""


def pid_of(event: Received) -> int:
    """The process that sent a :data:`PRODUCER` event (its id is ``<pod>-<pid>-<n>``)."""
    return int(str(event.ce("id")).split("-")[-2])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- helpers -----------------------------------------------------------------------------------


def _meta(name: str, ns: str, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if labels:
        meta["labels"] = labels
    return meta


def _wait_condition(
    kubectl: Kubectl, ref: tuple[str, ...], status: str, kind: str = "Ready"
) -> dict[str, Any]:
    """Wait until condition ``kind`` of ``kubectl get REF`` has ``status``; the object."""
    last: dict[str, Any] = {}

    def reached() -> dict[str, Any] | None:
        nonlocal last
        last = kubectl.json("get", *ref)
        cond = condition(last, kind)
        return last if cond is not None and cond["status"] == status else None

    try:
        obj: dict[str, Any] = wait_until(reached, TIMEOUT, f"{ref} never {kind}={status}")
    except AssertionError:
        raise AssertionError(f"{ref} never {kind}={status}: {last.get('status')}") from None
    return obj


def _cond(obj: dict[str, Any], kind: str = "Ready") -> dict[str, Any]:
    cond = condition(obj, kind)
    assert cond is not None, (kind, obj.get("status"))
    return cond


def _api_url(kawa: KawaProcess) -> str:
    config = yaml.safe_load((kawa.data_dir / "kubeconfig").read_text())
    return str(config["clusters"][0]["cluster"]["server"]).rstrip("/")


def _producer(name: str = "producer") -> dict[str, Any]:
    return {
        "name": name,
        "image": PYTHON_IMAGE,
        "command": [sys.executable, "-c", PRODUCER],
    }


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env") or []}


# -- PingSource --------------------------------------------------------------------------------


def _ping_source(name: str, ns: str, uri: str) -> dict[str, Any]:
    return {
        "apiVersion": "sources.knative.dev/v1",
        "kind": "PingSource",
        "metadata": _meta(name, ns),
        "spec": {"schedule": "* * * * * *", "sink": {"uri": uri}},
    }


def test_ping_source_sends_on_its_schedule_and_stops_when_deleted(
    kubectl: Kubectl, kawa: KawaProcess, sink: Sink, namespaces: Callable[..., str]
) -> None:
    ns = namespaces("src-ping")
    out = kubectl.apply(
        {
            "apiVersion": "sources.knative.dev/v1",
            "kind": "PingSource",
            "metadata": _meta("every-second", ns),
            "spec": {
                "schedule": "*/1 * * * * *",
                "contentType": "application/json",
                "data": '{"message": "Hello kawa"}',
                "ceOverrides": {"extensions": {"team": "kawa", "type": "ignored"}},
                "sink": {"uri": sink.url},
            },
        }
    )
    assert out.strip() == "pingsource.sources.knative.dev/every-second created"
    source = _wait_condition(kubectl, ("pingsource", "every-second", "-n", ns), "True")
    assert source["status"]["sinkUri"] == sink.url
    expected_source = f"/apis/v1/namespaces/{ns}/pingsources/every-second"
    assert source["status"]["ceAttributes"] == [
        {"type": "dev.knative.sources.ping", "source": expected_source}
    ]
    table = kubectl.ok("get", "pingsources", "-n", ns)
    assert "every-second" in table, table
    assert "*/1 * * * * *" in table, table

    def pings(r: Received) -> bool:
        return r.ce("source") == expected_source

    got = sink.wait(pings, 3, "three ticks")
    for event in got:
        assert event.ce("specversion") == "1.0"
        assert event.ce("type") == "dev.knative.sources.ping"  # the override cannot change it
        assert event.ce("team") == "kawa"
        assert event.headers["content-type"] == "application/json"
        assert event.json() == {"message": "Hello kawa"}
        assert event.ce("time"), event.headers
    assert len({e.ce("id") for e in got}) == len(got)  # a fresh id per tick
    # one tick per second, on the second: time is the scheduled tick, not the sending
    ticks = sorted(datetime.fromisoformat(str(e.ce("time"))) for e in got)
    assert all(t.microsecond == 0 and t.utcoffset() == timedelta(0) for t in ticks), ticks
    gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(ticks)}
    assert gaps == {1.0}, ticks

    uid = kubectl.json("get", "pingsource", "every-second", "-n", ns)["metadata"]["uid"]
    state = TickStore.key(ns, uid)  # in kawa's resource store
    assert kawa.stored(state) is not None
    out = kubectl.ok("delete", "pingsource", "every-second", "-n", ns)
    assert out.strip() == 'pingsource.sources.knative.dev "every-second" deleted'
    # its timer stops, then its state goes
    wait_until(lambda: kawa.stored(state) is None, TIMEOUT, "the deleted source kept its timer")
    # a source created now ticks every second, as it did: after its first event (any of
    # "every-second" on the wire has arrived), two more seconds without one
    kubectl.apply(_ping_source("witness", ns, sink.url))
    witness_source = f"/apis/v1/namespaces/{ns}/pingsources/witness"

    def witness(r: Received) -> bool:
        return r.ce("source") == witness_source

    sink.wait(witness, 1, "the witness's first tick")
    seen = len(sink.events(pings))
    sink.wait(witness, 3, "two more ticks of the witness")
    assert len(sink.events(pings)) == seen
    kubectl.ok("delete", "pingsource", "witness", "-n", ns)


def test_ping_source_to_a_knative_service(kubectl: Kubectl, namespaces: Callable[..., str]) -> None:
    ns = namespaces("src-ping-ksvc")
    kubectl.apply(
        [
            {
                "apiVersion": "serving.knative.dev/v1",
                "kind": "Service",
                "metadata": _meta("display", ns),
                "spec": {"template": {"spec": {"containers": [{"image": EVENT_DISPLAY}]}}},
            },
            {
                "apiVersion": "sources.knative.dev/v1",
                "kind": "PingSource",
                "metadata": _meta("to-ksvc", ns),
                "spec": {
                    "schedule": "*/1 * * * * *",
                    "data": "ping for the display",
                    "sink": {
                        "ref": {
                            "apiVersion": "serving.knative.dev/v1",
                            "kind": "Service",
                            "name": "display",
                        }
                    },
                },
            },
        ]
    )
    service = _wait_condition(kubectl, ("ksvc", "display", "-n", ns), "True")
    source = _wait_condition(kubectl, ("pingsource", "to-ksvc", "-n", ns), "True")
    assert source["status"]["sinkUri"] == service["status"]["address"]["url"]

    def displayed() -> str | None:
        log = kubectl.service_log("display", ns)
        return log if log.count("type: dev.knative.sources.ping") >= 2 else None

    log = wait_until(displayed, TIMEOUT, "the event_display never showed two pings")
    assert f"source: /apis/v1/namespaces/{ns}/pingsources/to-ksvc" in log, log
    assert "ping for the display" in log, log
    kubectl.ok("delete", "pingsource", "to-ksvc", "-n", ns)
    kubectl.ok("delete", "ksvc", "display", "-n", ns)


# -- ApiServerSource ---------------------------------------------------------------------------

ROLE = "kawa-test-src-configmap-reader"


def _rbac(ns: str, account: str) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(account, ns),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": ROLE},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["configmaps"],
                    "verbs": ["get", "list", "watch"],
                }
            ],
        },
        _binding(ns, account),
    ]


def _binding(ns: str, account: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": ROLE},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": ROLE},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": ns}],
    }


def _apiserversource(name: str, ns: str, sink: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "sources.knative.dev/v1",
        "kind": "ApiServerSource",
        "metadata": _meta(name, ns),
        "spec": {
            "serviceAccountName": "watcher",
            "mode": "Resource",
            "resources": [
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "selector": {"matchLabels": {"watched": "yes"}},
                }
            ],
            "sink": sink,
            **spec,
        },
    }


def _configmap(kubectl: Kubectl, ns: str, name: str, *labels: str) -> None:
    kubectl.ok("create", "configmap", name, "-n", ns, f"--from-literal=name={name}")
    if labels:
        kubectl.ok("label", "configmap", name, "-n", ns, *labels)


def _about(name: str, ns: str) -> Callable[[Received], bool]:
    return lambda r: r.ce("name") == name and r.ce("namespace") == ns


def _handled(
    kawa: KawaProcess, kubectl: Kubectl, ref: tuple[str, ...], resource: str, name: str, ns: str
) -> None:
    """Wait until the ApiServerSource ``ref`` has handled the latest change of ``resource``
    ``name``: its stream of that kind in ``ns`` saved a resourceVersion at or past it (in
    kawa's resource store, read as another process). It sends its events one by one, in order,
    each answered first: the positive signal that whatever that change brings has arrived."""
    source = kubectl.json("get", *ref)["metadata"]
    obj = kubectl.json("get", resource, name, "-n", ns)
    version = int(obj["metadata"]["resourceVersion"])
    key = StateStore.key(source["namespace"], source["uid"])

    def reached() -> bool:
        stored = kawa.stored(key) or {}
        return any(
            s.info is not None
            and s.info.kind == obj["kind"]
            and s.namespace == ns
            and int(s.resource_version or 0) >= version
            for s in streams_of(stored.get("streams")).values()
        )

    wait_until(reached, TIMEOUT, f"{ref[1]} never handled {resource} {ns}/{name} v{version}")


@pytest.fixture
def cluster_rbac(kubectl: Kubectl) -> Iterator[None]:
    """Deletes the cluster-scoped RBAC objects of the ApiServerSource tests at the end."""
    yield
    kubectl.run("delete", "clusterrolebinding", ROLE, "--ignore-not-found")
    kubectl.run("delete", "clusterrole", ROLE, "--ignore-not-found")


def test_apiserversource_label_selector_and_permissions(
    kubectl: Kubectl,
    kawa: KawaProcess,
    sink: Sink,
    namespaces: Callable[..., str],
    cluster_rbac: None,
) -> None:
    ns = namespaces("src-api")
    kubectl.apply(_rbac(ns, "watcher"))
    kubectl.apply(
        _apiserversource(
            "configmaps", ns, {"uri": sink.url}, ceOverrides={"extensions": {"team": "kawa"}}
        )
    )
    ref = ("apiserversources.sources.knative.dev", "configmaps", "-n", ns)
    source = _wait_condition(kubectl, ref, "True")
    server = _api_url(kawa)
    assert source["status"]["sinkUri"] == sink.url
    assert {(a["type"], a["source"]) for a in source["status"]["ceAttributes"]} == {
        (f"dev.knative.apiserver.resource.{change}", server)
        for change in ("add", "update", "delete")
    }

    # only the labelled ConfigMap arrives, as a resource.add with the object as data
    _configmap(kubectl, ns, "plain")
    _configmap(kubectl, ns, "labelled", "watched=yes")
    (added,) = sink.wait(_about("labelled", ns), 1, "the labelled ConfigMap")
    assert added.ce("type") == "dev.knative.apiserver.resource.add"
    assert added.ce("source") == server
    assert added.ce("subject") == f"/apis/v1/namespaces/{ns}/configmaps/labelled"
    assert added.ce("kind") == "ConfigMap"
    assert added.ce("apiversion") == "v1"
    assert added.ce("team") == "kawa"
    assert added.headers["content-type"] == "application/json"
    assert {h for h in added.headers if h.startswith("ce-")} == {
        f"ce-{a}"
        for a in (
            *("specversion", "id", "source", "type", "subject", "time"),
            *("kind", "apiversion", "name", "namespace", "team"),
        )
    }, added.headers
    data = added.json()
    assert (data["kind"], data["apiVersion"]) == ("ConfigMap", "v1")
    assert data["metadata"]["name"] == "labelled"
    assert data["metadata"]["labels"] == {"watched": "yes"}
    assert data["data"] == {"name": "labelled"}
    live = kubectl.json("get", "configmap", "labelled", "-n", ns)
    assert data["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"]

    # labelling brings an object in (add), unlabelling takes it out (delete)
    kubectl.ok("label", "configmap", "plain", "-n", ns, "watched=yes")
    (add,) = sink.wait(_about("plain", ns), 1, "plain, labelled later")
    assert add.ce("type") == "dev.knative.apiserver.resource.add"
    kubectl.ok("label", "configmap", "plain", "-n", ns, "watched-")
    got = sink.wait(_about("plain", ns), 2, "plain, unlabelled")
    assert got[1].ce("type") == "dev.knative.apiserver.resource.delete"
    # an update of a labelled one is an update; a ConfigMap never labelled sends nothing
    kubectl.ok("patch", "configmap", "labelled", "-n", ns, "-p", '{"data":{"more":"x"}}')
    got = sink.wait(_about("labelled", ns), 2, "the update")
    assert got[1].ce("type") == "dev.knative.apiserver.resource.update"
    assert got[1].json()["data"] == {"name": "labelled", "more": "x"}
    _configmap(kubectl, ns, "never")
    _handled(kawa, kubectl, ref, "configmap", "never", ns)
    assert not sink.events(_about("never", ns))

    # revoking the binding: not Ready, says which permission is missing, no more events
    kubectl.ok("delete", "clusterrolebinding", ROLE)
    source = _wait_condition(kubectl, ref, "False")
    perms = _cond(source, "SufficientPermissions")
    assert perms["status"] == "False", source["status"]
    assert perms["reason"] == "InsufficientPermissions", perms
    for verb in ("get", "list", "watch"):
        assert f"cannot {verb} configmaps in namespace {ns}" in perms["message"], perms
    assert 'ServiceAccount "watcher"' in perms["message"], perms
    assert _cond(source)["reason"] == "InsufficientPermissions", source["status"]
    _configmap(kubectl, ns, "while-revoked", "watched=yes")
    # its watch is refused (the condition above): nothing now, sent once granted back below
    assert not sink.events(_about("while-revoked", ns))

    # granting it back: Ready again; the change made in between is sent then, new ones follow
    kubectl.apply(_binding(ns, "watcher"))
    _wait_condition(kubectl, ref, "True")
    (late,) = sink.wait(_about("while-revoked", ns), 1, "the change made while revoked")
    assert late.ce("type") == "dev.knative.apiserver.resource.add"
    _configmap(kubectl, ns, "after-grant", "watched=yes")
    sink.wait(_about("after-grant", ns), 1, "a ConfigMap made after the grant")
    assert len(sink.events(_about("labelled", ns))) == 2  # nothing announced twice

    # deleting the source stops its events: its adapter stops, then its state goes
    key = StateStore.key(ns, kubectl.json("get", *ref)["metadata"]["uid"])
    assert kawa.stored(key) is not None
    kubectl.ok("delete", "apiserversources.sources.knative.dev", "configmaps", "-n", ns)
    wait_until(lambda: kawa.stored(key) is None, TIMEOUT, "the deleted source kept running")
    before = sink.summary(lambda r: r.ce("namespace") == ns)
    _configmap(kubectl, ns, "after-delete", "watched=yes")
    kubectl.ok("delete", "configmap", "labelled", "-n", ns)
    assert sink.summary(lambda r: r.ce("namespace") == ns) == before


def test_apiserversource_namespace_selector(
    kubectl: Kubectl,
    sink: Sink,
    namespaces: Callable[..., str],
    cluster_rbac: None,
) -> None:
    home = namespaces("src-api-home")
    inside = namespaces("src-api-in", **{"src-watch": "yes"})
    outside = namespaces("src-api-out")
    kubectl.apply(_rbac(home, "watcher"))
    kubectl.apply(
        _apiserversource(
            "by-namespace",
            home,
            {"uri": sink.url},
            namespaceSelector={"matchLabels": {"src-watch": "yes"}},
        )
    )
    ref = ("apiserversources.sources.knative.dev", "by-namespace", "-n", home)
    source = _wait_condition(kubectl, ref, "True")
    assert source["status"]["namespaces"] == [inside], source["status"]

    for ns in (home, inside, outside):
        _configmap(kubectl, ns, "first", "watched=yes")
    (got,) = sink.wait(_about("first", inside), 1, "the ConfigMap of the selected namespace")
    assert got.ce("subject") == f"/apis/v1/namespaces/{inside}/configmaps/first"
    # one more, made after the others: what they would have sent has arrived by its event
    _configmap(kubectl, inside, "later", "watched=yes")
    sink.wait(_about("later", inside), 1, "the later ConfigMap of the selected namespace")
    assert not sink.events(lambda r: r.ce("namespace") in (home, outside))

    # labelling the other namespace brings it in
    kubectl.ok("label", "namespace", outside, "src-watch=yes")

    def both() -> dict[str, Any] | None:
        obj: dict[str, Any] = kubectl.json("get", *ref)
        return (
            obj
            if sorted(obj["status"].get("namespaces") or []) == sorted([inside, outside])
            else None
        )

    wait_until(both, TIMEOUT, "the labelled namespace never joined status.namespaces")
    _wait_condition(kubectl, ref, "True")
    _configmap(kubectl, outside, "second", "watched=yes")
    (got,) = sink.wait(_about("second", outside), 1, "the ConfigMap of the joined namespace")
    assert got.ce("type") == "dev.knative.apiserver.resource.add"
    assert not sink.events(lambda r: r.ce("namespace") == home)
    kubectl.ok("delete", "apiserversources.sources.knative.dev", "by-namespace", "-n", home)


def test_apiserversource_missing_and_unreachable_sink(
    kubectl: Kubectl, namespaces: Callable[..., str], cluster_rbac: None
) -> None:
    ns = namespaces("src-api-sinks")
    kubectl.apply(_rbac(ns, "watcher"))
    broker = {"ref": {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "nowhere"}}
    closed = f"http://127.0.0.1:{free_port()}/"
    kubectl.apply(
        [
            _apiserversource("missing", ns, broker),
            _apiserversource("unreachable", ns, {"uri": closed}),
        ]
    )
    missing = _wait_condition(
        kubectl, ("apiserversources.sources.knative.dev", "missing", "-n", ns), "False"
    )
    provided = _cond(missing, "SinkProvided")
    assert provided["status"] == "False", missing["status"]
    assert provided["reason"] == "NotFound", provided
    assert "nowhere" in provided["message"], provided
    assert _cond(missing)["reason"] == "NotFound", missing["status"]

    ref = ("apiserversources.sources.knative.dev", "unreachable", "-n", ns)
    _wait_condition(kubectl, ref, "True")  # nothing was sent yet
    _configmap(kubectl, ns, "undeliverable", "watched=yes")
    source = _wait_condition(kubectl, ref, "False")
    provided = _cond(source, "SinkProvided")
    assert provided["reason"] == "Unreachable", source["status"]
    assert closed in provided["message"], provided
    assert source["status"]["sinkUri"] == closed
    kubectl.ok("delete", "apiserversources.sources.knative.dev", "missing", "unreachable", "-n", ns)


def test_apiserversource_is_ready_as_soon_as_its_sink_is(
    kubectl: Kubectl, namespaces: Callable[..., str], cluster_rbac: None
) -> None:
    """Its sink, a Knative Service, is created after it: the source tracks it and is Ready
    within moments of it (not at the controller's periodic resync, 10 s)."""
    ns = namespaces("src-api-later")
    kubectl.apply(_rbac(ns, "watcher"))
    display = {"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "later"}}
    kubectl.apply(_apiserversource("to-later", ns, display))
    ref = ("apiserversources.sources.knative.dev", "to-later", "-n", ns)
    source = _wait_condition(kubectl, ref, "False")
    assert _cond(source, "SinkProvided")["reason"] == "NotFound", source["status"]

    kubectl.apply(
        {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "metadata": _meta("later", ns),
            "spec": {"template": {"spec": {"containers": [{"image": EVENT_DISPLAY}]}}},
        }
    )
    waited = kubectl.run(
        "wait", "--for=condition=Ready", "ksvc/later", "-n", ns, "--timeout=60s", timeout=70
    )
    assert waited.code == 0, waited.explain()
    service_ready = time.monotonic()
    source = _wait_condition(kubectl, ref, "True")
    elapsed = time.monotonic() - service_ready
    assert elapsed < PROMPT, f"the source became Ready {elapsed:.2f}s after its sink"
    service = kubectl.json("get", "ksvc", "later", "-n", ns)
    assert source["status"]["sinkUri"] == service["status"]["address"]["url"]

    _configmap(kubectl, ns, "after", "watched=yes")

    def displayed() -> str | None:
        log = kubectl.service_log("later", ns)
        return log if f"subject: /apis/v1/namespaces/{ns}/configmaps/after" in log else None

    wait_until(displayed, TIMEOUT, "the event_display never showed the ConfigMap's event")
    kubectl.ok("delete", "apiserversources.sources.knative.dev", "to-later", "-n", ns)
    kubectl.ok("delete", "ksvc", "later", "-n", ns)


# -- ContainerSource ---------------------------------------------------------------------------


def test_container_source_runs_its_pod_and_stops_when_deleted(
    kubectl: Kubectl, sink: Sink, namespaces: Callable[..., str]
) -> None:
    ns = namespaces("src-container")
    manifest: dict[str, Any] = {
        "apiVersion": "sources.knative.dev/v1",
        "kind": "ContainerSource",
        "metadata": _meta("heartbeats", ns),
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "heartbeats"}},
                "spec": {"containers": [_producer("heartbeats")]},
            },
            "ceOverrides": {"extensions": {"team": "kawa"}},
            "sink": {"uri": sink.url},
        },
    }
    # the template is held to the Pod's rules at admission
    broken = json.loads(json.dumps(manifest))
    broken["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [
        {"name": "data", "mountPath": "/data"}
    ]
    refused = kubectl.fails("apply", "-f", "-", stdin=json.dumps(broken))
    assert "spec.template.spec.containers[0].volumeMounts[0].name" in refused.stderr
    assert "no volume 'data'" in refused.stderr

    out = kubectl.apply(manifest)
    assert out.strip() == "containersource.sources.knative.dev/heartbeats created"
    source = _wait_condition(kubectl, ("containersource", "heartbeats", "-n", ns), "True")
    assert source["status"]["sinkUri"] == sink.url
    # stored as written: the Pod's defaults are the Pod's, not the source's (as in Knative)
    assert "restartPolicy" not in source["spec"]["template"]["spec"]
    assert "imagePullPolicy" not in source["spec"]["template"]["spec"]["containers"][0]

    def produced(r: Received) -> bool:
        return (r.ce("source") or "").startswith("/producers/heartbeats-deployment-")

    got = sink.wait(produced, 3, "the container's events")
    for event in got:
        assert event.ce("type") == "dev.kawa.test.produced"
        assert event.ce("team") == "kawa"
    pod_name = str(got[0].json()["pod"])
    assert pod_name.startswith("heartbeats-deployment-"), pod_name

    pods = kubectl.ok("get", "pods", "-n", ns)
    (row,) = [line for line in pods.splitlines() if line.startswith(pod_name)]
    assert row.split()[1:3] == ["1/1", "Running"], pods
    pod = kubectl.json("get", "pod", pod_name, "-n", ns)
    assert pod["metadata"]["labels"]["app"] == "heartbeats"
    assert pod["metadata"]["labels"]["sources.knative.dev/containerSource"] == "heartbeats"
    assert pod["spec"]["restartPolicy"] == "Always"
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    env = _env(pod["spec"]["containers"][0])
    assert env["K_SINK"] == sink.url
    assert json.loads(env["K_CE_OVERRIDES"]) == {"extensions": {"team": "kawa"}}

    kubectl.ok("delete", "containersource", "heartbeats", "-n", ns)

    def pod_gone() -> bool:
        listed = kubectl.json("get", "pods", "-n", ns)
        return not listed["items"]

    wait_until(pod_gone, TIMEOUT, "the ContainerSource's Pod outlived it")
    senders = {pid_of(e) for e in sink.events(produced)}
    wait_until(lambda: not any(map(alive, senders)), TIMEOUT, "its process outlived its Pod")
    # its events stop: all came from its processes, all gone (none came from a new one)
    assert {pid_of(e) for e in sink.events(produced)} == senders


# -- SinkBinding -------------------------------------------------------------------------------


def test_sinkbinding_binds_a_pod_by_label_and_unbinds_it_when_deleted(
    kubectl: Kubectl, sink: Sink, namespaces: Callable[..., str]
) -> None:
    ns = namespaces("src-binding")
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": _meta("producer", ns, app="producer"),
            "spec": {"restartPolicy": "Always", "containers": [_producer()]},
        }
    )
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": _meta("bystander", ns, app="other"),
            "spec": {"restartPolicy": "Always", "containers": [_producer()]},
        }
    )
    first = kubectl.json("get", "pod", "producer", "-n", ns)
    assert "K_SINK" not in _env(first["spec"]["containers"][0])
    out = kubectl.apply(
        {
            "apiVersion": "sources.knative.dev/v1",
            "kind": "SinkBinding",
            "metadata": _meta("bind-producers", ns),
            "spec": {
                "subject": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "selector": {"matchLabels": {"app": "producer"}},
                },
                "ceOverrides": {"extensions": {"team": "bound"}},
                "sink": {"uri": sink.url},
            },
        }
    )
    assert out.strip() == "sinkbinding.sources.knative.dev/bind-producers created"
    binding = _wait_condition(kubectl, ("sinkbinding", "bind-producers", "-n", ns), "True")
    assert binding["status"]["sinkUri"] == sink.url

    def from_producer(r: Received) -> bool:
        return r.ce("source") == "/producers/producer"

    got = sink.wait(from_producer, 3, "the bound Pod's events")
    assert all(e.ce("team") == "bound" for e in got), [e.headers for e in got]
    bound = kubectl.json("get", "pod", "producer", "-n", ns)
    assert bound["metadata"]["uid"] != first["metadata"]["uid"]  # recreated with the sink
    env = _env(bound["spec"]["containers"][0])
    assert env["K_SINK"] == sink.url
    assert json.loads(env["K_CE_OVERRIDES"]) == {"extensions": {"team": "bound"}}
    assert bound["metadata"]["labels"] == {"app": "producer"}
    bystander = kubectl.json("get", "pod", "bystander", "-n", ns)
    assert "K_SINK" not in _env(bystander["spec"]["containers"][0])
    assert not sink.events(lambda r: r.ce("source") == "/producers/bystander")

    kubectl.ok("delete", "sinkbinding", "bind-producers", "-n", ns)

    def unbound() -> dict[str, Any] | None:
        run = kubectl.run("get", "pod", "producer", "-n", ns, "-o", "json")
        if run.code != 0:
            return None  # between the deletion and the new Pod
        pod: dict[str, Any] = json.loads(run.stdout)
        if pod["metadata"]["uid"] == bound["metadata"]["uid"]:
            return None
        return pod if "K_SINK" not in _env(pod["spec"]["containers"][0]) else None

    recreated = wait_until(unbound, TIMEOUT, "the Pod was never recreated without K_SINK")
    assert "K_CE_OVERRIDES" not in _env(recreated["spec"]["containers"][0])
    senders = {pid_of(e) for e in sink.events(from_producer)}
    wait_until(lambda: not any(map(alive, senders)), TIMEOUT, "the bound process outlived it")
    # its events stop: all came from the bound processes, all gone (none from the new one)
    assert {pid_of(e) for e in sink.events(from_producer)} == senders
    kubectl.ok("delete", "pod", "producer", "bystander", "-n", ns)


# -- the other sources' sinks ------------------------------------------------------------------


def test_ping_container_and_binding_say_why_their_sink_fails(
    kubectl: Kubectl, namespaces: Callable[..., str]
) -> None:
    ns = namespaces("src-sinks")
    broker = {"ref": {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "nowhere"}}
    closed = f"http://127.0.0.1:{free_port()}/"
    ping = {"schedule": "*/1 * * * * *", "data": "x"}
    kubectl.apply(
        [
            {
                "apiVersion": "sources.knative.dev/v1",
                "kind": "PingSource",
                "metadata": _meta("ping-missing", ns),
                "spec": {**ping, "sink": broker},
            },
            {
                "apiVersion": "sources.knative.dev/v1",
                "kind": "PingSource",
                "metadata": _meta("ping-unreachable", ns),
                "spec": {**ping, "sink": {"uri": closed}},
            },
            {
                "apiVersion": "sources.knative.dev/v1",
                "kind": "ContainerSource",
                "metadata": _meta("container-missing", ns),
                "spec": {"template": {"spec": {"containers": [_producer()]}}, "sink": broker},
            },
            {
                "apiVersion": "sources.knative.dev/v1",
                "kind": "SinkBinding",
                "metadata": _meta("binding-missing", ns),
                "spec": {
                    "subject": {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "selector": {"matchLabels": {"app": "producer"}},
                    },
                    "sink": broker,
                },
            },
        ]
    )
    for ref, kind in [
        (("pingsource", "ping-missing"), "SinkProvided"),
        (("containersource", "container-missing"), "SinkBindingReady"),
        (("sinkbinding", "binding-missing"), "SinkProvided"),
    ]:
        obj = _wait_condition(kubectl, (*ref, "-n", ns), "False")
        cond = _cond(obj, kind)
        assert cond["status"] == "False", obj["status"]
        assert cond["reason"] == "NotFound", cond
        assert "nowhere" in cond["message"], cond
        assert _cond(obj)["reason"] == "NotFound", obj["status"]
    # a ContainerSource without a sink starts no Pod
    assert not kubectl.json("get", "pods", "-n", ns)["items"]

    # a PingSource whose sink refuses connections turns not Ready after a tick fails
    obj = _wait_condition(kubectl, ("pingsource", "ping-unreachable", "-n", ns), "False")
    cond = _cond(obj, "SinkProvided")
    assert cond["reason"] == "Unreachable", obj["status"]
    assert closed in cond["message"], cond
    assert obj["status"]["sinkUri"] == closed
    kubectl.ok("delete", "pingsource", "ping-missing", "ping-unreachable", "-n", ns)
    kubectl.ok("delete", "containersource", "container-missing", "-n", ns)
    kubectl.ok("delete", "sinkbinding", "binding-missing", "-n", ns)
