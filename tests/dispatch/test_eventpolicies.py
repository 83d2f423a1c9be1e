"""The EventPolicy authorization decision (Knative's ``verifyAuthZ``): applying policies
allow a sender whose subject they list (``*`` as a suffix) and whose event passes their
filters; without one, the default authorization mode decides. Real filters, compiled from
real EventPolicy objects."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from kawa.apis.registry import SCHEME
from kawa.cloudevents import CloudEvent
from kawa.dispatch.eventpolicies import (
    AppliedPolicy,
    Decision,
    decide,
    same_namespace,
    subject_matches,
)

NS = "team"
SA = "system:serviceaccount"


def event(type_: str = "com.example.order", source: str = "/shop", **ext: Any) -> CloudEvent:
    return CloudEvent({"specversion": "1.0", "id": "1", "type": type_, "source": source, **ext})


def applied(
    name: str, subjects: list[str], filters: list[dict[str, Any]] | None = None
) -> AppliedPolicy:
    obj = SCHEME.default(
        {
            "apiVersion": "eventing.knative.dev/v1alpha1",
            "kind": "EventPolicy",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"from": [{"sub": s} for s in subjects], "filters": filters or []},
        }
    )
    obj["status"] = {"from": subjects}
    return AppliedPolicy.from_object(obj)


def test_an_applying_policy_allows_the_subjects_it_lists() -> None:
    p = applied("orders", [f"{SA}:{NS}:shop"])
    ok = decide([p], "deny-all", f"{SA}:{NS}:shop", NS, event())
    assert ok == Decision(True, f"event policy orders allows '{SA}:{NS}:shop'", "orders")
    no = decide([p], "allow-all", f"{SA}:{NS}:other", NS, event())
    assert not no.allowed
    assert no.reason == f"subject '{SA}:{NS}:other' is not allowed by event policies orders"


def test_applying_policies_replace_the_default_mode_even_allow_all() -> None:
    p = applied("orders", [f"{SA}:{NS}:shop"])
    assert not decide([p], "allow-all", f"{SA}:{NS}:x", NS, event()).allowed
    assert not decide([p], "allow-same-namespace", f"{SA}:{NS}:x", NS, event()).allowed


def test_any_applying_policy_may_allow() -> None:
    first = applied("a", [f"{SA}:{NS}:one"])
    second = applied("b", [f"{SA}:other:two"])
    verdict = decide([first, second], "deny-all", f"{SA}:other:two", NS, event())
    assert verdict.allowed
    assert verdict.policy == "b"


def test_a_star_suffix_is_a_prefix_match() -> None:
    p = applied("ns", [f"{SA}:{NS}:*"])
    assert decide([p], "deny-all", f"{SA}:{NS}:anyone", NS, event()).allowed
    assert not decide([p], "deny-all", f"{SA}:{NS}x:anyone", NS, event()).allowed
    assert not decide([p], "deny-all", f"{SA}:other:anyone", NS, event()).allowed
    anyone = applied("all", ["*"])
    assert decide([anyone], "deny-all", "whoever", NS, event()).allowed


def test_subjects_compare_as_knative_equal_ignoring_case_prefixes_exactly() -> None:
    assert subject_matches("System:ServiceAccount:Team:Shop", [f"{SA}:team:shop"])
    assert not subject_matches("SYSTEM:serviceaccount:team:x", [f"{SA}:team:*"])
    assert not subject_matches("a", [])


def test_the_sender_must_also_pass_the_policys_filters() -> None:
    p = applied(
        "orders",
        [f"{SA}:{NS}:shop"],
        [{"prefix": {"type": "com.example."}}, {"exact": {"source": "/shop"}}],
    )
    shop = f"{SA}:{NS}:shop"
    assert decide([p], "deny-all", shop, NS, event()).allowed
    wrong_type = decide([p], "allow-all", shop, NS, event(type_="org.other"))
    assert not wrong_type.allowed
    assert wrong_type.reason == (
        f"subject '{shop}' is allowed by event policies orders, but the event does not pass "
        "their filters"
    )
    assert not decide([p], "deny-all", shop, NS, event(source="/elsewhere")).allowed


def test_filters_of_one_policy_do_not_hold_back_another() -> None:
    strict = applied("strict", [f"{SA}:{NS}:shop"], [{"cesql": "type = 'never'"}])
    loose = applied("loose", [f"{SA}:{NS}:shop"])
    verdict = decide([strict, loose], "deny-all", f"{SA}:{NS}:shop", NS, event())
    assert verdict.allowed
    assert verdict.policy == "loose"


def test_every_dialect_works_in_a_policy() -> None:
    shop = f"{SA}:{NS}:shop"
    p = applied(
        "dialects",
        [shop],
        [
            {"all": [{"suffix": {"type": ".order"}}, {"not": {"exact": {"source": "/bad"}}}]},
            {"any": [{"exact": {"tier": "gold"}}, {"cesql": "tier = 'silver'"}]},
        ],
    )
    assert decide([p], "deny-all", shop, NS, event(tier="gold")).allowed
    assert decide([p], "deny-all", shop, NS, event(tier="silver")).allowed
    assert not decide([p], "deny-all", shop, NS, event(tier="bronze")).allowed
    assert not decide([p], "deny-all", shop, NS, event(source="/bad", tier="gold")).allowed


def test_a_token_without_subject_passes_no_policy() -> None:
    p = applied("any", ["*"])
    verdict = decide([p], "allow-all", None, NS, event())
    assert not verdict.allowed
    assert verdict.reason.startswith("the token has no subject")


def test_without_policies_allow_all_allows_everyone() -> None:
    for subject in (f"{SA}:other:x", "user", None):
        verdict = decide([], "allow-all", subject, NS, event())
        assert verdict.allowed
        assert verdict.policy is None


def test_without_policies_allow_same_namespace_allows_its_service_accounts() -> None:
    assert decide([], "allow-same-namespace", f"{SA}:{NS}:shop", NS, event()).allowed
    other = decide([], "allow-same-namespace", f"{SA}:other:shop", NS, event())
    assert not other.allowed
    assert "is not a service account of namespace 'team'" in other.reason
    assert not decide([], "allow-same-namespace", f"{SA}:{NS}x:shop", NS, event()).allowed
    assert not decide([], "allow-same-namespace", None, NS, event()).allowed


def test_without_policies_deny_all_denies_everyone() -> None:
    verdict = decide([], "deny-all", f"{SA}:{NS}:shop", NS, event())
    assert verdict == Decision(
        False, "no event policy applies and default-authorization-mode is deny-all"
    )


def test_an_unknown_mode_denies() -> None:
    assert not decide([], "allow-some", f"{SA}:{NS}:shop", NS, event()).allowed


names = st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1, max_size=6)


@given(namespace=names, other=names, account=names)
def test_same_namespace_is_exactly_the_namespaces_service_accounts(
    namespace: str, other: str, account: str
) -> None:
    assert same_namespace(f"{SA}:{namespace}:{account}", namespace)
    assert same_namespace(f"{SA}:{other}:{account}", namespace) == (other == namespace)


@given(prefix=st.text(max_size=12), rest=st.text(max_size=12), stranger=st.text(max_size=12))
def test_a_star_entry_allows_exactly_what_starts_with_its_prefix(
    prefix: str, rest: str, stranger: str
) -> None:
    assert subject_matches(prefix + rest, [prefix + "*"])
    assert subject_matches(stranger, [prefix + "*"]) == stranger.startswith(prefix)


@given(
    subjects=st.lists(names, max_size=4),
    sender=names,
    mode=st.sampled_from(["allow-all", "allow-same-namespace", "deny-all"]),
)
def test_a_policy_decision_depends_only_on_its_subjects(
    subjects: list[str], sender: str, mode: str
) -> None:
    """With a policy applying, the mode never matters; the sender is allowed exactly when
    listed."""
    p = applied("p", subjects)
    verdict = decide([p], mode, sender, NS, event())
    assert verdict.allowed == (sender in subjects)
