"""RequestReply through the real kubectl and a real kawa: a Broker, a Trigger to a responder
(an in-process server), and a RequestReply in the shape of Knative's manifests. A request
posted to the RequestReply's address is published to the Broker with a signed correlation
id and answered 200 with the event that comes back carrying that id in the reply attribute,
whether the responder replies over HTTP (the Broker publishes its reply) or posts the reply
to the Broker itself; a request nobody answers gets 504 after the timeout, and a reply whose
id is forged answers nothing; bad specs are refused with 422 at their field paths; the
RequestReply is Ready once its Broker is."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from kawa.cloudevents import http as ce_http
from kawa.cloudevents.event import CloudEvent

from ..waiting import wait_until
from .kubectl_support import Kubectl, condition, header
from .sinks import TIMEOUT, Answer, Received, Sink, post, send

pytestmark = pytest.mark.slow

REQUEST_REPLY = """\
apiVersion: eventing.knative.dev/v1alpha1
kind: RequestReply
metadata:
  name: my-request-reply
spec:
  brokerRef:
    apiVersion: eventing.knative.dev/v1
    kind: Broker
    name: default
  correlationAttribute: correlationid
  replyAttribute: replyid
  timeout: PT10S
"""
"""A RequestReply with every field of Knative's CRD that kawa uses, as its manifests write
them."""

BROKER = """\
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
"""

RESPONDER_TRIGGER = """\
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: responder
spec:
  broker: default
  filter:
    attributes:
      type: com.example.request
  subscriber:
    uri: {url}
