from __future__ import annotations

import copy
from typing import Any

import pytest

from kawa.apis.duck import KReference
from kawa.apis.eventing import EVENTTYPE, eventtype
from kawa.apiserver.tables import json_path

from .helpers import FakeClock, field_errors

V3 = "eventing.knative.dev/v1beta3"
V2 = "eventing.knative.dev/v1beta2"
BROKER = {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "default"}


def attrs(**values: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"name": n, "required": True} for n in ("type", "source", "specversion", "id")
    ]
    for item in out:
        if item["name"] in values:
            item["value"] = values[item["name"]]
    return out


def v3(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": V3,
        "kind": "EventType",
        "metadata": {"name": "et", "namespace": "ns"},
        "spec": spec,
    }


def test_parse_v1beta3() -> None:
    et = eventtype.parse_eventtype(
        v3({"reference": BROKER, "description": "d", "attributes": attrs(type="dev.x")})
    )
    assert et.reference == KReference(
        api_version="eventing.knative.dev/v1", kind="Broker", name="default", namespace="ns"
    )
    assert et.attribute("type") == "dev.x"
    assert et.attribute("source") == ""
    assert len(et.attributes) == 4


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        (
            [{"name": "type"}],
            {
                "spec.attributes": "missing required attributes: source, specversion, id "
                "(every EventType lists type, source, specversion, id)"
            },
        ),
        (
            [*attrs(), {"name": "Bad-Name"}],
            {"spec.attributes[4].name": "expected lower-case letters and digits, got 'Bad-Name'"},
        ),
        ([*attrs(), {"name": "id"}], {"spec.attributes[4].name": "duplicate attribute 'id'"}),
        (
            [*attrs(), {"name": "x", "required": "yes"}],
            {"spec.attributes[4].required": "expected a boolean, got a string"},
        ),
    ],
)
def test_invalid_attributes(attributes: Any, expected: dict[str, str]) -> None:
    assert field_errors(lambda: eventtype.parse_eventtype(v3({"attributes": attributes}))) == (
        expected
    )


def test_v1beta2_requires_type_and_converts() -> None:
    obj = {**v3({"source": "/s"}), "apiVersion": V2}
    assert field_errors(lambda: eventtype.parse_eventtype(obj)) == {
        "spec.type": "required field is missing"
    }
    obj["spec"]["type"] = "dev.x"
    et = eventtype.parse_eventtype(obj)
    assert (et.attribute("type"), et.attribute("source"), et.attribute("specversion")) == (
        "dev.x",
        "/s",
        "1.0",
    )


def test_round_trip_v1beta2() -> None:
    old = {
        **v3(
            {
                "type": "dev.x",
                "source": "/s",
                "schema": "http://schema",
                "schemaData": "{}",
                "broker": "default",
                "description": "d",
            }
        ),
        "apiVersion": V2,
    }
    up = eventtype.convert_eventtype(old, V3)
    names = {a["name"]: a.get("value") for a in up["spec"]["attributes"]}
    assert names["dataschema"] == "http://schema"
    assert names["schemadata"] == "{}"
    assert up["spec"]["reference"]["name"] == "default"
    eventtype.validate_eventtype(up)
    assert eventtype.convert_eventtype(up, V2) == old


def test_round_trip_v1beta3() -> None:
    new = v3(
        {
            "reference": BROKER,
            "attributes": [*attrs(type="dev.x"), {"name": "myext", "value": "{x}"}],
        }
    )
    down = eventtype.convert_eventtype(new, V2)
    assert down["spec"]["type"] == "dev.x"
    assert "attributes" not in down["spec"]
    assert eventtype.convert_eventtype(down, V3) == new
    assert EVENTTYPE.to_version(new, V2) == down


def test_spec_is_immutable_and_status() -> None:
    old = v3({"attributes": attrs(type="a")})
    new = copy.deepcopy(old)
    eventtype.validate_eventtype_update(old, new)
    new["spec"]["description"] = "changed"
    assert list(field_errors(lambda: eventtype.validate_eventtype_update(old, new))) == ["spec"]
    status: dict[str, Any] = {}
    eventtype.mark_reference_does_not_exist(status, clock=FakeClock())
    assert not eventtype.EVENTTYPE_CONDITIONS.is_ready(status)
    eventtype.mark_reference_not_set(status, clock=FakeClock())
    assert eventtype.EVENTTYPE_CONDITIONS.is_ready(status)


def test_printer_columns() -> None:
    obj = v3({"reference": BROKER, "description": "d", "attributes": attrs()})
    cells = [json_path(obj, c.json_path) for c in EVENTTYPE.printer_columns[:3]]
    assert cells == ["default", "Broker", "d"]
