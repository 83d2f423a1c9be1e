"""IntegrationSource and IntegrationSink through the real kubectl, with Knative's documented
examples as written (docs/eventing/sources/integration-source/timer and
docs/eventing/sinks/integration-sink/logger): the timer source to a Broker, the timer source to
the log sink (whose line shows in kawa's log), a repeatCount that stops the timer, the AWS
kinds stored but not Ready saying why, and bad specs refused with 422 at their field paths."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from ..e2e.e2e_support import KawaProcess
from ..waiting import wait_until
from .kubectl_support import Api, Kubectl, condition, header
from .sinks import TIMEOUT, Sink

pytestmark = pytest.mark.slow

TIMER_SOURCE = """\
apiVersion: sources.knative.dev/v1alpha1
kind: IntegrationSource
metadata:
  name: integration-source-timer
  namespace: knative-samples
spec:
  timer:
    period: 2000
    message: "Hello, Eventing Core"
  sink:
    ref:
      apiVersion: eventing.knative.dev/v1
      kind: Broker
      name: default
"""
"""Knative's "Timer Source Example", verbatim."""

LOG_SINK = """\
apiVersion: sinks.knative.dev/v1alpha1
kind: IntegrationSink
metadata:
  name: integration-log-sink
  namespace: knative-samples
spec:
  log:
    showHeaders: true
    level: INFO
"""
"""Knative's "Log Sink Example", verbatim."""


def in_namespace(manifest: str, ns: str) -> str:
    return manifest.replace("namespace: knative-samples", f"namespace: {ns}")


def status_of(kubectl: Kubectl, resource: str, name: str, ns: str, want: str) -> dict[str, Any]:
    """The object once its Ready condition's status is ``want``."""

    def seen() -> dict[str, Any] | None:
        obj: dict[str, Any] = kubectl.json("get", resource, name, "-n", ns)
        found = condition(obj)
        return obj if found is not None and found["status"] == want else None

    found: dict[str, Any] = wait_until(seen, TIMEOUT, f"{resource} {ns}/{name} never Ready={want}")
    return found


def test_the_timer_source_example_sends_to_a_broker(
    kubectl: Kubectl, namespaces: Callable[..., str], sink: Sink
) -> None:
    ns = namespaces("intsrc-broker")
    kubectl.apply(
        [
            {
                "apiVersion": "eventing.knative.dev/v1",
                "kind": "Broker",
                "metadata": {"name": "default", "namespace": ns},
            },
            {
                "apiVersion": "eventing.knative.dev/v1",
                "kind": "Trigger",
                "metadata": {"name": "timer", "namespace": ns},
                "spec": {
                    "broker": "default",
                    "filter": {"attributes": {"type": "dev.knative.eventing.timer"}},
                    "subscriber": {"uri": sink.url},
                },
            },
        ]
    )
    status_of(kubectl, "trigger", "timer", ns, "True")
    kubectl.ok("apply", "-f", "-", stdin=in_namespace(TIMER_SOURCE, ns))
    obj = status_of(kubectl, "integrationsource", "integration-source-timer", ns, "True")
    broker = kubectl.json("get", "broker", "default", "-n", ns)
    assert obj["status"]["sinkUri"] == broker["status"]["address"]["url"]
    assert obj["status"]["ceAttributes"] == [
        {"type": "dev.knative.eventing.timer", "source": "dev.knative.eventing.timer-source"}
    ]
    for type_ in ("SinkProvided", "ContainerSourceReady"):
        found = condition(obj, type_)
        assert found is not None
        assert found["status"] == "True", obj["status"]
    table = kubectl.ok("get", "integrationsources", "-n", ns)
    assert header(table) == ["NAME", "SINK", "AGE", "READY", "REASON"]

    first, second = sink.wait(count=2, message="timer events through the broker")[:2]
    for got in (first, second):
        assert got.ce("type") == "dev.knative.eventing.timer"
        assert got.ce("source") == "dev.knative.eventing.timer-source"
        assert got.ce("subject") == "timer-source"
        assert got.headers["content-type"] == "text/plain"
        assert got.body == b"Hello, Eventing Core"
    assert first.ce("id") != second.ce("id")
    kubectl.ok("delete", "integrationsource", "integration-source-timer", "-n", ns)


