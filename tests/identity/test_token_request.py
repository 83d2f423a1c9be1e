"""A TokenRequest's spec: Kubernetes' defaults and bounds, every problem at its field path."""

from __future__ import annotations

from typing import Any

import pytest

from kawa.errors import ValidationError
from kawa.identity import keys, token_request

ISSUER = "https://127.0.0.1:7443"


def _parse(body: Any) -> token_request.TokenRequestSpec:
    return token_request.parse(body, default_audience=ISSUER)


def test_defaults_are_kubernetes() -> None:
    assert _parse({}) == token_request.TokenRequestSpec((ISSUER,), 3600)
    assert _parse({"spec": {"audiences": []}}).audiences == (ISSUER,)
    body = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"audiences": ["a", "b", "a"], "expirationSeconds": 1200},
    }
    assert _parse(body) == token_request.TokenRequestSpec(("a", "b"), 1200)


def test_a_long_request_is_shortened_to_the_longest_lifetime() -> None:
    assert _parse({"spec": {"expirationSeconds": 48 * 3600}}).expiration_seconds == (
        keys.MAX_TOKEN_LIFETIME
    )
    spec = token_request.parse(
        {"spec": {"expirationSeconds": 7200}}, default_audience=ISSUER, max_lifetime=900
    )
    assert spec.expiration_seconds == 900


@pytest.mark.parametrize(
    ("body", "paths"),
    [
        ({"spec": {"expirationSeconds": 599}}, ["spec.expirationSeconds"]),
        ({"spec": {"expirationSeconds": (1 << 32) + 1}}, ["spec.expirationSeconds"]),
        ({"spec": {"expirationSeconds": "1h"}}, ["spec.expirationSeconds"]),
        ({"spec": {"audiences": "a"}}, ["spec.audiences"]),
        ({"spec": {"audiences": ["a", "", 3]}}, ["spec.audiences[1]", "spec.audiences[2]"]),
        ({"spec": {"boundObjectRef": {"kind": "Pod", "name": "p"}}}, ["spec.boundObjectRef"]),
        ({"kind": "Pod", "spec": []}, ["kind", "spec"]),
        (
            {"apiVersion": "v1", "spec": {"expirationSeconds": 1, "audiences": [""]}},
            ["apiVersion", "spec.audiences[0]", "spec.expirationSeconds"],
        ),
    ],
)
def test_a_bad_spec_names_every_field(body: Any, paths: list[str]) -> None:
    with pytest.raises(ValidationError) as invalid:
        _parse(body)
    assert [e.path for e in invalid.value.errors] == paths
    assert str(invalid.value).startswith("TokenRequest is invalid")


def test_the_bounds_say_what_kubernetes_says() -> None:
    with pytest.raises(ValidationError, match="may not specify a duration less than 10 minutes"):
        _parse({"spec": {"expirationSeconds": 599}})
    with pytest.raises(ValidationError, match="larger than 2"):
        _parse({"spec": {"expirationSeconds": 1 << 33}})


def test_a_body_that_is_no_object_is_refused() -> None:
    with pytest.raises(ValidationError, match="not a TokenRequest object"):
        _parse([1, 2])


def test_the_answer_carries_the_token_and_when_it_expires() -> None:
    spec = token_request.TokenRequestSpec(("a",), 3600)
    answer = token_request.answer(
        {"metadata": {"labels": {"x": "y"}}},
        spec,
        namespace="default",
        name="sender",
        token="t.o.k",
        expires=1_800_003_600,
        now=1_800_000_000.5,
    )
    assert answer == {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {
            "labels": {"x": "y"},
            "name": "sender",
            "namespace": "default",
            "creationTimestamp": "2027-01-15T08:00:00Z",
        },
        "spec": {"audiences": ["a"], "expirationSeconds": 3600, "boundObjectRef": None},
        "status": {"token": "t.o.k", "expirationTimestamp": "2027-01-15T09:00:00Z"},
    }
