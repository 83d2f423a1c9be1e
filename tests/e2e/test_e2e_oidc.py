"""authentication-oidc end to end, with the real kubectl and a real kawa of its own (the flag is
cluster-wide, so no other test's kawa may see it on).

Flag off: anyone may post. ``kubectl patch`` turns it on (a bad value is refused naming the
field): the Broker publishes its audience; a post without a token, with a token for another
audience, or with a tampered one gets 401 saying why, and nothing of it is stored; a token
from ``kubectl create token`` for the broker's audience gets 202. That event then travels
through a Trigger whose subscriber is another Broker: the Trigger's deliveries present a
token of its own ServiceAccount for that Broker's audience, so it arrives. Flag off again:
posts without a token are taken.

Flows with authentication-oidc on and ``default-authorization-mode: deny-all``: an EventPolicy
on a Sequence decides who may post to it (its address is its first channel's, which gets the
policy's copy), and the Sequence still carries events through its steps (each inner channel
allows the Subscription that replies into it).

A RequestReply puts its requests into its Broker past the Broker's ingress: their senders
must pass the Broker's EventPolicies (or default mode) as well as the RequestReply's.
"""

from __future__ import annotations

import http.client
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from ..kubectl.kubectl_support import Kubectl
from ..kubectl.sinks import Sink, reply_transformed
from ..kubectl.test_requestreply import answering
from ..waiting import wait_until
from .e2e_support import KawaProcess, event_display, read_text
from .flags_support import apply_chained_brokers, kawa, kubectl, set_flag

pytestmark = pytest.mark.slow

__all__ = ["kawa", "kubectl"]  # the module's fixtures

_ids = itertools.count(1)


def post(
    kawa: KawaProcess, path: str, token: str | None = None, *, type_: str = "e2e.oidc"
) -> tuple[int, str, str]:
    """POST a CloudEvent to kawa's port: (status, body, the event's id)."""
    event_id = f"oidc-{next(_ids)}"
    headers = {
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-source": "/e2e/oidc",
        "ce-type": type_,
        "content-type": "application/json",
    }
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    conn = http.client.HTTPConnection("127.0.0.1", kawa.port, timeout=30)
    try:
        conn.request("POST", path, body=b"{}", headers=headers)
        response = conn.getresponse()
        return response.status, response.read().decode(), event_id
    finally:
        conn.close()


POLICY = """
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: only-allowed}
spec:
  to:
    - ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}
  from:
    - sub: system:serviceaccount:default:allowed
  filters:
    - prefix: {type: e2e.oidc}
"""
CHANNEL = """
apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: ch}
"""


def broker_status(kubectl: Kubectl, name: str) -> dict[str, Any]:
    return dict(kubectl.json("get", "broker", name).get("status") or {})


def set_oidc(kubectl: Kubectl, value: str) -> None:
    set_flag(kubectl, "authentication-oidc", value)


def address(kubectl: Kubectl, name: str) -> dict[str, Any]:
    broker = kubectl.json("get", "broker", name)
    return dict(broker.get("status", {}).get("address") or {})