"""


def request(event_id: str, **extensions: str) -> CloudEvent:
    return CloudEvent(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": "/client",
            "type": "com.example.request",
            "datacontenttype": "application/json",
            "mode": "http",
            **extensions,
        },
        json.dumps({"question": event_id}).encode(),
    )


def answering(broker_url: Callable[[], str]) -> Callable[[int, Received], Answer]:
    """A responder: replies to a request over HTTP (``mode: http``) or posts the reply to the
    Broker (``mode: post``), copying its correlationid into replyid; ``mode: forge`` replies
    with a replyid it made up from the correlationid (its seal changed)."""

    def script(n: int, received: Received) -> Answer:
        event = received.event()
        correlation = str(event.get("correlationid"))
        mode = event.get("mode")
        if mode == "forge":
            event_id, seal, index = correlation.rsplit(":", 2)
            correlation = f"{event_id}:{seal[:-4]}AAAA:{index}"
        reply = CloudEvent(
            {
                "specversion": "1.0",
                "id": f"reply-to-{event.id}",
                "source": "/responder",
                "type": "com.example.reply",
                "datacontenttype": "application/json",
                "replyid": correlation,
            },
            json.dumps({"answer": event.id}).encode(),
        )
        if mode == "post":
            assert send(broker_url(), reply) == 202
            return Answer(202)
        headers, body = ce_http.to_binary(reply)
        return Answer(200, headers, body)

    return script


def ready(kubectl: Kubectl, resource: str, name: str, ns: str) -> dict[str, Any]:
    def seen() -> dict[str, Any] | None:
        obj: dict[str, Any] = kubectl.json("get", resource, name, "-n", ns)
        found = condition(obj)
        return obj if found is not None and found["status"] == "True" else None

    found: dict[str, Any] = wait_until(seen, TIMEOUT, f"{resource} {ns}/{name} never turned Ready")
    return found


def responder(kubectl: Kubectl, sinks: Callable[..., Sink], ns: str) -> Sink:
    broker: list[str] = []
    sink = sinks(answering(lambda: broker[0]))
    kubectl.ok("apply", "-n", ns, "-f", "-", stdin=BROKER)
    kubectl.ok("apply", "-n", ns, "-f", "-", stdin=RESPONDER_TRIGGER.format(url=sink.url))
    broker.append(ready(kubectl, "broker", "default", ns)["status"]["address"]["url"])
    ready(kubectl, "trigger", "responder", ns)
    return sink


def test_a_request_is_answered_with_its_reply_once_the_broker_is_ready(
    kubectl: Kubectl, namespaces: Callable[..., str], sinks: Callable[..., Sink]
) -> None:
    ns = namespaces("requestreply")
    kubectl.ok("apply", "-n", ns, "-f", "-", stdin=REQUEST_REPLY)

    def broker_missing() -> dict[str, Any] | None:
        obj: dict[str, Any] = kubectl.json("get", "requestreply", "my-request-reply", "-n", ns)
        found = condition(obj, "BrokerReady")
        return obj if found is not None and found["status"] == "False" else None

    obj = wait_until(broker_missing, TIMEOUT, "BrokerReady never turned False")
    missing = condition(obj, "BrokerReady") or {}
    assert (missing["reason"], missing["message"]) == (
        "BrokerDoesNotExist",
        'Broker "default" does not exist',
    )
    assert (condition(obj) or {})["status"] == "False"

    sink = responder(kubectl, sinks, ns)
    obj = ready(kubectl, "requestreply", "my-request-reply", ns)
    for type_ in ("BrokerReady", "TriggersReady", "Addressable", "EventPoliciesReady"):
        assert (condition(obj, type_) or {}).get("status") == "True", obj["status"]
    url = obj["status"]["address"]["url"]
    assert url.endswith(f"/requestreplies/{ns}/my-request-reply")
    table = kubectl.ok("get", "requestreplies", "-n", ns)
    assert header(table) == ["NAME", "URL", "READY", "REASON"]
    assert table.splitlines()[1].split() == ["my-request-reply", url, "True"]
    trigger = kubectl.json("get", "trigger", "my-request-reply0-1", "-n", ns)
    assert trigger["spec"]["filters"] == [{"cesql": "EXISTS replyid"}]
    assert trigger["spec"]["subscriber"] == {"uri": f"{url}/reply"}
    labels = trigger["metadata"]["labels"]
    assert labels["eventing.knative.dev/RequestReply.name"] == "my-request-reply"
    assert labels["eventing.knative.dev/RequestReply.namespace"] == ns
    assert trigger["metadata"]["ownerReferences"][0]["kind"] == "RequestReply"

    # the responder replies over HTTP: the Broker publishes its reply, which comes back
    headers, body = ce_http.to_structured(request("q-1"))
    answer = post(url, headers, body)
    assert answer.status == 200, answer.body
    assert answer.headers["ce-type"] == "com.example.reply"  # binary mode
    reply = ce_http.from_http(answer.headers, answer.body)
    assert reply.id == "reply-to-q-1"
    assert json.loads(reply.data or b"") == {"answer": "q-1"}
    (asked,) = sink.events(lambda r: r.ce("id") == "q-1")
    correlation = asked.ce("correlationid")
    assert correlation is not None
    assert correlation.startswith("q-1:")
    assert reply.get("replyid") == correlation

    # the responder posts its reply to the Broker itself
    headers, body = ce_http.to_binary(request("q-2", mode="post"))
    answer = post(url, headers, body)
    assert answer.status == 200, answer.body
    assert ce_http.from_http(answer.headers, answer.body).id == "reply-to-q-2"

    unknown = post(url.replace("my-request-reply", "nope"), headers, body)
    assert unknown.status == 404
    assert post(url, {"Content-Type": "application/json"}, b"{}").status == 400


def test_an_unanswered_request_gets_504_and_a_forged_reply_answers_nothing(
    kubectl: Kubectl, namespaces: Callable[..., str], sinks: Callable[..., Sink]
) -> None:
    ns = namespaces("requestreply-timeout")
    responder(kubectl, sinks, ns)
    kubectl.ok(
        "apply", "-n", ns, "-f", "-", stdin=REQUEST_REPLY.replace("PT10S", "PT1S")
    )  # fmt: skip
    url = ready(kubectl, "requestreply", "my-request-reply", ns)["status"]["address"]["url"]

    # the responder answers with a replyid whose seal it changed: nothing verifies it
    headers, body = ce_http.to_binary(request("q-forged", mode="forge"))
    started = time.monotonic()
    answer = post(url, headers, body)
    elapsed = time.monotonic() - started
    assert answer.status == 504, answer.body
    assert json.loads(answer.body)["reason"] == "Timeout"
    assert 1.0 <= elapsed < 10.0

    # nobody answers this type at all
    silent = request("q-silent").with_attributes(type="com.example.unheard")
    headers, body = ce_http.to_binary(silent)
    assert post(url, headers, body).status == 504

    # a reply posted straight to the reply endpoint with an unsigned id is refused
    unsigned = CloudEvent(
        {
            "specversion": "1.0",
            "id": "r",
            "source": "/forger",
            "type": "com.example.reply",
            "replyid": "q-silent:bm90IHNpZ25lZA==:0",
        }
    )
    headers, body = ce_http.to_binary(unsigned)
    refused = post(f"{url}/reply", headers, body)
    assert refused.status == 400
    assert json.loads(refused.body)["reason"] == "InvalidReplyId"


def test_bad_specs_are_refused_with_422_at_their_field_paths(
    kubectl: Kubectl, namespaces: Callable[..., str]
) -> None:
    ns = namespaces("requestreply-admission")
    bad = (
        REQUEST_REPLY.replace("kind: Broker", "kind: Channel")
        .replace("correlationAttribute: correlationid", "correlationAttribute: id")
        .replace("PT10S", "10s")
    )
    refused = kubectl.fails("apply", "-n", ns, "-f", "-", stdin=bad)
    assert refused.stderr.strip().splitlines() == [
        'The RequestReply "my-request-reply" is invalid: ',
        "* spec.timeout: invalid duration '10s': expected an ISO 8601 duration such as "
        "PT0.2S, PT1M, PT1.5S or P1DT2H",
        "* spec.brokerRef.kind: invalid value 'Channel': brokerRef kind must be Broker",
    ], refused.explain()
    bad = REQUEST_REPLY.replace("kind: Broker", "kind: Channel").replace(
        "correlationAttribute: correlationid", "correlationAttribute: id"
    )
    refused = kubectl.fails("apply", "-n", ns, "-f", "-", stdin=bad)
    assert "spec.brokerRef.kind" in refused.stderr, refused.explain()
    assert "spec.correlationAttribute" in refused.stderr, refused.explain()
    assert kubectl.ok("get", "requestreplies", "-n", ns).strip() == ""
