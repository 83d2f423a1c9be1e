from __future__ import annotations

from typing import Any

import pytest

from kawa.apis import duck
from kawa.apis.conditions import ConditionSet
from kawa.apis.duck import BROKER_DEFAULT_DELIVERY, DeliverySpec, Destination, KReference

from ..tls_support import certificate_authority
from .helpers import FakeClock, field_errors, new_status

SVC = {"apiVersion": "v1", "kind": "Service", "name": "display"}


def test_destination_with_uri_only() -> None:
    assert duck.parse_destination({"uri": "http://x.example/p"}, namespace="ns") == Destination(
        uri="http://x.example/p"
    )


def test_destination_ref_namespace_defaults_to_the_parents() -> None:
    dest = duck.parse_destination({"ref": SVC}, namespace="ns")
    assert dest == Destination(
        ref=KReference(api_version="v1", kind="Service", name="display", namespace="ns")
    )
    other = duck.parse_destination({"ref": {**SVC, "namespace": "other"}}, namespace="ns")
    assert other.ref is not None
    assert other.ref.namespace == "other"


def test_destination_ref_with_relative_uri() -> None:
    dest = duck.parse_destination({"ref": SVC, "uri": "/path"}, namespace="ns")
    assert dest.uri == "/path"
    assert dest.ref is not None
    assert dest.to_dict() == {"ref": {**SVC, "namespace": "ns"}, "uri": "/path"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({}, {"d": "expected at least one of ref or uri, got neither"}),
        ({"uri": ""}, {"d": "expected at least one of ref or uri, got neither"}),
        ("http://x", {"d": "expected a mapping, got a string"}),
        (
            {"uri": "/relative"},
            {"d.uri": "must be an absolute URL (scheme and host) when there is no ref"},
        ),
        ({"uri": "http://"}, {"d.uri": "must be an absolute URL"}),
        ({"uri": 5}, {"d.uri": "expected a string, got a number (quote it in YAML)"}),
        (
            {"ref": SVC, "uri": "http://abs.example/"},
            {"d.uri": "an absolute URI is not allowed together with ref"},
        ),
        (
            {"ref": {"kind": "Service"}},
            {
                "d.ref.apiVersion": "required field is missing",
                "d.ref.name": "required field is missing",
            },
        ),
        ({"ref": "svc"}, {"d.ref": "expected a mapping, got a string"}),
        ({"ref": {**SVC, "namespace": "Bad_NS"}}, {"d.ref.namespace": "invalid value 'Bad_NS'"}),
        (
            {"uri": "https://x.example/", "CACerts": "hello"},
            {"d.CACerts": "not a PEM certificate: expected one or more"},
        ),
        (
            {"uri": "https://x.example/", "CACerts": "-----BEGIN CERTIFICATE-----\nAAAA\n"},
            {"d.CACerts": "not a PEM certificate: a CERTIFICATE block is not a base64 X.509"},
        ),
        ({"uri": "https://x.example/", "CACerts": 7}, {"d.CACerts": "expected a string"}),
    ],
)
def test_invalid_destinations(value: Any, expected: dict[str, str]) -> None:
    errors = field_errors(lambda: duck.parse_destination(value, namespace="ns", path="d"))
    assert set(errors) == set(expected)
    for path, fragment in expected.items():
        assert fragment in errors[path]


def test_destination_ca_certs_are_kept() -> None:
    pem = certificate_authority("duck-ca").pem
    dest = duck.parse_destination({"uri": "https://x.example/", "CACerts": pem}, namespace="ns")
    assert dest.ca_certs == pem
    assert dest.to_dict() == {"uri": "https://x.example/", "CACerts": pem}
    sink = duck.parse_delivery(
        {"deadLetterSink": {"uri": "https://d/", "CACerts": pem}}, namespace="ns"
    )
    assert sink.dead_letter_sink is not None
    assert sink.dead_letter_sink.ca_certs == pem