def test_the_timer_source_to_the_log_sink_logs_the_message(
    kubectl: Kubectl, kawa: KawaProcess, namespaces: Callable[..., str]
) -> None:
    ns = namespaces("intsrc-log")
    kubectl.ok("apply", "-f", "-", stdin=in_namespace(LOG_SINK, ns))
    obj = status_of(kubectl, "integrationsink", "integration-log-sink", ns, "True")
    url = obj["status"]["address"]["url"]
    assert url.endswith(f"/integrationsinks/{ns}/integration-log-sink")
    for type_ in ("Addressable", "DeploymentReady", "EventPoliciesReady"):
        found = condition(obj, type_)
        assert found is not None
        assert found["status"] == "True", obj["status"]
    table = kubectl.ok("get", "integrationsinks", "-n", ns)
    assert header(table) == ["NAME", "URL", "AGE", "READY", "REASON"]

    source = in_namespace(TIMER_SOURCE, ns).replace(
        "apiVersion: eventing.knative.dev/v1\n      kind: Broker\n      name: default",
        "apiVersion: sinks.knative.dev/v1alpha1\n      kind: IntegrationSink\n"
        "      name: integration-log-sink",
    )
    kubectl.ok("apply", "-f", "-", stdin=source)
    src = status_of(kubectl, "integrationsource", "integration-source-timer", ns, "True")
    assert src["status"]["sinkUri"] == url
    logger = f"kawa.integrationsink.{ns}.integration-log-sink"

    def logged() -> list[str] | None:
        lines = [line for line in kawa.stderr.splitlines() if logger in line]
        return lines or None

    (line, *_) = wait_until(logged, TIMEOUT, f"nothing logged by {logger}")
    assert f" INFO {logger}: [log-sink] Exchange[ExchangePattern: InOnly, Headers: {{" in line
    assert "ce-type=dev.knative.eventing.timer" in line
    assert line.endswith("BodyType: String, Body: Hello, Eventing Core]"), line
    kubectl.ok("delete", "integrationsource", "integration-source-timer", "-n", ns)


def test_repeat_count_stops_the_timer(
    kubectl: Kubectl, namespaces: Callable[..., str], sink: Sink
) -> None:
    ns = namespaces("intsrc-repeat")
    kubectl.apply(
        {
            "apiVersion": "sources.knative.dev/v1alpha1",
            "kind": "IntegrationSource",
            "metadata": {"name": "three", "namespace": ns},
            "spec": {
                "timer": {
                    "period": 200,
                    "message": '{"n": 1}',
                    "contentType": "application/json",
                    "repeatCount": 3,
                },
                "sink": {"uri": sink.url},
                "ceOverrides": {"extensions": {"team": "a"}},
            },
        }
    )
    got = sink.wait(count=3, message="the three timer events")
    assert [r.ce("team") for r in got] == ["a", "a", "a"]
    assert got[0].json() == {"n": 1}
    assert got[0].headers["content-type"] == "application/json"
    time.sleep(1.0)  # the behaviour under test: five more periods, nothing more is sent
    assert len(sink.events()) == 3


