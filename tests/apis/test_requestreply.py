"""RequestReply (eventing.knative.dev/v1alpha1): Knative's defaults (correlationid, replyid,
a timeout), its validation (brokerRef kind Broker and no namespace, a positive ISO 8601
timeout, attributes that are no required CloudEvents attribute), kawa's extension-name rule,
every problem at its field path; the keys' entry names and order."""

from __future__ import annotations

from typing import Any

import pytest

from kawa.apis.eventing import requestreply as rr_api
from kawa.apis.registry import SCHEME
from kawa.errors import ValidationError

BROKER_REF = {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "default"}


def requestreply(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "eventing.knative.dev/v1alpha1",
        "kind": "RequestReply",
        "metadata": {"name": "rr", "namespace": "team"},
        "spec": {"brokerRef": BROKER_REF, **spec},
    }


def problems(obj: dict[str, Any]) -> list[tuple[str, str]]:
    kind = SCHEME.for_api_version_kind(obj["apiVersion"], obj["kind"])
    assert kind is not None
    with pytest.raises(ValidationError) as caught:
        kind.validate(kind.default(obj))
    return sorted((e.path, e.message) for e in caught.value.errors)


def test_knative_defaults_fill_the_attributes_and_the_timeout() -> None:
    kind = SCHEME.for_api_version_kind("eventing.knative.dev/v1alpha1", "RequestReply")
    assert kind is not None
    spec = kind.default(requestreply())["spec"]
    assert spec["correlationAttribute"] == "correlationid"
    assert spec["replyAttribute"] == "replyid"
    assert spec["timeout"] == "PT30S"
    parsed = rr_api.parse_requestreply(requestreply(timeout="PT1.5S", replyAttribute="answer"))
    assert parsed.spec.timeout == 1.5
    assert parsed.spec.reply_attribute == "answer"
    assert parsed.spec.broker_ref.name == "default"


def test_a_bad_spec_gets_every_problem_at_its_field_path() -> None:
    bad = requestreply(timeout="30s", replyAttribute="Reply-Id")
    assert problems(bad) == [
        (
            "spec.replyAttribute",
            "invalid extension name: expected lower-case letters a-z and digits 0-9 only "
            "(CloudEvents attribute naming)",
        ),
        (
            "spec.timeout",
            "invalid duration '30s': expected an ISO 8601 duration such as PT0.2S, PT1M, "
            "PT1.5S or P1DT2H",
        ),
    ]
    bad = requestreply(correlationAttribute="id", replyAttribute="type", timeout="PT0S")
    assert [path for path, _ in problems(bad)] == ["spec.timeout"]
    bad = requestreply(correlationAttribute="id", replyAttribute="type", secrets=["Bad_Name"])
    bad["spec"]["brokerRef"] = {"kind": "Channel", "name": "c", "namespace": "other"}
    assert problems(bad) == [
        ("spec.brokerRef.kind", "invalid value 'Channel': brokerRef kind must be Broker"),
        (
            "spec.brokerRef.namespace",
            "must not be set: the Broker is in the RequestReply's namespace "
            "(cross-namespace references are not allowed)",
        ),
        (
            "spec.correlationAttribute",
            "invalid value 'id': must not be a required CloudEvents attribute "
            "(id, type, source, specversion)",
        ),
        (
            "spec.replyAttribute",
            "invalid value 'type': must not be a required CloudEvents attribute "
            "(id, type, source, specversion)",
        ),
        (
            "spec.secrets[0]",
            "invalid value 'Bad_Name': a lowercase RFC 1123 subdomain must consist of lower "
            "case alphanumeric characters, '-' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'example.com')",
        ),
    ]


def test_the_two_attributes_must_differ() -> None:
    same = requestreply(correlationAttribute="corr", replyAttribute="corr")
    assert [path for path, _ in problems(same)] == ["spec.replyAttribute"]


def test_missing_broker_ref_is_required() -> None:
    obj = requestreply()
    del obj["spec"]["brokerRef"]
    assert [path for path, _ in problems(obj)] == ["spec.brokerRef"]


def test_keys_are_found_by_their_entry_names_newest_first() -> None:
    assert rr_api.key_name("team", "rr") == "team.rr.key-0"
    data = {
        "team.rr.key-0": b"old",
        "team.rr.key-2": b"new",
        "team.rr.key-x": b"not a key",
        "team.rr2.key-5": b"another RequestReply",
        "other.rr.key-9": b"another namespace",
    }
    assert rr_api.keys_of("team", "rr", data) == [b"new", b"old"]
    assert rr_api.keys_of("team", "none", data) == []
    assert rr_api.trigger_name("rr") == "rr0-1"
    assert len(rr_api.trigger_name("r" * 70)) == 63
