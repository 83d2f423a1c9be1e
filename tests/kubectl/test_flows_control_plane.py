"""Sequence and Parallel through ``kubectl`` against the package's kawa: the manifests of
Knative's flow examples (a three-step Sequence replying to event-display; the odd/even
Parallel) applied as YAML make their channels and Subscriptions, named and owned as Knative's
controllers make them; ``kubectl delete`` of the flow takes them all (kawa's garbage
collector); specs Knative refuses are refused with the field path. Events do not flow here:
that needs the channel data plane (the end-to-end tests)."""

from __future__ import annotations

from typing import Any

import pytest

from ..waiting import wait_until
from .knative_flow_docs import PARALLEL_YAML, SEQUENCE_YAML
from .kubectl_support import Kubectl

pytestmark = pytest.mark.slow


def names(kubectl: Kubectl, resource: str, namespace: str) -> list[str]:
    listed = kubectl.json("get", resource, "-n", namespace)
    return sorted(item["metadata"]["name"] for item in listed["items"])


def items(kubectl: Kubectl, resource: str, namespace: str) -> dict[str, Any]:
    listed = kubectl.json("get", resource, "-n", namespace)
    return {item["metadata"]["name"]: item for item in listed["items"]}


def until_names(kubectl: Kubectl, resource: str, namespace: str, expected: list[str]) -> None:
    wait_until(
        lambda: names(kubectl, resource, namespace) == sorted(expected),
        30,
        f"{resource} in {namespace} never exactly {expected}",
    )


def owned_by(obj: dict[str, Any], kind: str, name: str, uid: str) -> bool:
    refs = obj["metadata"].get("ownerReferences") or []
    return [(r["kind"], r["name"], r["uid"], r.get("controller")) for r in refs] == [
        (kind, name, uid, True)
    ]


def test_a_sequence_makes_its_channels_and_subscriptions_and_takes_them_away(
    kubectl: Kubectl,
) -> None:
    ns = "flows-sequence"
    kubectl.ok("create", "namespace", ns)
    assert "sequence.flows.knative.dev/sequence created" in kubectl.ok(
        "apply", "-n", ns, "-f", "-", stdin=SEQUENCE_YAML
    )
    uid = kubectl.ok("get", "sequence", "sequence", "-n", ns, "-o", "jsonpath={.metadata.uid}")
    wanted = [f"sequence-kn-sequence-{i}" for i in range(3)]
    until_names(kubectl, "inmemorychannels", ns, wanted)
    until_names(kubectl, "subscriptions", ns, wanted)

    channels = items(kubectl, "inmemorychannels", ns)
    subs = items(kubectl, "subscriptions", ns)
    for obj in (*channels.values(), *subs.values()):
        assert owned_by(obj, "Sequence", "sequence", uid), obj["metadata"]
    assert subs["sequence-kn-sequence-0"]["spec"]["channel"]["name"] == "sequence-kn-sequence-0"
    assert subs["sequence-kn-sequence-0"]["spec"]["subscriber"]["ref"]["name"] == "first"
    assert subs["sequence-kn-sequence-0"]["spec"]["reply"]["ref"] == {
        "apiVersion": "messaging.knative.dev/v1",
        "kind": "InMemoryChannel",
        "name": "sequence-kn-sequence-1",
        "namespace": ns,
    }
    assert subs["sequence-kn-sequence-2"]["spec"]["reply"]["ref"]["name"] == "event-display"

    def reported() -> dict[str, Any] | None:
        seq: dict[str, Any] = kubectl.json("get", "sequence", "sequence", "-n", ns)
        statuses = seq.get("status", {}).get("channelStatuses") or []
        return seq if len(statuses) == 3 else None

    seq = wait_until(reported, 30, "the Sequence never reported its channels")
    types = {c["type"] for c in seq["status"]["conditions"]}
    assert types == {
        "Addressable",
        "ChannelsReady",
        "SubscriptionsReady",
        "EventPoliciesReady",
        "Ready",
    }
    described = kubectl.ok("describe", "sequence", "sequence", "-n", ns)
    assert "ChannelsReady" in described

    assert 'sequence.flows.knative.dev "sequence" deleted' in kubectl.ok(
        "delete", "sequence", "sequence", "-n", ns
    )
    until_names(kubectl, "inmemorychannels", ns, [])
    until_names(kubectl, "subscriptions", ns, [])


def test_a_parallel_makes_its_channels_and_subscriptions_and_takes_them_away(
    kubectl: Kubectl,
) -> None:
    ns = "flows-parallel"
    kubectl.ok("create", "namespace", ns)
    kubectl.ok("apply", "-n", ns, "-f", "-", stdin=PARALLEL_YAML)
    uid = kubectl.ok(
        "get", "parallel", "odd-even-parallel", "-n", ns, "-o", "jsonpath={.metadata.uid}"
    )
    prefix = "odd-even-parallel-kn-parallel"
    until_names(kubectl, "inmemorychannels", ns, [prefix, f"{prefix}-0", f"{prefix}-1"])
    until_names(
        kubectl,
        "subscriptions",
        ns,
        [f"{prefix}-0", f"{prefix}-1", f"{prefix}-filter-0", f"{prefix}-filter-1"],
    )
    subs = items(kubectl, "subscriptions", ns)
    for obj in (*items(kubectl, "inmemorychannels", ns).values(), *subs.values()):
        assert owned_by(obj, "Parallel", "odd-even-parallel", uid), obj["metadata"]
    odd_filter = subs[f"{prefix}-filter-1"]["spec"]
    assert odd_filter["channel"]["name"] == prefix
    assert odd_filter["subscriber"]["ref"]["name"] == "odd-filter"
    assert odd_filter["reply"]["ref"]["name"] == f"{prefix}-1"
    odd = subs[f"{prefix}-1"]["spec"]
    assert odd["channel"]["name"] == f"{prefix}-1"
    assert odd["subscriber"]["ref"]["name"] == "odd-transformer"
    assert odd["reply"]["ref"]["name"] == "event-display"

    kubectl.ok("delete", "parallel", "odd-even-parallel", "-n", ns)
    until_names(kubectl, "inmemorychannels", ns, [])
    until_names(kubectl, "subscriptions", ns, [])


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ("steps: []", "spec.steps"),
        ("steps: [{}]", "spec.steps[0]"),
        ("steps: [{uri: not-a-url}]", "spec.steps[0].uri"),
    ],
)
def test_bad_sequences_are_refused_with_the_field(kubectl: Kubectl, spec: str, path: str) -> None:
    manifest = (
        "apiVersion: flows.knative.dev/v1\nkind: Sequence\nmetadata:\n  name: bad\n"
        f"spec:\n  {spec}\n"
    )
    refused = kubectl.fails("apply", "-f", "-", stdin=manifest)
    assert path in refused.stderr, refused.explain()
    assert "Traceback" not in refused.stderr


def test_a_parallel_branch_without_subscriber_is_refused(kubectl: Kubectl) -> None:
    manifest = (
        "apiVersion: flows.knative.dev/v1\nkind: Parallel\nmetadata:\n  name: bad\n"
        "spec:\n  branches:\n  - filter: {uri: 'http://example.com/'}\n"
    )
    refused = kubectl.fails("apply", "-f", "-", stdin=manifest)
    assert "spec.branches[0].subscriber" in refused.stderr, refused.explain()
