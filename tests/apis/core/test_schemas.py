"""Every core and rbac kind: a structurally valid schema and a well-formed declaration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from kawa.apis import core, rbac
from kawa.apis.kinds import ResourceKind
from kawa.apis.registry import KINDS as KNATIVE_KINDS
from kawa.apis.registry import Scheme

ALL = (*core.KINDS, *rbac.KINDS)
TYPES = {"object", "array", "string", "integer", "number", "boolean"}


def schema_problems(node: Mapping[str, Any], path: str) -> list[str]:
    problems: list[str] = []
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    type_ = node.get("type")
    if type_ not in TYPES and not preserve:
        problems.append(f"{path}: no type")
    if (
        type_ == "object"
        and not preserve
        and "properties" not in node
        and ("additionalProperties" not in node)
    ):
        problems.append(f"{path}: object without properties or additionalProperties")
    if type_ == "array":
        if not isinstance(node.get("items"), Mapping):
            problems.append(f"{path}: array without items")
        else:
            problems += schema_problems(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), Mapping):
        problems += schema_problems(node["additionalProperties"], f"{path}{{}}")
    for name, child in node.get("properties", {}).items():
        if not str(child.get("description") or "").strip():
            problems.append(f"{path}.{name}: no description")
        problems += schema_problems(child, f"{path}.{name}")
    for name in node.get("required", []):
        if name not in node.get("properties", {}):
            problems.append(f"{path}: required {name} is not a property")
    if "enum" in node and not all(isinstance(v, str) for v in node["enum"]):
        problems.append(f"{path}: enum of non-strings")
    return problems


@pytest.mark.parametrize("rk", ALL, ids=lambda rk: rk.kind)
def test_schema_is_structural_and_described(rk: ResourceKind) -> None:
    assert rk.schema is not None
    assert rk.schema["type"] == "object"
    assert rk.schema["properties"]
    assert schema_problems(rk.schema, rk.kind) == []


def test_the_schema_checker_finds_problems() -> None:
    bad = {
        "type": "object",
        "properties": {
            "a": {"type": "string"},
            "b": {"type": "array", "description": "b"},
            "c": {"description": "c"},
            "d": {"type": "object", "description": "d"},
        },
        "required": ["e"],
    }
    assert schema_problems(bad, "x") == [
        "x.a: no description",
        "x.b: array without items",
        "x.c: no type",
        "x.d: object without properties or additionalProperties",
        "x: required e is not a property",
    ]


def test_kinds_join_the_knative_scheme_without_name_clashes() -> None:
    scheme = Scheme([*KNATIVE_KINDS, *ALL])
    assert scheme.resolve("po") is core.POD
    assert scheme.resolve("ns") is core.NAMESPACE
    assert scheme.resolve("cm") is core.CONFIG_MAP
    assert scheme.resolve("sa") is core.SERVICE_ACCOUNT
    assert scheme.resolve("ev") is core.EVENT
    assert scheme.resolve("clusterrolebindings") is rbac.CLUSTER_ROLE_BINDING
    assert scheme.for_resource("", "v1", "pods") is core.POD
    assert scheme.for_resource("events.k8s.io", "v1", "events") is core.EVENT
    assert scheme.for_api_version_kind("events.k8s.io/v1", "Event") is core.EVENT
    assert scheme.for_resource("rbac.authorization.k8s.io", "v1", "roles") is rbac.ROLE


def test_declarations() -> None:
    assert core.POD.api_versions == ("v1",)
    assert core.POD.resource == "pods"
    assert core.POD.subresources == ("status", "log", "exec", "portforward")
    assert core.POD.categories == ("all",)
    assert not core.NAMESPACE.namespaced
    assert not rbac.CLUSTER_ROLE.namespaced
    assert not rbac.CLUSTER_ROLE_BINDING.namespaced
    assert rbac.ROLE.resource == "roles.rbac.authorization.k8s.io"
    assert core.POD.strategic_merge_keys["spec.containers[].env"] == "name"
    assert core.POD.strategic_merge_keys["spec.containers[].ports"] == "containerPort"
    assert core.POD.strategic_merge_keys["spec.volumes"] == "name"
    assert core.POD.strategic_merge_keys["status.conditions"] == "type"
    assert core.POD.strategic_merge_keys["status.podIPs"] == "ip"
    assert core.SERVICE_ACCOUNT.strategic_merge_keys == {"secrets": "name"}
    assert rbac.ROLE_BINDING.schema is not None
    assert rbac.ROLE_BINDING.schema["required"] == ["roleRef"]
    assert core.EVENT.schema is not None
    assert core.EVENT.schema["required"] == ["involvedObject"]
    headers = [(c.name, c.priority) for c in core.POD.printer_columns]
    assert headers == [
        ("Ready", 0),
        ("Status", 0),
        ("Restarts", 0),
        ("Age", 0),
        ("IP", 1),
        ("Node", 1),
        ("Nominated Node", 1),
        ("Readiness Gates", 1),
    ]
    assert [c.name for c in core.EVENT.printer_columns if c.priority == 0] == [
        "Last Seen",
        "Type",
        "Reason",
        "Object",
        "Message",
    ]
    created = rbac.ROLE.printer_columns[0]
    assert (created.name, created.type, created.json_path, created.description) == (
        "Created At",
        "string",
        ".metadata.creationTimestamp",
        "raw timestamp",
    )
