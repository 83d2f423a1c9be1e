"""SinkBinding with Kubernetes workloads. Knative's SinkBinding tutorial with a CronJob subject,
sending to a Broker: the SinkBinding selects the Jobs labelled ``app: heartbeat-cron`` (made by
the CronJob, here at once with ``kubectl create job --from=cronjob/...``), each Job is bound as
it is created, its one-shot heartbeat reaches the Broker, and a Trigger carries it to an
event-display. Then a Job bound to a ``v1`` Service (a Deployment's Pod) sends it there."""

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


DISPLAY_SERVICE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: sink-display
spec:
  replicas: 1
  selector:
    matchLabels:
      app: sink-display
  template:
    metadata:
      labels:
        app: sink-display
    spec:
      containers:
        - name: event-display
          image: gcr.io/knative-releases/knative.dev/eventing/cmd/event_display
---
apiVersion: v1
kind: Service
metadata:
  name: sink-display
spec:
  selector:
    app: sink-display
  ports:
    - port: 80
      targetPort: 8080
---
apiVersion: sources.knative.dev/v1
kind: SinkBinding
metadata:
  name: to-service
spec:
  subject:
    apiVersion: batch/v1
    kind: Job
    selector:
      matchLabels:
        app: beat-once
  sink:
    ref:
      apiVersion: v1
      kind: Service
      name: sink-display
"""

BEAT_ONCE = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: beat-once
  labels:
    app: beat-once
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: single-heartbeat
          image: gcr.io/knative-nightly/knative.dev/eventing/cmd/heartbeats
          args: ["--period=1"]
          env:
            - {name: ONE_SHOT, value: "true"}
            - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
            - {name: POD_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
"""


def test_a_sinkbinding_sends_a_job_to_a_v1_service(kubectl: Kubectl) -> None:
    ns = "sinkbinding-service"
    kubectl.ok("create", "namespace", ns)
    try:
        kubectl.ok("apply", "-n", ns, "-f", "-", stdin=DISPLAY_SERVICE)
        kubectl.ok("rollout", "status", "-n", ns, "deployment/sink-display", "--timeout=60s")

        def ready() -> bool:
            found = condition(kubectl.json("get", "sinkbinding", "to-service", "-n", ns))
            return found is not None and found["status"] == "True"

        wait_until(ready, 60, "the SinkBinding never became Ready")
        binding = kubectl.json("get", "sinkbinding", "to-service", "-n", ns)
        assert binding["status"]["sinkUri"].endswith(f"/services/{ns}/sink-display")
        kubectl.ok("apply", "-n", ns, "-f", "-", stdin=BEAT_ONCE)
        kubectl.ok("wait", "-n", ns, "--for=condition=complete", "job/beat-once", "--timeout=60s")

        def shown() -> str | None:
            log = kubectl.run("logs", "-n", ns, "-l", "app=sink-display", "--tail=-1").stdout
            return log if "dev.knative.eventing.samples.heartbeat" in log else None

        log = wait_until(shown, 60, "the heartbeat never reached the v1 Service's Pod")
        assert f"#{ns}/beat-once-" in log
    finally:
        kubectl.run("delete", "namespace", ns, "--wait=false")