def test_oidc_on_a_broker_and_the_triggers_own_tokens(
    kawa: KawaProcess, kubectl: Kubectl, tmp_path: Path
) -> None:
    with event_display(tmp_path) as (display_url, display_out):

        def displayed(event_id: str) -> None:
            wait_until(
                lambda: f"id: {event_id}\n" in read_text(display_out),
                30,
                f"{event_id} never reached the display:\n{read_text(display_out)}",
            )

        apply_chained_brokers(kubectl, display_url)
        path = "/brokers/default/default"

        # the flag off (Knative's default): anyone may post, and it travels on
        status, body, first = post(kawa, path)
        assert status == 202, body
        displayed(first)
        assert "audience" not in address(kubectl, "default")

        # a bad flag value is refused, naming the field
        refused = kubectl.fails(
            "patch",
            "configmap",
            "config-features",
            "-n",
            "knative-eventing",
            "-p",
            '{"data": {"authentication-oidc": "on"}}',
        )
        assert "data[authentication-oidc]" in refused.stderr, refused.explain()

        set_oidc(kubectl, "enabled")
        audience = "eventing.knative.dev/broker/default/default"
        wait_until(
            lambda: address(kubectl, "default").get("audience") == audience,
            30,
            "the broker never published its audience",
        )
        wait_until(
            lambda: kubectl.json("get", "trigger", "forward")["status"].get("auth"),
            30,
            "the trigger never got its OIDC identity",
        )

        def refused_without_token() -> bool:
            return post(kawa, path)[0] == 401

        wait_until(refused_without_token, 15, "a post without a token was still taken")
        status, body, _ = post(kawa, path)
        assert status == 401, body
        assert f"for the audience {audience}" in body

        kubectl.ok("create", "serviceaccount", "sender")
        other = kubectl.ok(
            "create", "token", "sender", "--audience", "eventing.knative.dev/broker/default/x"
        ).strip()
        status, body, _ = post(kawa, path, other)
        assert status == 401, body
        assert "not 'eventing.knative.dev/broker/default/default'" in body

        token = kubectl.ok("create", "token", "sender", "--audience", audience).strip()
        header, payload, signature = token.split(".")
        tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
        status, body, _ = post(kawa, path, tampered)
        assert status == 401, body

        # the right token: taken, and the Trigger's deliveries to the other Broker carry a
        # token of the Trigger's own ServiceAccount for that Broker's audience
        status, body, accepted = post(kawa, path, token)
        assert status == 202, body
        displayed(accepted)

        # no EventPolicy: the default mode (allow-same-namespace) refuses another namespace's
        kubectl.ok("create", "namespace", "elsewhere")
        kubectl.ok("create", "serviceaccount", "outsider", "-n", "elsewhere")
        outsider = kubectl.ok(
            "create", "token", "outsider", "-n", "elsewhere", "--audience", audience
        ).strip()
        status, body, _ = post(kawa, path, outsider)
        assert status == 403, body
        assert "allow-same-namespace" in body, body

        # an EventPolicy naming one sender: only that one may post, the others get 403
        kubectl.ok("apply", "-f", "-", stdin=POLICY)
        wait_until(
            lambda: (
                [p["name"] for p in broker_status(kubectl, "default").get("policies", [])]
                == ["only-allowed"]
            ),
            30,
            "the broker never listed its EventPolicy",
        )
        status, body, _ = post(kawa, path, token)
        assert status == 403, body
        assert "system:serviceaccount:default:sender" in body, body
        kubectl.ok("create", "serviceaccount", "allowed")
        allowed = kubectl.ok("create", "token", "allowed", "--audience", audience).strip()
        status, body, allowed_id = post(kawa, path, allowed)
        assert status == 202, body
        displayed(allowed_id)
        # the policy's filters are ANDed with its senders: another event type is refused
        status, body, _ = post(kawa, path, allowed, type_="e2e.other")
        assert status == 403, body
        kubectl.ok("delete", "eventpolicy", "only-allowed")

        # a channel's ingress checks the same way, for the channel's own audience
        kubectl.ok("apply", "-f", "-", stdin=CHANNEL)
        kubectl.ok("wait", "inmemorychannel/ch", "--for=condition=Ready", "--timeout=30s")
        channel_audience = "messaging.knative.dev/inmemorychannel/default/ch"
        assert (
            kubectl.json("get", "inmemorychannel", "ch")["status"]["address"]["audience"]
            == channel_audience
        )
        channel_path = "/channels/default/ch"
        status, body, _ = post(kawa, channel_path)
        assert status == 401, body
        status, body, _ = post(kawa, channel_path, token)  # the broker's audience
        assert status == 401, body
        for_channel = kubectl.ok(
            "create", "token", "sender", "--audience", channel_audience
        ).strip()
        status, body, _ = post(kawa, channel_path, for_channel)
        assert status == 202, body

        set_oidc(kubectl, "disabled")

        def taken_without_token() -> bool:
            return post(kawa, path)[0] == 202

        wait_until(taken_without_token, 15, "posts without a token stayed refused")
        status, body, last = post(kawa, path)
        assert status == 202, body
        displayed(last)


FLOW = """
apiVersion: flows.knative.dev/v1
kind: Sequence
metadata: {{name: checked}}
spec:
  channelTemplate: {{apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel}}
  steps:
    - uri: "{step}"
    - uri: "{step}"
  reply: {{uri: "{sink}"}}
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {{name: flow-senders}}
spec:
  to:
    - ref: {{apiVersion: flows.knative.dev/v1, kind: Sequence, name: checked}}
  from:
    - sub: system:serviceaccount:default:flow-sender
"""


