"""EventTransform through the real kubectl, with Knative's documented examples as written
(docs/eventing/transforms): field extraction answered to its caller, enrichment behind a
Trigger whose reply goes back into the Broker, a transform with a sink and a reply
transformation, an event the expression fails on dead-lettered by the Trigger's delivery,
and a bad expression refused with 422 at its field path."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from kawa.cloudevents import http as ce_http
from kawa.cloudevents.event import CloudEvent

from ..waiting import wait_until
from .kubectl_support import Api, Kubectl, condition, header
from .sinks import TIMEOUT, Received, Sink, post, reply_transformed, send

pytestmark = pytest.mark.slow

EXTRACT_USER_ID = """\
apiVersion: eventing.knative.dev/v1alpha1
kind: EventTransform
metadata:
  name: extract-user-id
spec:
  jsonata:
    expression: |
      {
        "specversion": "1.0",
        "id": id,
        "type": "user.extracted",
        "source": "transform.user-extractor",
        "time": time,
        "userid": data.user.id,
        "data": $
      }
"""
"""Knative's "Field Extraction" example, verbatim."""

EVENT_ENRICHER = """\
apiVersion: eventing.knative.dev/v1alpha1
kind: EventTransform
metadata:
  name: event-enricher
spec:
  jsonata:
    expression: |
      {
        "specversion": "1.0",
        "id": id,                     /* Add the "id", "type", "source", and "time" attributes based on the input JSON object fields */
        "type": type,
        "source": source,
        "time": time,
        "environment": "production",  /* Add fixed environment and region attributes to the event metadata */
        "region": "us-west-1",
        "data": $                     /* Add the event transform input JSON body as CloudEvent "data" field */
      }
"""  # noqa: E501
"""Knative's "Event Enrichment" example, verbatim."""

REPLY_FEATURE = """\
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: transform-trigger
spec:
  broker: default
  filter:
    attributes:
      type: original.event.type
  subscriber:
    ref:
      apiVersion: eventing.knative.dev/v1alpha1
      kind: EventTransform
      name: event-transformer
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventTransform
metadata:
  name: event-transformer
spec:
  # No sink specified - will use reply feature
  jsonata:
    expression: |
      {
        "specversion": "1.0",
        "id": id,
        "time": time,
        "type": "transformed.event.type",
        "source": "transform.event-transformer",
        "data": $
      }
"""
"""Knative's "Using Broker Reply Feature" example, verbatim."""

ORDER = CloudEvent(
    {
        "specversion": "1.0",
        "id": "order-1",
        "source": "/shop",
        "type": "original.event.type",
        "time": "2025-03-04T05:06:07Z",
        "datacontenttype": "application/json",
    },
    b'{"user": {"id": "u-7"}, "total": 3}',
)


def ready(kubectl: Kubectl, resource: str, name: str, ns: str) -> dict[str, Any]:
    def seen() -> dict[str, Any] | None:
        obj: dict[str, Any] = kubectl.json("get", resource, name, "-n", ns)
        found = condition(obj)
        return obj if found is not None and found["status"] == "True" else None

    found: dict[str, Any] = wait_until(seen, TIMEOUT, f"{resource} {ns}/{name} never turned Ready")
    return found


def test_a_bad_expression_is_refused_with_422_at_its_field(
    kubectl: Kubectl, api: Api, namespaces: Callable[..., str]
) -> None:
    ns = namespaces("transform-admission")
    bad = EXTRACT_USER_ID.replace('"userid": data.user.id,', '"userid": data.user.id')
    refused = kubectl.fails("apply", "-n", ns, "-f", "-", stdin=bad)
    assert refused.stderr.strip() == (
        'The EventTransform "extract-user-id" is invalid: spec.jsonata.expression: invalid '
        "JSONata expression: Expected }, got data at position 155 (JSONata S0202)"
    ), refused.explain()
    obj = {
        "apiVersion": "eventing.knative.dev/v1alpha1",
        "kind": "EventTransform",
        "metadata": {"name": "bad"},
        "spec": {"jsonata": {"expression": "a.b]"}},
    }
    answer = api.request(
        "POST",
        f"/apis/eventing.knative.dev/v1alpha1/namespaces/{ns}/eventtransforms",
        json.dumps(obj).encode(),
    )
    assert answer.status == 422
    assert answer.json()["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": "invalid JSONata expression: Syntax error: ] at position 4 (JSONata S0201)",
            "field": "spec.jsonata.expression",
        }
    ]
    assert kubectl.ok("get", "eventtransforms", "-n", ns).strip() == ""


