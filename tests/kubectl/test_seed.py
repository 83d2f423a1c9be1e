"""The seed tutorial, verbatim, with the real kubectl: its manifests (2019 forms) apply, the
namespace label creates Broker ``default``, the ApiServerSource, the Service and the Trigger
become Ready, ``kubectl run busybox`` makes Kubernetes Events that reach the event-display as
``dev.knative.apiserver.resource.add`` CloudEvents, and ``kubectl logs -l ... -c
user-container`` shows them. Invalid manifests are refused with every field error while
nothing stored changes. All of it on kawa's SQLite default and on JetStream (``kawa up
--nats``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ..e2e.e2e_support import KawaProcess
from ..waiting import wait_until
from .kubectl_support import Kubectl, condition, header

pytestmark = pytest.mark.slow

SEED = Path(__file__).resolve().parents[2] / "examples" / "seed"
"""The tutorial's four manifests, as examples/seed keeps them (see its README)."""
SERVICE_ACCOUNT = (SEED / "serviceaccount.yaml").read_text()
K8S_EVENTS = (SEED / "k8s-events.yaml").read_text()
SERVICE = (SEED / "service.yaml").read_text()
TRIGGER = (SEED / "trigger.yaml").read_text()


@pytest.fixture
def kubectl(each_kawa: KawaProcess, tmp_path: Path) -> Kubectl:
    """kubectl on each backend in turn (see :func:`tests.kubectl.conftest.each_kawa`)."""
    return Kubectl(each_kawa.data_dir / "kubeconfig", tmp_path / "kube-cache")


def _status(kubectl: Kubectl, *ref: str) -> dict[str, Any]:
    def reported() -> dict[str, Any] | None:
        obj: dict[str, Any] = kubectl.json("get", *ref)
        return obj if condition(obj) is not None else None

    obj: dict[str, Any] = wait_until(reported, 10, f"{ref} never reported Ready")
    return obj


def test_seed_tutorial_runs_verbatim(kubectl: Kubectl, tmp_path: Path) -> None:
    seed_runs_verbatim(kubectl, tmp_path)