def test_a_sequences_event_policy_and_its_inner_channels_under_deny_all(
    kawa: KawaProcess, kubectl: Kubectl
) -> None:
    step, sink = Sink(reply_transformed("e2e.stepped", "/e2e/step")), Sink()
    try:
        set_oidc(kubectl, "enabled")
        set_flag(kubectl, "default-authorization-mode", "deny-all")
        kubectl.ok("apply", "-f", "-", stdin=FLOW.format(step=step.url, sink=sink.url))
        kubectl.ok("wait", "sequence/checked", "--for=condition=Ready", "--timeout=45s")
        sequence = kubectl.json("get", "sequence", "checked")
        assert [p["name"] for p in sequence["status"]["policies"]] == ["flow-senders"]
        address = sequence["status"]["address"]
        audience = "messaging.knative.dev/inmemorychannel/default/checked-kn-sequence-0"
        assert address["audience"] == audience
        path = "/" + address["url"].split("/", 3)[3]

        for name in ("flow-sender", "flow-outsider"):
            kubectl.ok("create", "serviceaccount", name)
        allowed = kubectl.ok("create", "token", "flow-sender", "--audience", audience).strip()
        other = kubectl.ok("create", "token", "flow-outsider", "--audience", audience).strip()
        status, body, _ = post(kawa, path, other)
        assert status == 403, body
        status, body, event_id = post(kawa, path, allowed)
        assert status == 202, body
        # both steps, then the reply: the second step's channel took the first step's reply
        got = sink.wait(lambda r: r.ce("id") == event_id, 1, "the Sequence's reply", 45)
        assert got[0].ce("type") == "e2e.stepped"
        assert len(step.events(lambda r: r.ce("id") == event_id)) == 2
        derived = kubectl.json("get", "eventpolicies")["items"]
        assert {"checked-ep-flow-senders", "checked-ep-checked-kn-sequence-1"} <= {
            p["metadata"]["name"] for p in derived
        }
    finally:
        kubectl.run("delete", "sequence", "checked", "--ignore-not-found")
        kubectl.run("delete", "eventpolicy", "flow-senders", "--ignore-not-found")
        set_flag(kubectl, "default-authorization-mode", "allow-same-namespace")
        set_oidc(kubectl, "disabled")
        step.close()
        sink.close()


TRANSFORM = """
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {{name: transformed}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {{name: transformed-out}}
spec:
  broker: transformed
  subscriber: {{uri: "{sink}"}}
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventTransform
metadata: {{name: stamp}}
spec:
  jsonata:
    expression: '$merge([$, {{"type": "e2e.transformed"}}])'
  sink:
    ref: {{apiVersion: eventing.knative.dev/v1, kind: Broker, name: transformed}}
"""


def test_an_event_transform_sends_to_its_sink_as_its_own_identity(
    kawa: KawaProcess, kubectl: Kubectl
) -> None:
    """With authentication-oidc on, an EventTransform has its own ServiceAccount
    (``status.auth``) and presents its token for the sink's audience: a Broker sink takes
    the transformed event (it would answer 401 to a request without one)."""
    sink = Sink()
    try:
        set_oidc(kubectl, "enabled")
        kubectl.ok("apply", "-f", "-", stdin=TRANSFORM.format(sink=sink.url))
        for ref in ("broker/transformed", "trigger/transformed-out", "eventtransform/stamp"):
            kubectl.ok("wait", ref, "--for=condition=Ready", "--timeout=45s")
        stamp = kubectl.json("get", "eventtransform", "stamp")
        assert stamp["status"]["auth"]["serviceAccountName"].startswith("stamp-oidc-")
        assert stamp["status"]["sinkAudience"] == "eventing.knative.dev/broker/default/transformed"
        address = stamp["status"]["address"]
        path = "/" + address["url"].split("/", 3)[3]
        status, body, _ = post(kawa, path)  # no token: refused before the expression runs
        assert status == 401, body
        kubectl.ok("create", "serviceaccount", "transform-sender")
        token = kubectl.ok(
            "create", "token", "transform-sender", "--audience", address["audience"]
        ).strip()
        status, body, event_id = post(kawa, path, token)
        assert status == 202, body  # the Broker's answer, through the transform
        got = sink.wait(lambda r: r.ce("id") == event_id, 1, "the transformed event", 45)
        assert got[0].ce("type") == "e2e.transformed"
    finally:
        kubectl.run("delete", "eventtransform", "stamp", "--ignore-not-found")
        kubectl.run("delete", "broker", "transformed", "--ignore-not-found")
        set_oidc(kubectl, "disabled")
        sink.close()


