"""Knative's "Deployment + Service" sink: the hello-display Deployment and Service of the
Broker tutorial, as its documentation writes them, with a Trigger whose subscriber is the
Service: events sent to the broker (by Knative's broker-ingress URL) reach both replicas.

Needs apps/v1 Deployments (skipped until kawa serves them)."""

from __future__ import annotations

import http.client
import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest

from kawa.apis.registry import SCHEME
from kawa.errors import ValidationError

from ..e2e.e2e_support import KawaProcess
from ..waiting import wait_until
from .kubectl_support import Kubectl, condition

pytestmark = pytest.mark.slow

NS = "hello-display"

HELLO_DISPLAY = f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {NS}
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: example-broker
  namespace: {NS}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello-display
  namespace: {NS}
spec:
  replicas: 2
  selector:
    matchLabels: &labels
      app: hello-display
  template:
    metadata:
      labels: *labels
    spec:
      containers:
        - name: event-display
          image: gcr.io/knative-releases/knative.dev/eventing/cmd/event_display
          imagePullPolicy: IfNotPresent
          ports:
            - containerPort: 8080
---
kind: Service
apiVersion: v1
metadata:
  name: hello-display
  namespace: {NS}
spec:
  selector:
    app: hello-display
  ports:
    - protocol: TCP
      port: 80
      targetPort: 8080
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: hello-display
  namespace: {NS}
spec:
  broker: example-broker
  filter:
    attributes:
      type: greeting
  subscriber:
    ref:
      apiVersion: v1
      kind: Service
      name: hello-display
"""
_ids = itertools.count(1)


def _served() -> bool:
    try:
        SCHEME.for_api_version_kind("apps/v1", "Deployment")
    except ValidationError:
        return False
    return True


@pytest.fixture(scope="module")
def hello(kawa: KawaProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubectl]:
    if not _served():
        pytest.skip("apps/v1 Deployments are not served yet")
    kubectl = Kubectl(kawa.data_dir / "kubeconfig", tmp_path_factory.mktemp("kube-cache"))
    kubectl.ok("apply", "-f", "-", stdin=HELLO_DISPLAY)
    yield kubectl
    kubectl.run("delete", "namespace", NS, "--wait=false")


def _pods(kubectl: Kubectl) -> list[str]:
    found = kubectl.json("get", "pods", "-n", NS, "-l", "app=hello-display")
    return [p["metadata"]["name"] for p in found["items"]]


def test_events_through_the_broker_reach_both_replicas(hello: Kubectl, kawa: KawaProcess) -> None:
    def ready() -> dict[str, Any] | None:
        found = hello.json("get", "trigger", "hello-display", "-n", NS)
        ok = condition(found)
        return found if ok is not None and ok["status"] == "True" else None

    trigger = wait_until(ready, 60, "the Trigger never became Ready")
    assert trigger["status"]["subscriberUri"] == f"{kawa.url}/services/{NS}/hello-display"

    def two_ready() -> bool:
        found = hello.json("get", "endpoints", "hello-display", "-n", NS)
        return sum(len(s.get("addresses") or []) for s in found.get("subsets") or []) == 2

    wait_until(two_ready, 60, "the Endpoints never listed both replicas")
    pods = _pods(hello)
    sent: list[str] = []
    reached: set[str] = set()
    for _ in range(6):
        event_id = f"greeting-{next(_ids)}"
        connection = http.client.HTTPConnection("127.0.0.1", kawa.port, timeout=30)
        try:
            connection.request(
                "POST",
                f"/{NS}/example-broker",
                body=b'{"msg": "Hello Knative!"}',
                headers={
                    "Host": "broker-ingress.knative-eventing.svc.cluster.local",
                    "Ce-Id": event_id,
                    "Ce-Specversion": "1.0",
                    "Ce-Type": "greeting",
                    "Ce-Source": "not-sendoff",
                    "Content-Type": "application/json",
                },
            )
            assert connection.getresponse().status == 202
        finally:
            connection.close()
        sent.append(event_id)

    def all_delivered() -> bool:
        reached.clear()
        seen: set[str] = set()
        for pod in pods:
            log = hello.run("logs", pod, "-n", NS).stdout
            ids = {i for i in sent if re.search(rf"id: {i}\b", log)}
            if ids:
                reached.add(pod)
            seen |= ids
        return seen == set(sent)

    wait_until(all_delivered, 60, "not every event reached a replica")
    assert reached == set(pods)  # round robin over both
