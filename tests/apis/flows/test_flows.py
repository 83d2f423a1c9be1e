from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kawa.apis import flows
from kawa.apis.conditions import get_condition
from kawa.apis.duck import DeliverySpec, Destination, KReference
from kawa.apis.flows import parallel, sequence
from kawa.apis.kinds import ResourceKind

from ..helpers import field_errors, status_errors

V1 = "flows.knative.dev/v1"
SVC = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "s"}


def obj(kind: str, spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": V1,
        "kind": kind,
        "metadata": {"name": "f", "namespace": "ns"},
        "spec": spec,
    }


def test_sequence() -> None:
    seq = sequence.parse_sequence(
        obj(
            "Sequence",
            {
                "steps": [{"ref": SVC}, {"uri": "http://b/", "delivery": {"retry": 3}}],
                "reply": {"ref": SVC},
            },
        )
    )
    assert seq.spec.steps[0].ref == KReference(
        api_version="serving.knative.dev/v1", kind="Service", name="s", namespace="ns"
    )
    assert seq.spec.steps[1].delivery == DeliverySpec(retry=3)
    assert seq.spec.channel_template.kind == "InMemoryChannel"
    defaulted = flows.SEQUENCE.default(obj("Sequence", {"steps": [{"ref": SVC}]}))
    assert defaulted["spec"]["steps"][0]["ref"]["namespace"] == "ns"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"steps": []}, {"spec.steps": "required field is missing (a non-empty list)"}),
        ({"steps": [{}]}, {"spec.steps[0]": "expected at least one of ref or uri, got neither"}),
        (
            {"steps": [{"uri": "http://a/", "extra": 1}]},
            {
                "spec.steps[0].extra": (
                    "unknown field; expected one of ref, uri, audience, CACerts, delivery"
                )
            },
        ),
        (
            {"steps": [{"uri": "rel"}]},
            {
                "spec.steps[0].uri": "must be an absolute URL (scheme and host) when there is no ref, got 'rel'",  # noqa: E501
            },
        ),
        (
            {"steps": [{"uri": "http://a/"}], "channelTemplate": {"apiVersion": "x/v1"}},
            {"spec.channelTemplate.kind": "required field is missing"},
        ),
    ],
)
def test_invalid_sequences(spec: Any, expected: dict[str, str]) -> None:
    assert field_errors(lambda: sequence.parse_sequence(obj("Sequence", spec))) == expected


def test_parallel() -> None:
    par = parallel.parse_parallel(
        obj(
            "Parallel",
            {
                "branches": [
                    {"filter": {"uri": "http://f/"}, "subscriber": {"ref": SVC}},
                    {"subscriber": {"uri": "http://s/"}, "reply": {"uri": "http://r/"}},
                ]
            },
        )
    )
    assert par.spec.branches[0].filter == Destination(uri="http://f/")
    assert par.spec.branches[1].reply == Destination(uri="http://r/")
    assert par.spec.branches[0].subscriber.ref is not None
    assert par.spec.branches[0].subscriber.ref.namespace == "ns"
    errors = field_errors(
        lambda: parallel.parse_parallel(
            obj("Parallel", {"branches": [{"filter": {"uri": "http://f/"}}]})
        )
    )
    assert errors == {"spec.branches[0].subscriber": "required field is missing"}
    assert field_errors(lambda: parallel.parse_parallel(obj("Parallel", None))) == {
        "spec.branches": "required field is missing"
    }


def test_parallel_defaults_every_ref_namespace_and_the_channel_template() -> None:
    ref = {"ref": SVC}
    branch = {"filter": ref, "subscriber": ref, "reply": ref, "delivery": {"deadLetterSink": ref}}
    out = flows.PARALLEL.default(obj("Parallel", {"branches": [branch], "reply": ref}))
    spec = out["spec"]
    assert spec["channelTemplate"] == {
        "apiVersion": "messaging.knative.dev/v1",
        "kind": "InMemoryChannel",
    }
    assert spec["reply"]["ref"]["namespace"] == "ns"
    got = spec["branches"][0]
    assert [got[k]["ref"]["namespace"] for k in ("filter", "subscriber", "reply")] == ["ns"] * 3
    assert got["delivery"]["deadLetterSink"]["ref"]["namespace"] == "ns"
    assert field_errors(lambda: sequence.parse_sequence(obj("Sequence", None))) == {
        "spec.steps": "required field is missing"
    }


