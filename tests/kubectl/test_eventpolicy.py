"""EventPolicy through the real kubectl: a bad spec is refused with Knative's field paths, a
good one is listed by ``kubectl get eventpolicies`` with Knative's columns (not Ready while
authentication-oidc is off, saying so), and the Broker it names stays Ready (no policy is
enforced without OIDC)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ..waiting import wait_until
from .kubectl_support import Kubectl, condition, header, to_yaml

pytestmark = pytest.mark.slow


def policy(namespace: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "eventing.knative.dev/v1alpha1",
        "kind": "EventPolicy",
        "metadata": {"name": "orders", "namespace": namespace},
        "spec": spec,
    }


def test_kubectl_applies_and_lists_eventpolicies(
    kubectl: Kubectl, namespaces: Callable[..., str]
) -> None:
    ns = namespaces("policies")
    bad = kubectl.fails(
        "apply", "-f", "-", stdin=to_yaml(policy(ns, **{"from": [{}, {"sub": "a*b"}]}))
    )
    assert "spec.from[0]: expected exactly one of ref or sub, got neither" in bad.stderr
    assert "spec.from[1].sub" in bad.stderr
    assert "'*' is only allowed as the last character" in bad.stderr

    broker = {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Broker",
        "metadata": {"name": "default", "namespace": ns},
    }
    good = policy(
        ns,
        to=[
            {"ref": {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "default"}}
        ],
        **{"from": [{"sub": f"system:serviceaccount:{ns}:*"}]},
        filters=[{"prefix": {"type": "com.example."}}],
    )
    assert "created" in kubectl.apply([broker, good])

    def listed() -> str | None:
        table = kubectl.ok("get", "eventpolicies", "-n", ns)
        return table if "AuthOIDCFeatureNotEnabled" in table else None

    table = wait_until(listed, 30, "the EventPolicy was never reconciled")
    assert header(table) == ["NAME", "READY", "REASON"]
    assert table.splitlines()[1].split() == ["orders", "False", "AuthOIDCFeatureNotEnabled"]

    def broker_ready() -> dict[str, Any] | None:
        obj: dict[str, Any] = kubectl.json("get", "broker", "default", "-n", ns)
        ready = condition(obj)
        return obj if ready is not None and ready["status"] == "True" else None

    obj = wait_until(broker_ready, 30, "the Broker never turned Ready")
    policies_ready = condition(obj, "EventPoliciesReady")
    assert policies_ready is not None
    assert policies_ready["reason"] == "OIDCDisabled"