def test_field_extraction_answers_the_transformed_event(
    kubectl: Kubectl, namespaces: Callable[..., str]
) -> None:
    ns = namespaces("transform-extract")
    kubectl.ok("apply", "-n", ns, "-f", "-", stdin=EXTRACT_USER_ID)
    obj = ready(kubectl, "eventtransform", "extract-user-id", ns)
    url = obj["status"]["address"]["url"]
    assert url.endswith(f"/transforms/{ns}/extract-user-id")
    table = kubectl.ok("get", "eventtransforms", "-n", ns)
    assert header(table) == ["NAME", "URL", "SINK", "READY", "REASON"]
    assert table.splitlines()[1].split() == ["extract-user-id", url, "True"]
    for condition_type in ("TransformationReady", "Addressable", "EventPoliciesReady"):
        found = condition(obj, condition_type)
        assert found is not None
        assert found["status"] == "True", obj["status"]

    headers, body = ce_http.to_structured(ORDER)
    answer = post(url, headers, body)
    assert answer.status == 200, answer.body
    out = ce_http.from_http(answer.headers, answer.body)
    assert answer.headers["ce-type"] == "user.extracted"  # binary mode
    assert (out.id, out.source, out.get("userid")) == (
        "order-1",
        "transform.user-extractor",
        "u-7",
    )
    assert out.data is not None
    assert json.loads(out.data)["data"] == {"user": {"id": "u-7"}, "total": 3}

    # an optional attribute the input lacks is left out; text data is a string to JSONata
    text = CloudEvent({**ORDER.attributes, "datacontenttype": "text/plain"}, b"not json")
    headers, body = ce_http.to_binary(text.with_attributes({"time": None}))
    plain = post(url, headers, body)
    assert plain.status == 200, plain.body
    out = ce_http.from_http(plain.headers, plain.body)
    assert (out.get("time"), out.get("userid")) == (None, None)
    assert out.data is not None
    assert json.loads(out.data)["data"] == "not json"

    missing = post(url.replace("extract-user-id", "nope"), headers, body)
    assert missing.status == 404
    assert "does not exist" in json.loads(missing.body)["error"]
    assert post(url, {"Content-Type": "application/json"}, b"{}").status == 400


def test_a_trigger_enriches_through_the_transform_and_the_reply_returns_to_the_broker(
    kubectl: Kubectl, namespaces: Callable[..., str], sink: Sink
) -> None:
    ns = namespaces("transform-reply")
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
                "metadata": {"name": "transformed", "namespace": ns},
                "spec": {
                    "broker": "default",
                    "filter": {"attributes": {"type": "transformed.event.type"}},
                    "subscriber": {"uri": sink.url},
                },
            },
        ]
    )
    kubectl.ok("apply", "-n", ns, "-f", "-", stdin=REPLY_FEATURE)
    ready(kubectl, "trigger", "transform-trigger", ns)
    ready(kubectl, "trigger", "transformed", ns)
    broker = ready(kubectl, "broker", "default", ns)["status"]["address"]["url"]
    assert send(broker, ORDER) == 202

    (got,) = sink.wait(lambda r: r.ce("type") == "transformed.event.type")
    event = got.event()
    assert (event.id, event.source) == ("order-1", "transform.event-transformer")
    assert event.data is not None
    data = json.loads(event.data)
    assert data["type"] == "original.event.type"  # "data": $ -- the whole original event
    assert data["data"] == {"user": {"id": "u-7"}, "total": 3}


REQUEST_TRANSFORMATION = """# Request transformation
{
  "specversion": "1.0",
  "id": id,
  "type": "request.transformed",
  "source": source,
  "time": time,
  "data": data
}
"""
REPLY_TRANSFORMATION = """# Reply transformation
{
  "specversion": "1.0",
  "id": id,
  "type": "reply.transformed",
  "source": "transform.reply-processor",
  "time": time,
  "data": data
}
"""


def test_a_transform_with_a_sink_sends_there_and_transforms_the_reply(
    kubectl: Kubectl, namespaces: Callable[..., str], sinks: Callable[..., Sink]
) -> None:
    ns = namespaces("transform-sink")
    replier = sinks(reply_transformed("processed", "/processor"))
    kubectl.ok("apply", "-n", ns, "-f", "-", stdin=EVENT_ENRICHER)
    kubectl.apply(
        {
            "apiVersion": "eventing.knative.dev/v1alpha1",
            "kind": "EventTransform",
            "metadata": {"name": "request-reply-transform", "namespace": ns},
            "spec": {
                "sink": {"uri": replier.url},
                # Knative's documented expressions, "#" comment lines included
                "jsonata": {"expression": REQUEST_TRANSFORMATION},
                "reply": {"jsonata": {"expression": REPLY_TRANSFORMATION}},
            },
        }
    )
    obj = ready(kubectl, "eventtransform", "request-reply-transform", ns)
    assert obj["status"]["sinkUri"] == replier.url
    headers, body = ce_http.to_binary(ORDER)
    answer = post(obj["status"]["address"]["url"], headers, body)
    assert answer.status == 200, answer.body
    (sent,) = replier.wait()
    assert sent.ce("type") == "request.transformed"
    reply = ce_http.from_http(answer.headers, answer.body)
    assert (reply.type, reply.source, reply.id) == (
        "reply.transformed",
        "transform.reply-processor",
        "order-1",
    )

    # the enricher behind a Trigger with a dead-letter sink: an event whose data the
    # expression needs as JSON fails with 422 and is dead-lettered at once (not retried)
    kubectl.apply(
        {
            "apiVersion": "eventing.knative.dev/v1alpha1",
            "kind": "EventTransform",
            "metadata": {"name": "strict", "namespace": ns},
            "spec": {"jsonata": {"expression": '$merge([$, {"total": $number(data.total) + 1}])'}},
        }
    )
    strict = ready(kubectl, "eventtransform", "strict", ns)["status"]["address"]["url"]
    failed = post(strict, *ce_http.to_binary(ORDER.with_data(b'{"total": "x"}')))
    assert failed.status == 422
    problem = json.loads(failed.body)
    assert problem["reason"] == "EvaluationFailed"
    assert "ValueError" in problem["error"]
    enriched = ready(kubectl, "eventtransform", "event-enricher", ns)["status"]["address"]["url"]
    out = post(enriched, *ce_http.to_binary(ORDER))
    assert out.status == 200
    assert (out.headers["ce-environment"], out.headers["ce-region"]) == (
        "production",
        "us-west-1",
    )