@pytest.mark.parametrize("kind", flows.KINDS, ids=lambda rk: rk.kind)
def test_status_schemas_take_full_ready_conditions(kind: ResourceKind) -> None:
    ready = {
        "type": "Ready",
        "status": "True",
        "lastTransitionTime": "2026-12-04T10:00:00Z",
        "severity": "",
    }
    channel = {"channel": {**SVC, "namespace": "ns"}, "ready": ready}
    subscription = {"subscription": {**SVC, "namespace": "ns"}, "ready": ready}
    status: dict[str, Any] = {"address": {"url": "http://f.ns/"}}
    if kind is flows.SEQUENCE:
        status |= {"channelStatuses": [channel], "subscriptionStatuses": [subscription]}
    else:
        status |= {
            "ingressChannelStatus": channel,
            "branchStatuses": [
                {
                    "filterChannelStatus": channel,
                    "filterSubscriptionStatus": subscription,
                    "subscriberSubscriptionStatus": subscription,
                }
            ],
        }
    assert status_errors(kind, status) == []
    ready["lastTransitionTime"] = "yesterday"
    assert status_errors(kind, status) != []


def _clock() -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC)


def _child(kind: str, name: str, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "messaging.knative.dev/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "ns"},
        "status": status,
    }


def _cond(status: dict[str, Any], type_: str) -> tuple[str, str, str]:
    found = get_condition(status, type_)
    assert found is not None
    return (found.status, found.reason, found.message)


def test_sequence_lifecycle_waits_for_every_child_and_says_which() -> None:
    ok = {"type": "Ready", "status": "True"}
    failed = {"type": "Ready", "status": "False", "reason": "Bad", "message": "why"}
    url = {"url": "http://c0/"}
    status: dict[str, Any] = {}
    sequence.SEQUENCE_CONDITIONS.initialize(status, clock=_clock)
    channels = [
        _child("InMemoryChannel", "c0", conditions=[ok], address=url),
        _child("InMemoryChannel", "c1", conditions=[failed]),
        _child("InMemoryChannel", "c2"),
    ]
    sequence.propagate_channel_statuses(status, channels, clock=_clock)
    assert _cond(status, "ChannelsReady") == (
        "Unknown",
        "ChannelsNotReady",
        'Channels are not ready yet: InMemoryChannel "c1": Bad: why (and 1 more)',
    )
    assert status["address"] == url
    assert _cond(status, "Addressable")[0] == "True"
    assert status["channelStatuses"][2]["ready"]["reason"] == "NoReady"
    sequence.propagate_channel_statuses(status, channels[:1], clock=_clock)
    assert _cond(status, "ChannelsReady")[0] == "True"
    sequence.propagate_subscription_statuses(
        status, [_child("Subscription", "s0", conditions=[ok])], clock=_clock
    )
    assert _cond(status, "Ready")[0] == "Unknown"  # until its EventPolicies are known
    sequence.SEQUENCE_CONDITIONS.mark_true(status, "EventPoliciesReady", clock=_clock)
    assert _cond(status, "Ready")[0] == "True"


def test_parallel_lifecycle_counts_addresses_and_is_false_until_ready() -> None:
    status: dict[str, Any] = {}
    parallel.PARALLEL_CONDITIONS.initialize(status, clock=_clock)
    ingress = _child("InMemoryChannel", "p-kn-parallel", address={"url": "http://in/"})
    branch = _child("InMemoryChannel", "p-kn-parallel-0")
    parallel.propagate_channel_statuses(status, ingress, [branch], clock=_clock)
    assert _cond(status, "ChannelsReady")[:2] == ("False", "ChannelsNotReady")
    assert 'InMemoryChannel "p-kn-parallel-0": NotAddressable' in _cond(status, "ChannelsReady")[2]
    assert status["address"] == {"url": "http://in/"}
    ok = {"type": "Ready", "status": "True"}
    subs = [_child("Subscription", "f0", conditions=[ok]), _child("Subscription", "s0")]
    parallel.propagate_subscription_statuses(status, subs[:1], subs[1:], clock=_clock)
    assert _cond(status, "SubscriptionsReady")[:2] == ("False", "SubscriptionsNotReady")
    (got,) = status["branchStatuses"]
    assert set(got) == {
        "filterChannelStatus",
        "filterSubscriptionStatus",
        "subscriberSubscriptionStatus",
    }
    assert status_errors(flows.PARALLEL, status) == []