def test_delivery_full() -> None:
    spec = duck.parse_delivery(
        {
            "retry": 3,
            "backoffPolicy": "linear",
            "backoffDelay": "PT0.5S",
            "timeout": "PT10S",
            "retryAfterMax": "PT0S",
            "deadLetterSink": {"ref": SVC},
            "format": "binary",
        },
        namespace="ns",
    )
    assert spec == DeliverySpec(
        retry=3,
        backoff_policy="linear",
        backoff_delay=0.5,
        timeout=10.0,
        retry_after_max=0.0,
        dead_letter_sink=Destination(
            ref=KReference(api_version="v1", kind="Service", name="display", namespace="ns")
        ),
        format="binary",
    )


def test_empty_delivery_and_broker_defaults() -> None:
    assert duck.parse_delivery({}, namespace="ns") == DeliverySpec()
    assert (
        DeliverySpec(retry=10, backoff_policy="exponential", backoff_delay=0.2)
        == BROKER_DEFAULT_DELIVERY
    )


def test_invalid_delivery_reports_every_field() -> None:
    errors = field_errors(
        lambda: duck.parse_delivery(
            {
                "retry": -1,
                "backoffPolicy": "random",
                "backoffDelay": "1s",
                "timeout": "PT0S",
                "retryAfterMax": 5,
                "deadLetterSink": {"uri": "relative"},
                "format": "xml",
            },
            namespace="ns",
            path="spec.delivery",
        )
    )
    assert errors == {
        "spec.delivery.retry": "invalid value -1: must be greater than or equal to 0",
        "spec.delivery.backoffPolicy": "must be one of linear, exponential, got 'random'",
        "spec.delivery.backoffDelay": "invalid duration '1s': expected an ISO 8601 duration "
        "such as PT0.2S, PT1M, PT1.5S or P1DT2H",
        "spec.delivery.timeout": "must be a duration greater than zero",
        "spec.delivery.retryAfterMax": "expected an ISO 8601 duration such as PT0.2S, PT1M, "
        "PT1.5S or P1DT2H, got a number",
        "spec.delivery.deadLetterSink.uri": "must be an absolute URL (scheme and host) when "
        "there is no ref, got 'relative'",
        "spec.delivery.format": "must be one of json, binary, got 'xml'",
    }


@pytest.mark.parametrize("retry", [True, 1.5, "3"])
def test_retry_must_be_an_integer(retry: Any) -> None:
    errors = field_errors(lambda: duck.parse_delivery({"retry": retry}, namespace="ns"))
    assert list(errors) == ["retry"]


def test_defaulting_fills_ref_namespaces_in_place() -> None:
    delivery: dict[str, Any] = {"deadLetterSink": {"ref": dict(SVC)}}
    duck.default_delivery(delivery, "ns")
    assert delivery["deadLetterSink"]["ref"]["namespace"] == "ns"
    dest: dict[str, Any] = {"ref": {**SVC, "namespace": "keep"}}
    duck.default_destination(dest, "ns")
    assert dest["ref"]["namespace"] == "keep"
    duck.default_destination(None, "ns")  # tolerated


def test_dead_letter_sink_status_helpers() -> None:
    conditions = ConditionSet(("DeadLetterSinkResolved",))
    clock, status = FakeClock(), new_status()
    duck.mark_dead_letter_sink_resolved(conditions, status, "http://dls.example/", clock=clock)
    assert status["deadLetterSinkUri"] == "http://dls.example/"
    assert conditions.is_ready(status)
    duck.mark_dead_letter_sink_failed(conditions, status, "Unresolvable", "no svc", clock=clock)
    assert "deadLetterSinkUri" not in status
    assert not conditions.is_ready(status)
    duck.mark_dead_letter_sink_not_configured(conditions, status, clock=clock)
    dls = conditions.get(status, "DeadLetterSinkResolved")
    assert dls is not None
    assert (dls.status, dls.reason) == ("True", "DeadLetterSinkNotConfigured")