def seed_runs_verbatim(kubectl: Kubectl, tmp_path: Path) -> None:
    """The tutorial's steps and checks against the kawa ``kubectl`` drives (a fresh one: its
    applies say ``created``); also run with every security flag on (tests/e2e)."""
    files = {}
    for name, text in [
        ("serviceaccount.yaml", SERVICE_ACCOUNT),
        ("k8s-events.yaml", K8S_EVENTS),
        ("service.yaml", SERVICE),
        ("trigger.yaml", TRIGGER),
    ]:
        files[name] = tmp_path / name
        files[name].write_text(text)
    out = kubectl.ok("apply", "--filename", str(files["serviceaccount.yaml"]))
    assert out.splitlines() == [
        "serviceaccount/events-sa created",
        "clusterrole.rbac.authorization.k8s.io/event-watcher created",
        "clusterrolebinding.rbac.authorization.k8s.io/k8s-ra-event-watcher created",
    ]
    out = kubectl.ok("apply", "--filename", str(files["k8s-events.yaml"]))
    assert out.strip() == "apiserversource.sources.eventing.knative.dev/testevents created"
    out = kubectl.ok("apply", "--filename", str(files["service.yaml"]))
    assert out.strip() == "service.serving.knative.dev/event-display created"
    out = kubectl.ok("label", "namespace", "default", "knative-eventing-injection=enabled")
    assert out.strip() == "namespace/default labeled"
    out = kubectl.ok("apply", "--filename", str(files["trigger.yaml"]))
    assert out.strip() == "trigger.eventing.knative.dev/testevents-trigger created"
    # applying the same files again changes nothing
    for name in ("serviceaccount.yaml", "k8s-events.yaml", "trigger.yaml"):
        again = kubectl.ok("apply", "--filename", str(files[name]))
        assert all(line.endswith("unchanged") for line in again.splitlines()), again

    # the label created Broker default, and it is Ready
    broker = _status(kubectl, "broker", "default")
    assert condition(broker) is not None
    assert condition(broker)["status"] == "True", broker  # type: ignore[index]
    assert broker["status"]["address"]["url"].endswith("/brokers/default/default")
    as_v1alpha1 = kubectl.json("get", "brokers.v1alpha1.eventing.knative.dev", "default")
    assert as_v1alpha1["apiVersion"] == "eventing.knative.dev/v1alpha1"

    # the 2019 forms are served as themselves and converted to v1
    source = kubectl.json("get", "apiserversources.sources.eventing.knative.dev", "testevents")
    assert source["apiVersion"] == "sources.eventing.knative.dev/v1alpha1"
    assert source["spec"]["sink"]["kind"] == "Broker"
    v1_source = kubectl.json("get", "apiserversources.sources.knative.dev", "testevents")
    assert v1_source["spec"]["sink"]["ref"]["name"] == "default"
    trigger = kubectl.json("get", "triggers.v1.eventing.knative.dev", "testevents-trigger")
    assert trigger["spec"]["broker"] == "default"

    # everything the tutorial sets up becomes Ready: the source (its ServiceAccount may watch
    # Events), the Service (its process runs), the Trigger (its subscriber is that Service)
    for ref in (
        ("apiserversources.sources.knative.dev", "testevents"),
        ("ksvc", "event-display"),
        ("trigger", "testevents-trigger"),
    ):
        _wait_true(kubectl, *ref)
    table = kubectl.ok("get", "triggers")
    assert "testevents-trigger" in table
    described = kubectl.ok("describe", "trigger", "testevents-trigger")
    assert "Subscriber" in described

    # 验证: the tutorial's commands, verbatim
    assert kubectl.ok("run", "busybox", "--image=busybox", "--restart=Never", "--", "ls") == (
        "pod/busybox created\n"
    )
    wait_until(lambda: _busybox_started(kubectl), 30, "busybox never ran (no Started event for it)")
    assert kubectl.ok("delete", "pod", "busybox") == 'pod "busybox" deleted\n'
    pods = kubectl.ok("get", "pods")
    assert header(pods) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"], pods
    assert "busybox" not in pods, pods

    def displayed() -> str | None:
        tail = kubectl.run(
            "logs", "-l", "serving.knative.dev/service=event-display", "-c", "user-container"
        )
        if tail.code != 0 or not tail.stdout.strip():
            return None
        # kubectl shows the last 10 lines per Pod when a selector is given (its --tail
        # default); the whole log has every event
        whole = kubectl.ok(
            "logs",
            "-l",
            "serving.knative.dev/service=event-display",
            "-c",
            "user-container",
            "--tail=-1",
        )
        return whole if _busybox_cloudevents(whole) else None

    whole = wait_until(displayed, 60, "the event-display never showed the busybox Events")
    reasons = _busybox_cloudevents(whole)
    assert "Scheduled" in reasons, reasons
    assert "Started" in reasons, reasons


def _wait_true(kubectl: Kubectl, *ref: str) -> dict[str, Any]:
    last: dict[str, Any] = {}

    def ready() -> dict[str, Any] | None:
        nonlocal last
        last = kubectl.json("get", *ref)
        cond = condition(last)
        return last if cond is not None and cond["status"] == "True" else None

    try:
        obj: dict[str, Any] = wait_until(ready, 60, f"{ref} never became Ready")
    except AssertionError:
        raise AssertionError(f"{ref} never became Ready: {last.get('status')}") from None
    return obj


def _busybox_started(kubectl: Kubectl) -> bool:
    events = kubectl.json("get", "events", "--field-selector", "involvedObject.name=busybox")
    return any(e["reason"] == "Started" for e in events["items"])


