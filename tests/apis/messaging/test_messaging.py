from __future__ import annotations

from typing import Any

import pytest

from kawa.apis import messaging
from kawa.apis.duck import Destination, KReference
from kawa.apis.kinds import ResourceKind
from kawa.apis.messaging import channel, inmemorychannel, subscription
from kawa.apiserver.tables import json_path

from ..helpers import FakeClock, field_errors, status_errors

V1 = "messaging.knative.dev/v1"
CH_REF = {"apiVersion": V1, "kind": "Channel", "name": "ch"}


def obj(kind: str, spec: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "apiVersion": V1,
        "kind": kind,
        "metadata": {"name": "x", "namespace": "ns"},
    }
    if spec is not None:
        out["spec"] = spec
    return out


def test_channel_defaults_to_in_memory_when_parsed_but_stores_no_template() -> None:
    """The stored template is the default-ch-webhook's, filled in as the Channel is stored
    (kawa.controllers.messaging.defaults); admission's defaults leave it out."""
    raw = obj("Channel", None)
    assert "channelTemplate" not in messaging.CHANNEL.default(raw).get("spec", {})
    assert "channelTemplate" not in messaging.CHANNEL.default(obj("Channel", {}))["spec"]
    ch = channel.parse_channel(raw)
    template = ch.spec.channel_template
    assert (template.api_version, template.kind) == (V1, "InMemoryChannel")
    assert ch.key == "ns/x"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"channelTemplate": {"kind": "KafkaChannel"}},
            {"spec.channelTemplate.apiVersion": "required field is missing"},
        ),
        (
            {"subscribers": [{"subscriberUri": "http://a/"}]},
            {"spec.subscribers": "must not be set on a Channel: create Subscriptions to subscribe"},
        ),
        (
            {"bogus": 1},
            {"spec.bogus": "unknown field; expected one of channelTemplate, subscribers, delivery"},
        ),
        (
            {"delivery": {"retry": -1}},
            {"spec.delivery.retry": "invalid value -1: must be greater than or equal to 0"},
        ),
    ],
)
def test_invalid_channels(spec: dict[str, Any], expected: dict[str, str]) -> None:
    assert field_errors(lambda: channel.parse_channel(obj("Channel", spec))) == expected


def test_channel_template_is_immutable() -> None:
    old = obj("Channel", None)
    messaging.CHANNEL.validate_update(old, messaging.CHANNEL.default(old))
    new = obj("Channel", {"channelTemplate": {"apiVersion": "x/v1", "kind": "KafkaChannel"}})
    assert list(field_errors(lambda: messaging.CHANNEL.validate_update(old, new))) == [
        "spec.channelTemplate"
    ]


def test_channel_status() -> None:
    status: dict[str, Any] = {}
    ref = KReference(api_version=V1, kind="InMemoryChannel", name="x", namespace="ns")
    channel.mark_backing_channel(status, ref, True, "http://x.ns/", clock=FakeClock())
    channel.CHANNEL_CONDITIONS.mark_true(
        status, channel.DEAD_LETTER_SINK_RESOLVED, clock=FakeClock()
    )
    assert not channel.CHANNEL_CONDITIONS.is_ready(status)  # its EventPolicies are not known
    channel.CHANNEL_CONDITIONS.mark_true(status, channel.EVENT_POLICIES_READY, clock=FakeClock())
    assert channel.CHANNEL_CONDITIONS.is_ready(status)
    assert status["channel"]["kind"] == "InMemoryChannel"
    row = obj("Channel", None) | {"status": status}
    assert (
        next(json_path(row, c.json_path) for c in messaging.CHANNEL.printer_columns)
        == "http://x.ns/"
    )


def test_in_memory_channel_subscribers() -> None:
    imc = inmemorychannel.parse_inmemorychannel(
        obj(
            "InMemoryChannel",
            {"subscribers": [{"uid": "u", "generation": 2, "subscriberUri": "http://s/"}]},
        )
    )
    assert imc.spec.subscribers[0].subscriber_uri == "http://s/"
    assert imc.spec.subscribers[0].generation == 2
    errors = field_errors(
        lambda: inmemorychannel.parse_inmemorychannel(
            obj("InMemoryChannel", {"subscribers": [{"uid": "u"}, {"replyUri": "relative"}]})
        )
    )
    assert errors == {
        "spec.subscribers[0]": "expected at least one of subscriberUri or replyUri, got neither",
        "spec.subscribers[1].replyUri": "expected an absolute URL, got 'relative'",
    }


def test_subscription() -> None:
    sub = subscription.parse_subscription(
        obj(
            "Subscription",
            {
                "channel": CH_REF,
                "subscriber": {"ref": {"apiVersion": "v1", "kind": "Service", "name": "s"}},
            },
        )
    )
    assert sub.spec.channel == KReference(api_version=V1, kind="Channel", name="ch", namespace="ns")
    assert sub.spec.subscriber == Destination(
        ref=KReference(api_version="v1", kind="Service", name="s", namespace="ns")
    )
    assert sub.spec.reply is None


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"subscriber": {"uri": "http://a/"}}, {"spec.channel": "required field is missing"}),
        (
            {"channel": CH_REF},
            {"spec": "expected at least one of subscriber or reply, got neither"},
        ),
        (
            {"channel": {"kind": "Channel", "name": "c"}, "reply": {"uri": "http://a/"}},
            {"spec.channel.apiVersion": "required field is missing"},
        ),
        (
            {"channel": {**CH_REF, "namespace": "other"}, "reply": {"uri": "http://a/"}},
            {"spec.channel.namespace": "must be empty or the Subscription's namespace 'ns'"},
        ),
    ],
)
def test_invalid_subscriptions(spec: dict[str, Any], expected: dict[str, str]) -> None:
    assert (
        field_errors(lambda: subscription.parse_subscription(obj("Subscription", spec))) == expected
    )


