"""JobSink through the real kubectl: Knative's documented logger example as written
(docs/eventing/sinks/job-sink: a Job per event whose container prints the event file), the
same event twice making one Job, the status of an event's Job from its ``Location`` (202
while it runs, 200 once complete, 400 once failed) and bad specs refused with 422 at their
field paths."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest

from kawa.cloudevents import http as ce_http
from kawa.cloudevents.event import CloudEvent

from ..waiting import wait_until
from .kubectl_support import Api, Kubectl, condition, header
from .sinks import TIMEOUT, Sent, post

pytestmark = pytest.mark.slow

JOB_SINK_LOGGER = """\
apiVersion: sinks.knative.dev/v1alpha1
kind: JobSink
metadata:
  name: job-sink-logger
spec:
  job:
    spec:
      completions: 1
      parallelism: 1
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: main
              image: docker.io/library/bash:5
              command: [ "cat" ]
              args:
                - "/etc/jobsink-event/event"
"""
"""Knative's JobSink example ("Usage"), verbatim."""

CURL_HEADERS = {
    "content-type": "application/json",
    "ce-specversion": "1.0",
    "ce-source": "my/curl/command",
    "ce-type": "my.demo.event",
    "ce-id": "123",
}
"""The event of the example's ``curl`` (binary mode)."""
CURL_BODY = b'{"details":"JobSinkDemo"}'


def ready(kubectl: Kubectl, name: str, ns: str) -> dict[str, Any]:
    def seen() -> dict[str, Any] | None:
        obj: dict[str, Any] = kubectl.json("get", "jobsink", name, "-n", ns)
        found = condition(obj)
        return obj if found is not None and found["status"] == "True" else None

    found: dict[str, Any] = wait_until(seen, TIMEOUT, f"JobSink {ns}/{name} never turned Ready")
    return found


def jobsink(name: str, ns: str, *command: str, **job_spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "sinks.knative.dev/v1alpha1",
        "kind": "JobSink",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "job": {
                "spec": {
                    **job_spec,
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [
                                {"name": "main", "image": "busybox", "command": list(command)}
                            ],
                        }
                    },
                }
            }
        },
    }


def poll(location: str, status: int) -> Sent:
    def answered() -> Sent | None:
        got = post(location, method="GET")
        return got if got.status == status else None

    found: Sent = wait_until(answered, TIMEOUT, f"GET {location} never answered {status}")
    return found


def test_the_logger_example_prints_the_event_and_an_event_makes_one_job(
    kubectl: Kubectl, namespaces: Callable[..., str]
) -> None:
    ns = namespaces("jobsink-logger")
    assert kubectl.ok("apply", "-n", ns, "-f", "-", stdin=JOB_SINK_LOGGER).strip() == (
        "jobsink.sinks.knative.dev/job-sink-logger created"
    )
    obj = ready(kubectl, "job-sink-logger", ns)
    url = obj["status"]["address"]["url"]
    assert url.endswith(f"/jobsinks/{ns}/job-sink-logger")
    assert obj["status"]["job"] == {"selector": "sinks.knative.dev/job-sink-name=job-sink-logger"}
    for kind in ("Addressable", "EventPoliciesReady"):
        assert (condition(obj, kind) or {}).get("status") == "True", obj["status"]
    table = kubectl.ok("get", "jobsinks.sinks.knative.dev", "-n", ns)
    assert header(table) == ["NAME", "URL", "AGE", "READY", "REASON"]
    # Knative's default: the execution mode in the stored spec
    (container,) = obj["spec"]["job"]["spec"]["template"]["spec"]["containers"]
    assert container["env"] == [{"name": "KNATIVE_EXECUTION_MODE", "value": "batch"}]

    sent = post(url, CURL_HEADERS, CURL_BODY)
    assert sent.status == 202, sent.body
    location = urljoin(url, sent.headers["location"])
    assert "/sources/my%2Fcurl%2Fcommand/ids/123" in location
    assert poll(location, 200).headers["reason"] == "Complete"

    selector = "sinks.knative.dev/job-sink-name=job-sink-logger"
    (job,) = kubectl.json("get", "jobs", "-n", ns, "-l", selector)["items"]
    name = job["metadata"]["name"]
    printed = kubectl.ok("logs", f"job/{name}", "-n", ns)
    assert json.loads(printed) == {
        "specversion": "1.0",
        "id": "123",
        "source": "my/curl/command",
        "type": "my.demo.event",
        "datacontenttype": "application/json",
        "data": {"details": "JobSinkDemo"},
    }
    (main,) = job["spec"]["template"]["spec"]["containers"]
    assert {"name": "K_EXECUTION_MODE", "value": "batch"} in main["env"]
    assert main["volumeMounts"] == [
        {"name": "jobsink-event", "readOnly": True, "mountPath": "/etc/jobsink-event"}
    ]
    secret = kubectl.json("get", "secret", name, "-n", ns)
    assert secret["immutable"] is True
    # owned by its Job: deleted with it (a Job's ttlSecondsAfterFinished takes its event too)
    (owner,) = secret["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == (
        "Job",
        job["metadata"]["name"],
        job["metadata"]["uid"],
    )

    # the same source and id again: the same answer, no second Job
    again = post(url, CURL_HEADERS, b'{"details":"again"}')
    assert again.status == 202
    assert urljoin(url, again.headers["location"]) == location
    other = post(url, {**CURL_HEADERS, "ce-id": "124"}, CURL_BODY)
    assert other.status == 202
    jobs = kubectl.json("get", "jobs", "-n", ns, "-l", selector)["items"]
    names = {j["metadata"]["name"] for j in jobs}
    assert len(jobs) == len(names) == 2  # the first event's and event 124's
    assert name in names

    # what is not an event, or not for a JobSink
    assert post(url, {"content-type": "application/json"}, b"{}").status == 400
    missing = post(url.replace("job-sink-logger", "nope"), CURL_HEADERS, CURL_BODY)
    assert missing.status == 404
    assert "does not exist" in json.loads(missing.body)["error"]
    assert post(url, method="GET").status == 405
    assert post(location.replace("/ids/123", "/ids/999"), method="GET").status == 404