def _busybox_cloudevents(log: str) -> list[str]:
    """The reasons of the busybox Pod's Kubernetes Events that the event-display printed as
    ``dev.knative.apiserver.resource.add`` CloudEvents."""
    reasons = []
    for printed in log.split("☁️  cloudevents.Event")[1:]:
        if "type: dev.knative.apiserver.resource.add" not in printed:
            continue
        data = printed.split("Data,", 1)[-1]
        try:
            obj = json.loads(data)
        except ValueError:
            continue
        involved = obj.get("involvedObject", {})
        if obj.get("kind") == "Event" and (involved.get("kind"), involved.get("name")) == (
            "Pod",
            "busybox",
        ):
            reasons.append(obj["reason"])
    return reasons


INVALID_TRIGGER = """\
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: invalid
  namespace: default
spec:
  broker: default
  filter:
    attributes:
      SOURCE: x
  subscriber:
    uri: http://127.0.0.1:9/
  delivery:
    backoffDelay: soon
"""

INVALID_PING = """\
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata:
  name: invalid-ping
  namespace: default
spec:
  schedule: every now and then
"""


def test_invalid_manifests_are_refused_with_every_error(kubectl: Kubectl, tmp_path: Path) -> None:
    path = tmp_path / "invalid.yaml"
    path.write_text(INVALID_TRIGGER)
    refused = kubectl.fails("apply", "--filename", str(path))
    assert 'The Trigger "invalid" is invalid' in refused.stderr, refused.explain()
    assert "spec.filter.attributes[SOURCE]" in refused.stderr, refused.explain()
    assert "spec.delivery.backoffDelay" in refused.stderr, refused.explain()
    assert "NotFound" in kubectl.fails("get", "trigger", "invalid").stderr

    refused = kubectl.fails("apply", "-f", "-", stdin=INVALID_PING)
    assert "spec.schedule" in refused.stderr, refused.explain()
    assert "spec.sink" in refused.stderr, refused.explain()
    assert "NotFound" in kubectl.fails("get", "pingsource", "invalid-ping").stderr

    # an invalid change to a stored object changes nothing
    valid = INVALID_TRIGGER.replace("SOURCE", "source").replace("soon", "PT1S")
    valid = valid.replace("name: invalid", "name: valid-then-not")
    kubectl.ok("apply", "-f", "-", stdin=valid)
    before = kubectl.json("get", "trigger", "valid-then-not")
    broken = valid.replace("PT1S", "later").replace("broker: default", "broker: other")
    refused = kubectl.fails("apply", "-f", "-", stdin=broken)
    assert "spec.delivery.backoffDelay" in refused.stderr, refused.explain()
    assert "spec.broker" in refused.stderr, refused.explain()  # immutable
    refused = kubectl.fails(
        "patch", "trigger", "valid-then-not", "--type", "merge", "-p", '{"spec":{"broker":""}}'
    )
    assert "spec.broker" in refused.stderr, refused.explain()
    after = kubectl.json("get", "trigger", "valid-then-not")
    # the generation, not the resourceVersion: the controller may write the new Trigger's
    # status after ``before`` was read (on JetStream a full suite once saw 146 -> 147)
    assert after["metadata"]["generation"] == before["metadata"]["generation"] == 1
    assert after["spec"] == before["spec"]
    for kept in ("labels", "annotations"):
        assert after["metadata"].get(kept) == before["metadata"].get(kept)

    # unknown fields: kubectl asks for strict field validation
    unknown = valid.replace("name: valid-then-not", "name: unknown-field").replace(
        "  broker: default", "  broker: default\n  brokr: typo"
    )
    refused = kubectl.fails("apply", "-f", "-", stdin=unknown)
    assert "brokr" in refused.stderr, refused.explain()
    assert "NotFound" in kubectl.fails("get", "trigger", "unknown-field").stderr
    kubectl.ok("delete", "trigger", "valid-then-not")
