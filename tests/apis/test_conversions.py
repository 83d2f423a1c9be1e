"""v1alpha1 Broker and Trigger: conversions to the v1 storage version and back."""

from __future__ import annotations

from typing import Any

from kawa.apis import eventing

from .helpers import broker_obj, field_errors, trigger_obj

V1 = "eventing.knative.dev/v1"
V1A1 = "eventing.knative.dev/v1alpha1"
TEMPLATE = {"apiVersion": "messaging.knative.dev/v1", "kind": "InMemoryChannel"}


def legacy_broker(spec: dict[str, Any]) -> dict[str, Any]:
    return {**broker_obj(spec), "apiVersion": V1A1}


def test_v1alpha1_broker_round_trip() -> None:
    old = legacy_broker({"channelTemplateSpec": TEMPLATE, "delivery": {"retry": 2}})
    v1 = eventing.convert_broker(old, V1)
    assert v1["apiVersion"] == V1
    assert v1["spec"] == {"delivery": {"retry": 2}}
    assert "conversion.kawa.dev/v1alpha1" in v1["metadata"]["annotations"]
    eventing.validate_broker(v1)
    assert eventing.convert_broker(v1, V1A1) == old


def test_v1_broker_round_trip_keeps_config() -> None:
    config = {"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "namespace": "default"}
    new = broker_obj({"config": config})
    down = eventing.convert_broker(new, V1A1)
    assert "config" not in down["spec"]
    assert eventing.convert_broker(down, V1) == new


def test_v1alpha1_broker_validates_through_v1() -> None:
    b = eventing.parse_broker(legacy_broker({"channelTemplateSpec": TEMPLATE}))
    assert b.api_version == V1
    errors = field_errors(
        lambda: eventing.parse_broker(legacy_broker({"channelTemplateSpec": {"kind": "X"}}))
    )
    assert errors == {"spec.channelTemplateSpec.apiVersion": "required field is missing"}


def test_v1alpha1_trigger_conversion() -> None:
    sub = {"uri": "http://example.com/"}
    old = {
        **trigger_obj({"subscriber": sub, "filter": {"sourceAndType": {"type": "dev.x"}}}),
        "apiVersion": V1A1,
    }
    v1 = eventing.convert_trigger(old, V1)
    assert v1["spec"]["broker"] == "default"
    assert v1["spec"]["filter"] == {"attributes": {"type": "dev.x", "source": ""}}
    t = eventing.parse_trigger(v1)
    assert t.spec.filter_attributes == {"type": "dev.x", "source": ""}
    back = eventing.convert_trigger(v1, V1A1)
    assert back["spec"]["filter"] == {"sourceAndType": {"type": "dev.x", "source": ""}}
    assert "annotations" not in back["metadata"]
    plain = trigger_obj()
    assert eventing.convert_trigger(eventing.convert_trigger(plain, V1A1), V1) == plain