def test_the_location_says_202_while_the_job_runs_200_once_done_400_once_failed(
    kubectl: Kubectl, namespaces: Callable[..., str], tmp_path: Path
) -> None:
    ns = namespaces("jobsink-status")
    gate = tmp_path / "go"
    kubectl.apply(
        [
            jobsink("held", ns, "sh", "-c", f"until [ -e {gate} ]; do sleep 0.05; done"),
            jobsink("failing", ns, "sh", "-c", "exit 42", backoffLimit=0),
        ]
    )
    held = ready(kubectl, "held", ns)["status"]["address"]["url"]
    failing = ready(kubectl, "failing", ns)["status"]["address"]["url"]
    event = CloudEvent({"specversion": "1.0", "id": "e-1", "source": "/s", "type": "t"})

    sent = post(held, *ce_http.to_structured(event))
    assert sent.status == 202, sent.body
    location = urljoin(held, sent.headers["location"])
    running = post(location, method="GET")
    assert running.status == 202
    assert urljoin(held, running.headers["location"]) == location
    gate.touch()
    assert poll(location, 200).headers["reason"] == "Complete"

    sent = post(failing, *ce_http.to_binary(event))
    assert sent.status == 202, sent.body
    failed = poll(urljoin(failing, sent.headers["location"]), 400)
    assert failed.headers["reason"] == "Failed"


def test_bad_specs_are_refused_with_422_at_their_fields(
    kubectl: Kubectl, api: Api, namespaces: Callable[..., str]
) -> None:
    ns = namespaces("jobsink-admission")
    no_policy = JOB_SINK_LOGGER.replace("          restartPolicy: Never\n", "")
    refused = kubectl.fails("apply", "-n", ns, "-f", "-", stdin=no_policy)
    assert refused.stderr.strip() == (
        'The JobSink "job-sink-logger" is invalid: spec.job.spec.template.spec.restartPolicy: '
        'Unsupported value: "Always": supported values: "OnFailure", "Never"'
    ), refused.explain()

    def causes(spec: dict[str, Any]) -> list[dict[str, Any]]:
        obj = {
            "apiVersion": "sinks.knative.dev/v1alpha1",
            "kind": "JobSink",
            "metadata": {"name": "bad"},
            "spec": spec,
        }
        answer = api.request(
            "POST",
            f"/apis/sinks.knative.dev/v1alpha1/namespaces/{ns}/jobsinks",
            json.dumps(obj).encode(),
        )
        assert answer.status == 422, answer.body
        found: list[dict[str, Any]] = answer.json()["details"]["causes"]
        return found

    assert [c["field"] for c in causes({})] == ["spec.job"]
    broken = jobsink("x", ns, "true")["spec"]
    pod = broken["job"]["spec"]["template"]["spec"]
    pod["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    broken["job"]["spec"]["parallelism"] = -1
    assert sorted(c["field"] for c in causes(broken)) == [
        "spec.job.spec.parallelism",
        "spec.job.spec.template.spec.containers[0].volumeMounts[0].name",
    ]
    # a mount of the event's own volume at a path of its own is Knative's documented way
    custom = jobsink("custom", ns, "cat", "/etc/custom-path/event")
    custom_pod = custom["spec"]["job"]["spec"]["template"]["spec"]
    custom_pod["containers"][0]["volumeMounts"] = [
        {"name": "jobsink-event", "mountPath": "/etc/custom-path", "readOnly": True}
    ]
    kubectl.apply(custom)
    url = ready(kubectl, "custom", ns)["status"]["address"]["url"]
    sent = post(url, CURL_HEADERS, CURL_BODY)
    assert sent.status == 202
    poll(urljoin(url, sent.headers["location"]), 200)
    assert kubectl.ok("get", "jobsinks", "-n", ns, "-o", "name").split() == [
        "jobsink.sinks.knative.dev/custom"
    ]
