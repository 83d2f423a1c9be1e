from __future__ import annotations

import copy
from typing import Any

import pytest

from kawa.apis.duck import KReference
from kawa.apis.eventing import EVENTTYPE, eventtype
from kawa.apiserver.tables import json_path

from .helpers import FakeClock, field_errors, status_errors

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
    assert et.spec.reference == KReference(
        api_version="eventing.knative.dev/v1", kind="Broker", name="default", namespace="ns"
    )
    assert et.spec.attribute("type") == "dev.x"
    assert et.spec.attribute("source") == ""
    assert len(et.spec.attributes) == 4


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
    assert (
        et.spec.attribute("type"),
        et.spec.attribute("source"),
        et.spec.attribute("specversion"),
    ) == (
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
    EVENTTYPE.validate(up)
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
    EVENTTYPE.validate_update(old, new)
    new["spec"]["description"] = "changed"
    assert list(field_errors(lambda: EVENTTYPE.validate_update(old, new))) == ["spec"]
    status: dict[str, Any] = {}
    eventtype.mark_reference_does_not_exist(status, clock=FakeClock())
    assert not eventtype.EVENTTYPE_CONDITIONS.is_ready(status)
    eventtype.mark_reference_not_set(status, clock=FakeClock())
    assert eventtype.EVENTTYPE_CONDITIONS.is_ready(status)


def test_printer_columns() -> None:
    obj = v3({"reference": BROKER, "description": "d", "attributes": attrs()})
    cells = [json_path(obj, c.json_path) for c in EVENTTYPE.printer_columns[:3]]
    assert cells == ["default", "Broker", "d"]


def test_v1beta2_rules_hold_on_the_admission_path() -> None:
    """The API server converts to v1beta3 first: a v1beta2 spec is checked on the way."""
    without_type = {**v3({"source": "/s"}), "apiVersion": V2}
    assert field_errors(lambda: EVENTTYPE.to_version(without_type, V3)) == {
        "spec.type": "required field is missing"
    }
    assert field_errors(lambda: EVENTTYPE.parse(without_type)) == {
        "spec.type": "required field is missing"
    }
    misspelt = {**v3({"type": "dev.x", "sorce": "/s", "reference": {"kind": "Broker"}})}
    misspelt["apiVersion"] = V2
    assert field_errors(lambda: EVENTTYPE.parse(misspelt)) == {
        "spec.sorce": "unknown field; expected one of type, source, schema, schemaData, "
        "broker, reference, description",
        "spec.reference.apiVersion": "required field is missing",
        "spec.reference.name": "required field is missing",
    }
    # converting down never checks: what is stored is valid v1beta3
    assert EVENTTYPE.to_version(v3({"attributes": attrs()}), V2)["spec"] == {}


def test_reference_namespace_defaults_and_spec_immutable_message() -> None:
    et = EVENTTYPE.default(v3({"reference": BROKER, "attributes": attrs()}))
    assert et["spec"]["reference"]["namespace"] == "ns"
    old = v3({"attributes": attrs(type="a")})
    new = v3({"attributes": attrs(type="b")})
    message = field_errors(lambda: EVENTTYPE.validate_update(old, new))["spec"]
    assert message.startswith("immutable field changed from ")
    assert message.endswith("an EventType's spec cannot change: delete and recreate it")


def test_status_schema_accepts_what_the_controllers_write() -> None:
    status: dict[str, Any] = {"observedGeneration": 1}
    eventtype.mark_reference_exists(status, clock=FakeClock())
    assert status_errors(EVENTTYPE, status) == []


def test_a_v1beta3_type_without_a_value_survives_a_v1beta2_client() -> None:
    """Read as v1beta2 (which has no spelling for it) and written back unchanged: accepted,
    and the attributes come back as they were."""
    kind = EVENTTYPE
    attributes = [
        {"name": "type", "required": True},
        {"name": "source", "required": True, "value": "/x"},
        {"name": "specversion", "required": True, "value": "1.0"},
        {"name": "id", "required": True},
    ]
    stored = kind.default(
        {
            "apiVersion": "eventing.knative.dev/v1beta3",
            "kind": "EventType",
            "metadata": {"name": "e", "namespace": "default"},
            "spec": {"attributes": attributes},
        }
    )
    read = kind.to_version(stored, "eventing.knative.dev/v1beta2")
    assert "type" not in read["spec"]
    written = kind.to_version(read, kind.storage_api_version)
    kind.validate(kind.default(written))
    assert written["spec"]["attributes"] == attributes