def test_an_event_the_transform_fails_on_goes_to_the_dead_letter_sink(
    kubectl: Kubectl, namespaces: Callable[..., str], sinks: Callable[..., Sink]
) -> None:
    ns = namespaces("transform-dls")
    dead = sinks()
    kubectl.apply(
        [
            {
                "apiVersion": "eventing.knative.dev/v1",
                "kind": "Broker",
                "metadata": {"name": "default", "namespace": ns},
            },
            {
                "apiVersion": "eventing.knative.dev/v1alpha1",
                "kind": "EventTransform",
                "metadata": {"name": "no-type", "namespace": ns},
                "spec": {"jsonata": {"expression": '{"specversion": "1.0", "id": id}'}},
            },
            {
                "apiVersion": "eventing.knative.dev/v1",
                "kind": "Trigger",
                "metadata": {"name": "to-transform", "namespace": ns},
                "spec": {
                    "broker": "default",
                    "subscriber": {
                        "ref": {
                            "apiVersion": "eventing.knative.dev/v1alpha1",
                            "kind": "EventTransform",
                            "name": "no-type",
                        }
                    },
                    "delivery": {"retry": 3, "deadLetterSink": {"uri": dead.url}},
                },
            },
        ]
    )
    ready(kubectl, "trigger", "to-transform", ns)
    broker = ready(kubectl, "broker", "default", ns)["status"]["address"]["url"]
    assert send(broker, ORDER) == 202

    def dead_lettered(r: Received) -> bool:
        return r.ce("id") == "order-1"

    (got,) = dead.wait(dead_lettered)
    assert got.ce("knativeerrorcode") == "422"  # not retried: the same event fails again
    assert got.ce("type") == "original.event.type"  # the original event
    data = base64.b64decode(got.ce("knativeerrordata") or "")
    assert b"NotACloudEvent" in data
    assert b"source: required" in data


REQUEST_REPLY_TRANSFORM = """\
apiVersion: eventing.knative.dev/v1alpha1
kind: EventTransform
metadata:
  name: request-reply-transform
spec:
  sink:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: processor-service
  jsonata:
    expression: |
      # Request transformation
      {
        "specversion": "1.0",
        "id": id,
        "type": "request.transformed",
        "source": source,
        "time": time,
        "data": data
      }
  reply:
    jsonata:
      expression: |
        # Reply transformation
        {
          "specversion": "1.0",
          "id": id,
          "type": "reply.transformed",
          "source": "transform.reply-processor",
          "time": time,
          "data": data
        }
"""
"""Knative's "Transforming replies" example, verbatim (its sink a Knative Service)."""
PROCESSOR_SERVICE = """\
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: processor-service
spec:
  template:
    metadata:
      annotations: {autoscaling.knative.dev/min-scale: "1"}
    spec:
      containers:
        - image: gcr.io/knative-releases/knative.dev/eventing/cmd/appender
          env: [{name: MESSAGE, value: " - processed"}]
"""
"""The example's processor: Knative's appender sample, which replies with the event it got,
its message appended."""


def test_the_documented_request_reply_transform_runs_unchanged(
    kubectl: Kubectl, namespaces: Callable[..., str]
) -> None:
    ns = namespaces("transform-request-reply")
    kubectl.ok("apply", "-n", ns, "-f", "-", stdin=PROCESSOR_SERVICE)
    ready(kubectl, "ksvc", "processor-service", ns)
    kubectl.ok("apply", "-n", ns, "-f", "-", stdin=REQUEST_REPLY_TRANSFORM)
    obj = ready(kubectl, "eventtransform", "request-reply-transform", ns)
    order = ORDER.with_attributes(id="order-2")
    order = CloudEvent(order.attributes, b'{"id": 2, "message": "order"}')
    headers, body = ce_http.to_binary(order)
    answer = post(obj["status"]["address"]["url"], headers, body)
    assert answer.status == 200, answer.body
    reply = ce_http.from_http(answer.headers, answer.body)
    assert (reply.type, reply.source, reply.id) == (
        "reply.transformed",
        "transform.reply-processor",
        "order-2",
    )
    assert json.loads(reply.data or b"{}") == {"id": 2, "message": "order - processed"}