def test_subscription_channel_is_immutable_and_status() -> None:
    old = obj("Subscription", {"channel": CH_REF, "reply": {"uri": "http://a/"}})
    same = obj(
        "Subscription", {"channel": {**CH_REF, "namespace": "ns"}, "reply": {"uri": "http://b/"}}
    )
    messaging.SUBSCRIPTION.validate_update(old, same)
    moved = obj(
        "Subscription", {"channel": {**CH_REF, "name": "other"}, "reply": {"uri": "http://a/"}}
    )
    assert list(field_errors(lambda: messaging.SUBSCRIPTION.validate_update(old, moved))) == [
        "spec.channel"
    ]
    status: dict[str, Any] = {}
    clock = FakeClock()
    subscription.mark_references_resolved(
        status, subscriber_uri="http://s/", reply_uri=None, dead_letter_sink_uri=None, clock=clock
    )
    subscription.mark_added_to_channel(status, clock=clock)
    assert not subscription.SUBSCRIPTION_CONDITIONS.is_ready(status)
    subscription.mark_channel_ready(status, True, clock=clock)
    assert not subscription.SUBSCRIPTION_CONDITIONS.is_ready(status)  # its OIDC identity too
    subscription.mark_oidc_identity(status, None, clock=clock)
    assert subscription.SUBSCRIPTION_CONDITIONS.is_ready(status)
    assert status["physicalSubscription"] == {"subscriberUri": "http://s/"}
    assert {c["type"] for c in status["conditions"]} == {
        "AddedToChannel",
        "ChannelReady",
        "OIDCIdentityCreated",
        "Ready",
        "ReferencesResolved",
    }


def test_channel_template_spec_is_kept_and_refs_default_to_the_namespace() -> None:
    template = {"apiVersion": "x/v1", "kind": "KafkaChannel", "spec": {"numPartitions": 3}}
    dls = {"ref": {"apiVersion": "v1", "kind": "Service", "name": "dls"}}
    ch = channel.parse_channel(
        obj("Channel", {"channelTemplate": template, "delivery": {"deadLetterSink": dls}})
    )
    assert ch.spec.channel_template.to_dict() == template
    assert ch.spec.delivery is not None
    assert ch.spec.delivery.dead_letter_sink is not None
    assert ch.spec.delivery.dead_letter_sink.ref is not None
    assert ch.spec.delivery.dead_letter_sink.ref.namespace == "ns"
    imc = messaging.INMEMORYCHANNEL.default(
        obj(
            "InMemoryChannel",
            {"subscribers": [{"subscriberUri": "http://s/", "delivery": {"deadLetterSink": dls}}]},
        )
    )
    assert imc["spec"]["subscribers"][0]["delivery"]["deadLetterSink"]["ref"]["namespace"] == "ns"


def test_subscription_needs_a_spec_and_keeps_its_channel() -> None:
    assert field_errors(lambda: subscription.parse_subscription(obj("Subscription", None))) == {
        "spec": "required field is missing"
    }
    old = obj("Subscription", {"channel": CH_REF, "reply": {"uri": "http://a/"}})
    moved = obj(
        "Subscription",
        {"channel": {**CH_REF, "kind": "InMemoryChannel"}, "reply": {"uri": "http://a/"}},
    )
    message = field_errors(lambda: messaging.SUBSCRIPTION.validate_update(old, moved))
    assert message["spec.channel"].endswith(
        "; delete and recreate the Subscription to move it to another channel"
    )


@pytest.mark.parametrize("kind", messaging.KINDS, ids=lambda rk: rk.kind)
def test_status_schemas_accept_what_the_controllers_write(kind: ResourceKind) -> None:
    clock = FakeClock()
    status: dict[str, Any] = {"observedGeneration": 2}
    ref = KReference(api_version=V1, kind="InMemoryChannel", name="x", namespace="ns")
    if kind is messaging.SUBSCRIPTION:
        subscription.mark_references_resolved(
            status,
            subscriber_uri="http://s/",
            reply_uri=None,
            dead_letter_sink_uri=None,
            clock=clock,
        )
    else:
        channel.mark_backing_channel(status, ref, None, "http://x.ns/", clock=clock)
        status["subscribers"] = [{"uid": "u", "observedGeneration": 1, "ready": "True"}]
        status["deadLetterSinkUri"] = "http://dls/"
        if kind is not messaging.CHANNEL:
            del status["channel"]
    assert status_errors(kind, status) == []
    assert [e.path for e in status_errors(kind, {"bogus": 1})] == ["status.bogus"]