INTEGRATIONS = """
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {{name: timed}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {{name: timed-out}}
spec:
  broker: timed
  subscriber: {{uri: "{sink}"}}
---
apiVersion: sources.knative.dev/v1alpha1
kind: IntegrationSource
metadata: {{name: ticker}}
spec:
  timer: {{period: 300, message: "tick", repeatCount: 2}}
  sink:
    ref: {{apiVersion: eventing.knative.dev/v1, kind: Broker, name: timed}}
---
apiVersion: sinks.knative.dev/v1alpha1
kind: IntegrationSink
metadata: {{name: logged}}
spec:
  log: {{level: info}}
"""


def test_integration_kinds_with_oidc(kawa: KawaProcess, kubectl: Kubectl) -> None:
    """With authentication-oidc on, a timer IntegrationSource sends as its own ServiceAccount
    (a Broker sink takes its events) and an IntegrationSink refuses a post without a token."""
    sink = Sink()
    try:
        set_oidc(kubectl, "enabled")
        kubectl.ok("apply", "-f", "-", stdin=INTEGRATIONS.format(sink=sink.url))
        for ref in ("broker/timed", "trigger/timed-out", "integrationsink/logged"):
            kubectl.ok("wait", ref, "--for=condition=Ready", "--timeout=45s")
        got = sink.wait(lambda r: r.ce("type") == "dev.knative.eventing.timer", 2, "ticks", 45)
        assert got[0].body == b"tick"
        ticker = kubectl.json("get", "integrationsource", "ticker")
        assert ticker["status"]["auth"]["serviceAccountName"].startswith("ticker-oidc-")
        address = kubectl.json("get", "integrationsink", "logged")["status"]["address"]
        assert address["audience"].endswith("/default/logged")
        status, body, _ = post(kawa, "/" + address["url"].split("/", 3)[3])
        assert status == 401, body
    finally:
        for ref in ("integrationsource/ticker", "integrationsink/logged", "broker/timed"):
            kubectl.run("delete", ref, "--ignore-not-found")
        set_oidc(kubectl, "disabled")
        sink.close()


JOBSINK = """
apiVersion: sinks.knative.dev/v1alpha1
kind: JobSink
metadata: {name: guarded}
spec:
  job:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: main, image: busybox, command: ["true"]}]
"""


def test_a_jobsink_takes_events_only_with_a_token_for_its_audience(
    kawa: KawaProcess, kubectl: Kubectl
) -> None:
    """With authentication-oidc on, a JobSink publishes its audience and its ingress refuses
    a sender without a token (401) before any Job is made; a token for the audience makes
    one."""
    try:
        set_oidc(kubectl, "enabled")
        kubectl.ok("apply", "-f", "-", stdin=JOBSINK)
        kubectl.ok("wait", "jobsink/guarded", "--for=condition=Ready", "--timeout=45s")
        address = kubectl.json("get", "jobsink", "guarded")["status"]["address"]
        assert address["audience"] == "sinks.knative.dev/jobsink/default/guarded"
        path = "/" + address["url"].split("/", 3)[3]
        status, body, _ = post(kawa, path)
        assert status == 401, body
        selector = "sinks.knative.dev/job-sink-name=guarded"
        assert kubectl.json("get", "jobs", "-l", selector)["items"] == []
        kubectl.ok("create", "serviceaccount", "jobsink-sender")
        token = kubectl.ok(
            "create", "token", "jobsink-sender", "--audience", address["audience"]
        ).strip()
        status, body, _ = post(kawa, path, token)
        assert status == 202, body
        assert len(kubectl.json("get", "jobs", "-l", selector)["items"]) == 1
    finally:
        kubectl.run("delete", "jobsink", "guarded", "--ignore-not-found")
        set_oidc(kubectl, "disabled")


FRONTED = """
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {{name: fronted, namespace: rr-oidc}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {{name: responder, namespace: rr-oidc}}
spec:
  broker: fronted
  filter: {{attributes: {{type: com.example.request}}}}
  subscriber: {{uri: "{responder}"}}
---
apiVersion: eventing.knative.dev/v1alpha1
kind: RequestReply
metadata: {{name: ask, namespace: rr-oidc}}
spec:
  brokerRef: {{apiVersion: eventing.knative.dev/v1, kind: Broker, name: fronted}}
  timeout: PT10S
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {{name: anyone-asks, namespace: rr-oidc}}
spec:
  to:
    - ref: {{apiVersion: eventing.knative.dev/v1alpha1, kind: RequestReply, name: ask}}
  from:
    - sub: "*"
"""
"""Broker ``rr-oidc/fronted`` (no EventPolicy: the default mode decides), a Trigger to the
responder, and RequestReply ``ask`` in front of the Broker whose EventPolicy allows anyone."""

