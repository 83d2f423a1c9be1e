"""Knative's SinkBinding tutorial with a CronJob subject, sending to a Broker: the SinkBinding
selects the Jobs labelled ``app: heartbeat-cron`` (made by the CronJob, here at once with
``kubectl create job --from=cronjob/...``), each Job is bound as it is created, its one-shot
heartbeat reaches the Broker, and a Trigger carries it to an event-display."""

from __future__ import annotations

import pytest

from ..waiting import wait_until
from .kubectl_support import Kubectl, condition

pytestmark = pytest.mark.slow

NS = "sinkbinding-example"

CRONJOB = """\
apiVersion: batch/v1
kind: CronJob
metadata:
  name: heartbeat-cron
spec:
  # Run every minute
  schedule: "*/1 * * * *"
  jobTemplate:
    metadata:
      labels:
        app: heartbeat-cron
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: single-heartbeat
              image: gcr.io/knative-nightly/knative.dev/eventing/cmd/heartbeats
              args:
              - --period=1
              env:
                - name: ONE_SHOT
                  value: "true"
                - name: POD_NAME
                  valueFrom:
                    fieldRef:
                      fieldPath: metadata.name
                - name: POD_NAMESPACE
                  valueFrom:
                    fieldRef:
                      fieldPath: metadata.namespace
"""

SINKBINDING = """\
apiVersion: sources.knative.dev/v1
kind: SinkBinding
metadata:
  name: bind-heartbeat
spec:
  subject:
    apiVersion: batch/v1
    kind: Job
    selector:
      matchLabels:
        app: heartbeat-cron
  sink:
    ref:
      apiVersion: eventing.knative.dev/v1
      kind: Broker
      name: default
  ceOverrides:
    extensions:
      sink: bound
"""

BROKER_AND_DISPLAY = """\
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: event-display
spec:
  template:
    spec:
      containers:
        - image: gcr.io/knative-releases/knative.dev/eventing/cmd/event_display
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: heartbeats
spec:
  broker: default
  filter:
    attributes:
      type: dev.knative.eventing.samples.heartbeat
  subscriber:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: event-display
"""


def _ready(kubectl: Kubectl, *ref: str) -> None:
    def ready() -> bool:
        found = condition(kubectl.json("get", *ref, "-n", NS))
        return found is not None and found["status"] == "True"

    wait_until(ready, 60, f"{ref} never became Ready")


def test_a_cronjobs_jobs_are_bound_and_reach_the_broker(kubectl: Kubectl) -> None:
    kubectl.ok("create", "namespace", NS)
    try:
        kubectl.ok("apply", "-n", NS, "-f", "-", stdin=BROKER_AND_DISPLAY)
        kubectl.ok("apply", "-n", NS, "-f", "-", stdin=CRONJOB)
        kubectl.ok("apply", "-n", NS, "-f", "-", stdin=SINKBINDING)
        _ready(kubectl, "sinkbinding", "bind-heartbeat")
        _ready(kubectl, "trigger", "heartbeats")
        out = kubectl.ok(
            "create", "job", "-n", NS, "heartbeat-now", "--from=cronjob/heartbeat-cron"
        )
        assert out.strip() == "job.batch/heartbeat-now created"
        job = kubectl.json("get", "job", "heartbeat-now", "-n", NS)
        container = job["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        broker = kubectl.json("get", "broker", "default", "-n", NS)
        assert env["K_SINK"] == broker["status"]["address"]["url"]
        assert env["K_CE_OVERRIDES"] == '{"extensions":{"sink":"bound"}}'
        kubectl.ok(
            "wait", "-n", NS, "--for=condition=complete", "job/heartbeat-now", "--timeout=60s"
        )

        def shown() -> str | None:
            log = kubectl.service_log("event-display", NS)
            return log if "dev.knative.eventing.samples.heartbeat" in log else None

        log = wait_until(shown, 60, "the heartbeat never reached the event-display")
        assert "sink: bound" in log
        assert f"#{NS}/heartbeat-now-" in log  # the source names the Job's Pod
    finally:
        kubectl.run("delete", "namespace", NS, "--wait=false")
