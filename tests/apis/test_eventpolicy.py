"""EventPolicy (eventing.knative.dev/v1alpha1): admission with Kubernetes' field paths, the
defaults Knative writes, the schema kubectl sees, which receivers a policy applies to, and the
receivers' ``status.policies`` / ``EventPoliciesReady``."""

from __future__ import annotations

from typing import Any

import pytest

from kawa.apis import features
from kawa.apis.conditions import ConditionSet, get_condition
from kawa.apis.eventing import broker, eventpolicy
from kawa.apis.registry import SCHEME
from kawa.errors import ValidationError

from .helpers import FakeClock

BROKER_V1 = "eventing.knative.dev/v1"


def policy(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "eventing.knative.dev/v1alpha1",
        "kind": "EventPolicy",
        "metadata": {"name": "p", "namespace": "team"},
        "spec": spec,
    }


def errors_of(obj: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        SCHEME.validate(SCHEME.default(obj))
    return {e.path: e.message for e in caught.value.errors}


def test_the_kind_is_served_as_knatives() -> None:
    rk = SCHEME.resolve("eventpolicies")
    assert rk is SCHEME.resolve("EventPolicy") is SCHEME.resolve("eventpolicy")
    assert rk.api_versions == ("eventing.knative.dev/v1alpha1",)
    assert rk.namespaced
    assert [c.name for c in rk.printer_columns] == ["Ready", "Reason"]
    assert set(rk.categories) == {"all", "knative", "eventing"}
    spec = rk.schema["properties"]["spec"]["properties"]
    assert set(spec) == {"to", "from", "filters"}
    assert set(rk.schema["properties"]["status"]["properties"]) >= {"from", "conditions"}


def test_a_full_policy_is_admitted_and_from_refs_default_to_its_namespace() -> None:
    obj = policy(
        to=[
            {"ref": {"apiVersion": BROKER_V1, "kind": "Broker", "name": "b"}},
            {
                "selector": {
                    "apiVersion": "messaging.knative.dev/v1",
                    "kind": "InMemoryChannel",
                    "matchLabels": {"tier": "gold"},
                    "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}],
                }
            },
        ],
        **{
            "from": [
                {"ref": {"apiVersion": BROKER_V1, "kind": "Trigger", "name": "t"}},
                {
                    "ref": {
                        "apiVersion": BROKER_V1,
                        "kind": "Trigger",
                        "name": "u",
                        "namespace": "x",
                    }
                },
                {"sub": "system:serviceaccount:team:*"},
                {"sub": "*"},
            ]
        },
        filters=[{"prefix": {"type": "com.example."}}, {"cesql": "source LIKE 'x%'"}],
    )
    stored = SCHEME.default(obj)
    assert [f.get("ref", {}).get("namespace") for f in stored["spec"]["from"]] == [
        "team",
        "x",
        None,
        None,
    ]
    parsed = eventpolicy.parse_eventpolicy(stored)
    assert parsed.spec.from_[2].sub == "system:serviceaccount:team:*"
    assert len(parsed.spec.filters) == 2


def test_bad_specs_are_refused_with_their_field_paths() -> None:
    errors = errors_of(
        policy(
            to=[
                {},
                {
                    "ref": {"apiVersion": BROKER_V1, "kind": "Broker", "name": "b"},
                    "selector": {"apiVersion": BROKER_V1, "kind": "Broker"},
                },
                {"ref": {"kind": "Broker"}},
            ],
            **{
                "from": [
                    {},
                    {"sub": "a", "ref": {"apiVersion": "v1", "kind": "K", "name": "n"}},
                    {"sub": "system:*:team"},
                    {"sub": ""},
                    {"ref": {"apiVersion": BROKER_V1, "name": "t"}},
                ]
            },
            filters=[{"exact": {"type": "a"}, "prefix": {"type": "b"}}, {"cesql": "type ="}],
        )
    )
    assert errors["spec.to[0]"] == "expected exactly one of ref or selector, got neither"
    assert errors["spec.to[1]"] == "expected exactly one of ref or selector, got both"
    assert "spec.to[2].ref.name" in errors
    assert "spec.to[2].ref.apiVersion" in errors
    assert errors["spec.from[0]"] == "expected exactly one of ref or sub, got neither"
    assert errors["spec.from[1]"] == "expected exactly one of ref or sub, got both"
    assert "'*' is only allowed as the last character" in errors["spec.from[2].sub"]
    assert errors["spec.from[3]"] == "expected exactly one of ref or sub, got neither"
    assert "spec.from[4].ref.kind" in errors
    assert "multiple dialects" in errors["spec.filters[0]"]
    assert "invalid CloudEvents SQL expression" in errors["spec.filters[1].cesql"]


def test_unknown_fields_and_wrong_types_are_refused() -> None:
    errors = errors_of(policy(**{"from": [{"subject": "x"}], "to": "b"}))
    assert "spec.from[0].subject" in errors
    assert "spec.to" in errors


def test_a_star_alone_or_last_is_a_valid_subject() -> None:
    for sub in ("*", "a*", "system:serviceaccount:team:*"):
        SCHEME.validate(SCHEME.default(policy(**{"from": [{"sub": sub}]})))


def parsed(**spec: Any) -> eventpolicy.EventPolicy:
    return eventpolicy.parse_eventpolicy(policy(**spec))


def test_an_empty_to_applies_to_every_receiver_of_the_namespace() -> None:
    p = parsed()
    assert eventpolicy.applies_to(p, BROKER_V1, "Broker", "any", {})
    assert eventpolicy.applies_to(p, "messaging.knative.dev/v1", "InMemoryChannel", "c", {})


def test_a_ref_applies_to_its_group_kind_and_name_in_any_version() -> None:
    p = parsed(
        to=[{"ref": {"apiVersion": "eventing.knative.dev/v1alpha1", "kind": "broker", "name": "B"}}]
    )
    assert eventpolicy.applies_to(p, BROKER_V1, "Broker", "b", {})
    assert not eventpolicy.applies_to(p, BROKER_V1, "Broker", "other", {})
    assert not eventpolicy.applies_to(p, BROKER_V1, "Trigger", "b", {})
    assert not eventpolicy.applies_to(p, "messaging.knative.dev/v1", "Broker", "b", {})


def test_a_selector_applies_to_its_kind_with_matching_labels() -> None:
    p = parsed(
        to=[
            {
                "selector": {
                    "apiVersion": "messaging.knative.dev/v1",
                    "kind": "InMemoryChannel",
                    "matchLabels": {"tier": "gold"},
                    "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["dev"]}],
                }
            }
        ]
    )
    imc = ("messaging.knative.dev/v1", "InMemoryChannel", "c")
    assert eventpolicy.applies_to(p, *imc, {"tier": "gold"})
    assert eventpolicy.applies_to(p, *imc, {"tier": "gold", "env": "prod"})
    assert not eventpolicy.applies_to(p, *imc, {"tier": "gold", "env": "dev"})
    assert not eventpolicy.applies_to(p, *imc, {"tier": "silver"})
    assert not eventpolicy.applies_to(p, BROKER_V1, "Broker", "c", {"tier": "gold"})


SET = broker.BROKER_CONDITIONS
ON = features.from_data({"authentication-oidc": "enabled"})
DENY = features.from_data(
    {"authentication-oidc": "enabled", "default-authorization-mode": "deny-all"}
)
OFF = features.DEFAULTS


def marked(applying: list[tuple[str, bool]], flags: features.Features) -> dict[str, Any]:
    status: dict[str, Any] = {}
    SET.initialize(status, clock=FakeClock())
    eventpolicy.mark_event_policies(SET, status, applying, flags, clock=FakeClock())
    return status


def test_a_receiver_lists_its_ready_policies_and_is_ready_only_when_all_are() -> None:
    status = marked([("b", True), ("a", True)], ON)
    assert status["policies"] == [
        {"apiVersion": "eventing.knative.dev/v1alpha1", "name": "a"},
        {"apiVersion": "eventing.knative.dev/v1alpha1", "name": "b"},
    ]
    ready = get_condition(status, "EventPoliciesReady")
    assert ready is not None
    assert ready.is_true
    assert not ready.reason

    status = marked([("a", True), ("z", False), ("y", False)], ON)
    assert status["policies"] == [{"apiVersion": "eventing.knative.dev/v1alpha1", "name": "a"}]
    ready = get_condition(status, "EventPoliciesReady")
    assert ready is not None
    assert ready.is_false
    assert (ready.reason, ready.message) == (
        "EventPoliciesNotReady",
        "event policies y, z are not ready",
    )
    summary = get_condition(status, "Ready")
    assert summary is not None
    assert summary.is_false


def test_without_policies_the_default_mode_is_named() -> None:
    for flags, mode in ((ON, "allow-same-namespace"), (DENY, "deny-all")):
        status = marked([], flags)
        assert "policies" not in status
        ready = get_condition(status, "EventPoliciesReady")
        assert ready is not None
        assert ready.is_true
        assert (ready.reason, ready.message) == (
            "DefaultAuthorizationMode",
            f'Default authz mode is "{mode}"',
        )


def test_with_oidc_off_no_policy_is_enforced() -> None:
    status = marked([("a", True), ("b", False)], OFF)
    assert "policies" not in status
    ready = get_condition(status, "EventPoliciesReady")
    assert ready is not None
    assert ready.is_true
    assert ready.reason == "OIDCDisabled"
    assert "authentication-oidc" in ready.message


def test_a_policys_conditions() -> None:
    clock = FakeClock()
    status: dict[str, Any] = {}
    conditions: ConditionSet = eventpolicy.EVENTPOLICY_CONDITIONS
    conditions.initialize(status, clock=clock)
    eventpolicy.mark_authentication(status, False, clock=clock)
    off = get_condition(status, "AuthenticationEnabled")
    assert off is not None
    assert off.is_false
    assert off.reason == "AuthOIDCFeatureNotEnabled"
    assert not conditions.is_ready(status)
    eventpolicy.mark_authentication(status, True, clock=clock)
    eventpolicy.mark_subjects_not_resolved(
        status, "from[0].ref: Trigger team/t does not exist", clock=clock
    )
    assert "from" not in status
    assert not conditions.is_ready(status)
    eventpolicy.mark_subjects_resolved(status, ["a", "b*"], clock=clock)
    assert status["from"] == ["a", "b*"]
    assert conditions.is_ready(status)
    assert eventpolicy.subjects_of({"status": status}) == ("a", "b*")
    assert eventpolicy.is_ready({"status": status})
