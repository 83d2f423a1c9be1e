"""Every SCHEMA of the Knative kinds beyond Broker/Trigger is structural OpenAPI v3, and the
declarations (names, columns) are what kubectl expects."""

from __future__ import annotations

from typing import Annotated, Any

import pytest

from kawa.apis import eventing, flows, messaging, serving, sources
from kawa.apis.kinds import ResourceKind
from kawa.apis.model import Model, doc, openapi
from kawa.apis.registry import Scheme

ALL: tuple[ResourceKind, ...] = (
    *eventing.KINDS,
    *messaging.KINDS,
    *flows.KINDS,
    *sources.KINDS,
    *serving.KINDS,
)


def schema_problems(schema: Any, path: str = "") -> list[str]:
    problems: list[str] = []
    if not isinstance(schema, dict):
        return [f"{path}: not a mapping"]
    preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
    kind = schema.get("type")
    if kind is None and not preserve:
        problems.append(f"{path}: no type")
    if kind not in (None, "object", "array", "string", "integer", "boolean", "number"):
        problems.append(f"{path}: bad type {kind!r}")
    if path and not schema.get("description"):
        problems.append(f"{path}: no description")
    if kind == "object" and not preserve:
        if "properties" not in schema and "additionalProperties" not in schema:
            problems.append(f"{path}: object without properties")
        for name, sub in schema.get("properties", {}).items():
            problems.extend(schema_problems(sub, f"{path}.{name}"))
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra.get("type") is None:
            problems.append(f"{path}: additionalProperties without type")
        for name in schema.get("required", []):
            if name not in schema.get("properties", {}):
                problems.append(f"{path}: required {name} is not a property")
    if kind == "array":
        problems.extend(schema_problems(schema.get("items"), f"{path}[]"))
    return problems


@pytest.mark.parametrize("rk", ALL, ids=lambda rk: rk.kind)
def test_schema_is_structural(rk: ResourceKind) -> None:
    assert rk.schema is not None
    assert set(rk.schema["properties"]) == {"spec", "status"}
    assert schema_problems(rk.schema) == []


def test_the_walker_finds_problems() -> None:
    bad = {"type": "object", "properties": {"a": {"type": "object", "description": "x"}}}
    assert schema_problems(bad) == [".a: object without properties"]
    assert schema_problems({"type": "object", "properties": {"b": {"type": "string"}}}) == [
        ".b: no description"
    ]


def test_kinds_index_without_clashes() -> None:
    scheme = Scheme(ALL)
    assert scheme.resolve("ksvc").kind == "Service"
    assert scheme.resolve("kservice").kind == "Service"
    assert scheme.resolve("imc").kind == "InMemoryChannel"
    assert scheme.resolve("ch").kind == "Channel"
    assert scheme.resolve("sub").kind == "Subscription"
    assert scheme.resolve("rev").kind == "Revision"
    assert scheme.resolve("pingsources.sources.knative.dev").kind == "PingSource"
    legacy = scheme.for_resource("sources.eventing.knative.dev", "v1alpha1", "apiserversources")
    assert legacy is sources.APISERVERSOURCE
    assert scheme.for_api_version_kind("serving.knative.dev/v1alpha1", "Service").kind == "Service"
    assert scheme.for_api_version_kind("eventing.knative.dev/v1beta2", "EventType").kind == (
        "EventType"
    )


def test_printer_columns() -> None:
    names = {rk.kind: [c.name for c in rk.printer_columns] for rk in ALL}
    assert names["Service"] == ["URL", "LatestCreated", "LatestReady", "Ready", "Reason"]
    assert names["PingSource"] == ["Sink", "Schedule", "Age", "Ready", "Reason"]
    assert names["ApiServerSource"] == ["Sink", "Age", "Ready", "Reason"]
    assert names["Channel"] == ["URL", "Age", "Ready", "Reason"]
    assert names["Subscription"] == ["Age", "Ready", "Reason"]
    assert names["Revision"][:2] == ["Config Name", "Generation"]
    for rk in ALL:
        assert "all" in rk.categories
        assert "knative" in rk.categories
        age = [c for c in rk.printer_columns if c.name == "Age"]
        assert all(c.type == "date" and c.json_path == ".metadata.creationTimestamp" for c in age)


class _Item(Model):
    """One thing of the list."""

    name: Annotated[str, doc("Its name.")] = ""


class _Holder(Model):
    """Holds things."""

    things: Annotated[list[_Item], doc("The things.")] = []
    by_name: Annotated[dict[str, _Item], doc("The things by name.")] = {}
    words: Annotated[list[str], doc("Some words.")] = []


def test_model_items_are_described_by_their_model() -> None:
    schema = openapi.schema_of(_Holder)["properties"]
    assert schema["things"]["items"]["description"] == "One thing of the list."
    assert schema["byName"]["additionalProperties"]["description"] == "One thing of the list."
    assert schema["words"]["items"]["description"] == "An item."
