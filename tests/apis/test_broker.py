from __future__ import annotations

from typing import Any

import pytest

from kawa.apis import eventing
from kawa.apis.conditions import Condition
from kawa.apis.duck import DeliverySpec, KReference
from kawa.apis.eventing import BROKER
from kawa.apis.eventing.broker import BROKER_CONDITIONS, set_broker_address
from kawa.errors import ValidationError

from .helpers import FakeClock, broker_obj, field_errors, new_status

CLASS = "eventing.knative.dev/broker.class"
CONFIG = {"apiVersion": "v1", "kind": "ConfigMap", "name": "config-br-default-channel"}


def test_minimal_broker_gets_the_default_class() -> None:
    broker = eventing.parse_broker(broker_obj(uid="u1", generation=2))
    assert broker.broker_class == "MTChannelBasedBroker"
    assert (broker.namespace, broker.name, broker.uid, broker.generation) == (
        "default",
        "default",
        "u1",
        2,
    )
    assert broker.key == "default/default"
    assert broker.spec.config is None
    assert broker.spec.delivery is None


def test_default_broker_returns_a_copy() -> None:
    obj = broker_obj(
        {"config": dict(CONFIG), "delivery": {"deadLetterSink": {"ref": dict(CONFIG)}}}
    )
    out = eventing.default_broker(obj)
    assert out["metadata"]["annotations"] == {CLASS: "MTChannelBasedBroker"}
    assert out["spec"]["config"]["namespace"] == "default"
    assert out["spec"]["delivery"]["deadLetterSink"]["ref"]["namespace"] == "default"
    assert "annotations" not in obj["metadata"]
    assert "namespace" not in obj["spec"]["config"]


def test_explicit_class_is_kept_and_empty_is_defaulted() -> None:
    kafka = broker_obj(annotations={CLASS: "Kafka"})
    assert eventing.parse_broker(kafka).broker_class == "Kafka"
    empty = broker_obj(annotations={CLASS: ""})
    assert eventing.parse_broker(empty).broker_class == "MTChannelBasedBroker"


def test_broker_with_config_and_delivery() -> None:
    broker = eventing.parse_broker(
        broker_obj({"config": CONFIG, "delivery": {"retry": 2, "backoffDelay": "PT1S"}})
    )
    assert broker.spec.config == KReference(
        api_version="v1", kind="ConfigMap", name="config-br-default-channel", namespace="default"
    )
    assert broker.spec.delivery == DeliverySpec(retry=2, backoff_delay=1.0)


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            {**broker_obj(), "apiVersion": "eventing.knative.dev/v1beta1"},
            {
                "apiVersion": "expected one of eventing.knative.dev/v1, "
                "eventing.knative.dev/v1alpha1, got 'eventing.knative.dev/v1beta1'"
            },
        ),
        ({**broker_obj(), "kind": "Trigger"}, {"kind": "expected Broker, got 'Trigger'"}),
        (broker_obj(name="Bad"), {"metadata.name": "invalid value 'Bad'"}),
        ({**broker_obj(), "spec": []}, {"spec": "expected a mapping, got a list"}),
        (
            broker_obj({"channelTemplateSpec": {}}),
            {"spec.channelTemplateSpec": "unknown field; expected one of config, delivery"},
        ),
        (
            broker_obj({"config": {"name": "x"}}),
            {
                "spec.config.apiVersion": "required field is missing",
                "spec.config.kind": "required field is missing",
            },
        ),
        (
            broker_obj({"delivery": {"retry": -2, "backoffPolicy": "sometimes"}}),
            {
                "spec.delivery.retry": "invalid value -2: must be greater than or equal to 0",
                "spec.delivery.backoffPolicy": "must be one of linear, exponential",
            },
        ),
    ],
)
def test_invalid_brokers(obj: dict[str, Any], expected: dict[str, str]) -> None:
    errors = field_errors(lambda: eventing.parse_broker(obj))
    assert set(errors) == set(expected)
    for path, fragment in expected.items():
        assert fragment in errors[path]


def test_validation_error_names_the_broker() -> None:
    with pytest.raises(ValidationError) as info:
        eventing.validate_broker(broker_obj({"delivery": {"retry": -1}}, namespace="ns1"))
    assert info.value.subject == "Broker ns1/default"


def test_class_annotation_and_config_are_immutable() -> None:
    old = eventing.default_broker(broker_obj({"config": CONFIG}))
    same = broker_obj({"config": CONFIG, "delivery": {"retry": 1}})  # delivery may change
    eventing.validate_broker_update(old, same)
    changed = broker_obj({"config": {**CONFIG, "name": "other"}}, annotations={CLASS: "Kafka"})
    errors = field_errors(lambda: eventing.validate_broker_update(old, changed))
    assert set(errors) == {f"metadata.annotations[{CLASS}]", "spec.config"}
    assert (
        "immutable field changed from 'MTChannelBasedBroker' to 'Kafka'"
        in errors[f"metadata.annotations[{CLASS}]"]
    )
    assert "immutable field changed" in errors["spec.config"]


def test_address_and_ready() -> None:
    clock, status = FakeClock(), new_status()
    BROKER_CONDITIONS.initialize(status, clock=clock)
    set_broker_address(status, "http://127.0.0.1:8080/default/default", clock=clock)
    assert status["address"] == {"url": "http://127.0.0.1:8080/default/default"}
    for type_ in (
        "IngressReady",
        "TriggerChannelReady",
        "FilterReady",
        "DeadLetterSinkResolved",
        "EventPoliciesReady",
    ):
        assert not BROKER_CONDITIONS.is_ready(status)
        BROKER_CONDITIONS.mark_true(status, type_, clock=clock)
    assert BROKER_CONDITIONS.is_ready(status)
    set_broker_address(status, None, clock=clock)
    assert "address" not in status
    assert BROKER_CONDITIONS.get(status, "Ready") == Condition(
        "Ready", "False", "NoAddress", "The broker has no address yet.", "", "2024-05-01T12:00:00Z"
    )


def test_dropping_the_spec_does_not_drop_its_immutable_config() -> None:
    old = broker_obj(
        {"config": {"apiVersion": "v1", "kind": "ConfigMap", "name": "config-br-default-channel"}}
    )
    new = broker_obj()
    new.pop("spec", None)
    errors = field_errors(lambda: BROKER.validate_update(old, new))
    assert list(errors) == ["spec.config"]
    assert errors["spec.config"].startswith("immutable field changed from {")