def test_aws_kinds_are_stored_and_say_why_they_are_not_ready(
    kubectl: Kubectl, namespaces: Callable[..., str]
) -> None:
    ns = namespaces("intsrc-aws")
    auth = {"secret": {"ref": {"name": "aws-credentials"}}}
    kubectl.apply(
        [
            {
                "apiVersion": "sources.knative.dev/v1alpha1",
                "kind": "IntegrationSource",
                "metadata": {"name": "s3", "namespace": ns},
                "spec": {
                    "aws": {
                        "s3": {"arn": "arn:aws:s3:::bucket", "region": "eu-west-1"},
                        "auth": auth,
                    },
                    "sink": {"uri": "http://127.0.0.1:9/"},
                },
            },
            {
                "apiVersion": "sinks.knative.dev/v1alpha1",
                "kind": "IntegrationSink",
                "metadata": {"name": "sqs", "namespace": ns},
                "spec": {"aws": {"sqs": {"arn": "q", "region": "eu-west-1"}, "auth": auth}},
            },
        ]
    )
    source = status_of(kubectl, "integrationsource", "s3", ns, "False")
    found = condition(source, "ContainerSourceReady")
    assert found is not None
    assert found["reason"] == "AWSCredentialsMissing", source["status"]
    assert "kawa does not run AWS connectors yet" in found["message"]
    assert "spec.aws.auth.secret.ref.name" in found["message"]
    sink = status_of(kubectl, "integrationsink", "sqs", ns, "False")
    found = condition(sink, "DeploymentReady")
    assert found is not None
    assert found["reason"] == "AWSCredentialsMissing", sink["status"]

    # with the Secret and an endpoint: still not Ready, saying kawa does not run them
    kubectl.ok(
        "create", "secret", "generic", "aws-credentials", "-n", ns,
        "--from-literal=aws.accessKey=a", "--from-literal=aws.secretKey=b",
    )  # fmt: skip
    kubectl.ok(
        "patch", "integrationsource", "s3", "-n", ns, "--type=merge", "-p",
        json.dumps({"spec": {"aws": {"s3": {"uriEndpointOverride": "http://127.0.0.1:4566"}}}}),
    )  # fmt: skip

    def not_supported() -> dict[str, Any] | None:
        obj: dict[str, Any] = kubectl.json("get", "integrationsource", "s3", "-n", ns)
        found = condition(obj, "ContainerSourceReady")
        return obj if found is not None and found["reason"] == "AWSNotSupported" else None

    obj = wait_until(not_supported, TIMEOUT, "the s3 source never said AWSNotSupported")
    ready = condition(obj)
    assert ready is not None
    assert ready["status"] == "False"
    assert ready["message"].startswith("kawa does not run AWS connectors yet: spec.aws.s3")


def test_bad_specs_are_refused_with_422_at_their_fields(
    kubectl: Kubectl, api: Api, namespaces: Callable[..., str]
) -> None:
    ns = namespaces("intsrc-admission")

    def causes(path: str, obj: dict[str, Any]) -> list[tuple[str, str]]:
        answer = api.request("POST", f"{path}/namespaces/{ns}/{obj['kind'].lower()}s",
                             json.dumps(obj).encode())  # fmt: skip
        assert answer.status == 422, answer.body
        return [(c["field"], c["message"]) for c in answer.json()["details"]["causes"]]

    source = {
        "apiVersion": "sources.knative.dev/v1alpha1",
        "kind": "IntegrationSource",
        "metadata": {"name": "bad"},
        "spec": {
            "timer": {"period": -5, "message": "m"},
            "aws": {"sqs": {"arn": "q"}},
            "sink": {"uri": "http://127.0.0.1:9/"},
        },
    }
    assert causes("/apis/sources.knative.dev/v1alpha1", source) == [
        ("spec", "only one source type can be set, got 2: timer, aws.sqs"),
        ("spec.timer.period", "invalid value -5: expected milliseconds greater than 0"),
    ]
    source["spec"] = {"aws": {"ddbStreams": {}}, "sink": {"uri": "http://127.0.0.1:9/"}}
    assert causes("/apis/sources.knative.dev/v1alpha1", source) == [
        ("spec.aws.auth.secret.ref.name", "required field is missing"),
        ("spec.aws.ddbStreams.table", "required field is missing"),
        ("spec.aws.ddbStreams.region", "required field is missing"),
    ]
    sink = {
        "apiVersion": "sinks.knative.dev/v1alpha1",
        "kind": "IntegrationSink",
        "metadata": {"name": "bad"},
        "spec": {"log": {"level": "LOUD"}},
    }
    assert causes("/apis/sinks.knative.dev/v1alpha1", sink) == [
        (
            "spec.log.level",
            "invalid value 'LOUD': expected one of TRACE, DEBUG, INFO, WARN, ERROR, OFF",
        ),
    ]
    refused = kubectl.fails(
        "apply", "-n", ns, "-f", "-", stdin="apiVersion: sinks.knative.dev/v1alpha1\n"
        "kind: IntegrationSink\nmetadata:\n  name: empty\nspec: {}\n",
    )  # fmt: skip
    assert "at least one sink type must be specified" in refused.stderr, refused.explain()
    assert kubectl.ok("get", "integrationsources,integrationsinks", "-n", ns).strip() == ""