FRONTED_POLICY = """
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: only-asker, namespace: rr-oidc}
spec:
  to:
    - ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: fronted}
  from:
    - sub: system:serviceaccount:rr-oidc:asker
    - sub: system:serviceaccount:rr-oidc:responder-oidc-*
"""
"""The Broker takes the ``asker``'s events and the responder Trigger's replies, nobody
else's."""


def test_a_requestreply_lets_in_no_sender_its_broker_refuses(
    kawa: KawaProcess, kubectl: Kubectl
) -> None:
    """The request goes into the Broker in process, past its ingress: with authentication-oidc
    on, its sender must pass the Broker's EventPolicies (or default mode) too, as if it had
    posted there itself. A sender the RequestReply allows and the Broker refuses gets 403
    naming the Broker, and nothing reaches the Broker's Triggers; an allowed one gets its
    reply."""
    responder = Sink(answering(lambda: ""))
    try:
        set_oidc(kubectl, "enabled")
        for ns in ("rr-oidc", "rr-elsewhere"):
            kubectl.ok("create", "namespace", ns)
        kubectl.ok("apply", "-f", "-", stdin=FRONTED.format(responder=responder.url))
        kubectl.ok(
            "wait", "requestreply/ask", "-n", "rr-oidc", "--for=condition=Ready", "--timeout=45s"
        )
        rr = kubectl.json("get", "requestreply", "ask", "-n", "rr-oidc")
        assert [p["name"] for p in rr["status"]["policies"]] == ["anyone-asks"]
        audience = rr["status"]["address"]["audience"]
        path = "/requestreplies/rr-oidc/ask"

        def token(namespace: str, account: str) -> str:
            kubectl.ok("create", "serviceaccount", account, "-n", namespace)
            return kubectl.ok(
                "create", "token", account, "-n", namespace, "--audience", audience
            ).strip()

        def ask(token: str) -> tuple[int, str, str]:
            return post(kawa, path, token, type_="com.example.request")

        def refused_by_the_broker(token: str, says: str) -> None:
            status, body, event_id = ask(token)
            assert status == 403, body
            problem = json.loads(body)
            assert problem["reason"] == "BrokerForbidden", problem
            assert "RequestReply rr-oidc/ask" in problem["error"], problem
            assert "Broker rr-oidc/fronted" in problem["error"], problem
            assert says in problem["error"], problem
            refused_ids.append(event_id)

        def answered(token: str) -> None:
            status, body, event_id = ask(token)
            assert status == 200, body
            assert json.loads(body) == {"answer": event_id}

        refused_ids: list[str] = []
        asker, outsider = token("rr-oidc", "asker"), token("rr-elsewhere", "outsider")
        # no EventPolicy on the Broker: allow-same-namespace refuses another namespace's
        refused_by_the_broker(outsider, "allow-same-namespace")
        answered(asker)

        # an EventPolicy on the Broker naming one sender: the others are refused, even of
        # the Broker's namespace
        bystander = token("rr-oidc", "bystander")
        kubectl.ok("apply", "-f", "-", stdin=FRONTED_POLICY)
        wait_until(
            lambda: (
                [
                    p["name"]
                    for p in kubectl.json("get", "broker", "fronted", "-n", "rr-oidc")
                    .get("status", {})
                    .get("policies", [])
                ]
                == ["only-asker"]
            ),
            30,
            "the broker never listed its EventPolicy",
        )
        refused_by_the_broker(bystander, "system:serviceaccount:rr-oidc:bystander")
        answered(asker)
        assert not responder.events(lambda r: r.ce("id") in refused_ids)
    finally:
        for ref in ("requestreply/ask", "eventpolicy/anyone-asks", "eventpolicy/only-asker"):
            kubectl.run("delete", ref, "-n", "rr-oidc", "--ignore-not-found")
        kubectl.run("delete", "broker", "fronted", "-n", "rr-oidc", "--ignore-not-found")
        set_oidc(kubectl, "disabled")
        responder.close()
