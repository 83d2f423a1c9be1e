from __future__ import annotations

import copy
from typing import Any

import pytest

from kawa.apis import rbac
from kawa.apis.kinds import PrinterColumn
from kawa.apis.rbac import binding, role

from ..helpers import field_errors

API = "rbac.authorization.k8s.io/v1"


def cluster_role(rules: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "ClusterRole",
        "metadata": {"name": "r"},
        "rules": rules,
        **extra,
    }


def ns_role(rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "Role",
        "metadata": {"name": "r", "namespace": "default"},
        "rules": rules,
    }


def crb(subjects: list[dict[str, Any]], **ref: Any) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "b"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "r",
            **ref,
        },
        "subjects": subjects,
    }


def rb(subjects: list[dict[str, Any]], **ref: Any) -> dict[str, Any]:
    obj = crb(subjects, **ref)
    obj["kind"] = "RoleBinding"
    obj["metadata"]["namespace"] = "default"
    return obj


EVENTS_RULE = {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "watch"]}


def test_roles_parse() -> None:
    parsed = role.parse_role(
        cluster_role([EVENTS_RULE, {"nonResourceURLs": ["/healthz"], "verbs": ["get"]}])
    )
    assert parsed.kind == "ClusterRole"
    assert parsed.namespace == ""
    assert parsed.rules[0] == role.PolicyRule(
        verbs=("get", "list", "watch"), api_groups=("",), resources=("events",)
    )
    assert parsed.rules[1].non_resource_urls == ("/healthz",)
    aggregated = role.parse_role(
        cluster_role([], aggregationRule={"clusterRoleSelectors": [{"matchLabels": {"a": "b"}}]})
    )
    assert isinstance(aggregated, role.ClusterRole)
    assert aggregated.aggregation_rule == {"clusterRoleSelectors": [{"matchLabels": {"a": "b"}}]}
    assert role.parse_role(ns_role([EVENTS_RULE])).namespace == "default"


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            cluster_role([{"apiGroups": [""], "resources": ["pods"], "verbs": []}]),
            {"rules[0].verbs": "verbs must contain at least one value"},
        ),
        (
            cluster_role([{"apiGroups": [""], "resources": ["pods"]}]),
            {"rules[0].verbs": "required field is missing"},
        ),
        (
            cluster_role([{"verbs": ["get"]}]),
            {
                "rules[0].apiGroups": (
                    'resource rules must supply at least one api group ("" is the core group)'
                ),
                "rules[0].resources": "resource rules must supply at least one resource",
            },
        ),
        (
            cluster_role(
                [
                    {
                        "verbs": ["get"],
                        "resources": ["pods"],
                        "apiGroups": [""],
                        "nonResourceURLs": ["/x"],
                    }
                ]
            ),
            {
                "rules[0].nonResourceURLs": (
                    "rules cannot apply to both regular resources and non-resource URLs"
                )
            },
        ),
        (
            ns_role([{"verbs": ["get"], "nonResourceURLs": ["/x"]}]),
            {"rules[0].nonResourceURLs": "namespaced rules cannot apply to non-resource URLs"},
        ),
        (
            ns_role([{"verbs": "get", "apiGroups": [""], "resources": ["pods"]}]),
            {"rules[0].verbs": "expected a list, got a string"},
        ),
        (
            {**ns_role([]), "aggregationRule": {}},
            {
                "aggregationRule": "unknown field: not allowed in a Role (only a ClusterRole "
                "aggregates others' rules)"
            },
        ),
        (
            {**cluster_role([]), "metadata": {"name": "r", "namespace": "x"}},
            {"metadata.namespace": "not allowed: this kind is not namespaced"},
        ),
    ],
)
def test_invalid_roles(obj: dict[str, Any], expected: dict[str, str]) -> None:
    found = field_errors(lambda: role.parse_role(obj))
    assert found == expected


def test_bindings_default_subject_api_groups() -> None:
    obj = rb(
        [
            {"kind": "ServiceAccount", "name": "events-sa"},
            {"kind": "User", "name": "jane"},
            {"kind": "Group", "name": "devs"},
        ]
    )
    del obj["roleRef"]["apiGroup"]
    out = rbac.ROLE_BINDING.default(obj)
    # a ServiceAccount's apiGroup stays omitted (""), as Kubernetes serves it
    assert [s.get("apiGroup") for s in out["subjects"]] == [
        None,
        "rbac.authorization.k8s.io",
        "rbac.authorization.k8s.io",
    ]
    assert out["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    assert "apiGroup" not in obj["subjects"][0]
    parsed = binding.parse_binding(obj)
    assert parsed.role_ref == binding.RoleRef(
        api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="r"
    )
    assert parsed.subjects[0] == binding.Subject(kind="ServiceAccount", name="events-sa")
    assert parsed.namespace == "default"


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            crb([{"kind": "ServiceAccount", "name": "sa"}]),
            {"subjects[0].namespace": "required field is missing"},
        ),
        (
            crb([], kind="Role"),
            {"roleRef.kind": "must be one of ClusterRole, got 'Role'"},
        ),
        (
            rb([], kind="Secret"),
            {"roleRef.kind": "must be one of Role, ClusterRole, got 'Secret'"},
        ),
        (
            rb([], apiGroup="example.com"),
            {"roleRef.apiGroup": "invalid value 'example.com': must be rbac.authorization.k8s.io"},
        ),
        (rb([], name=""), {"roleRef.name": "required field is missing"}),
        (
            rb([{"kind": "Robot", "name": "r"}, {"kind": "User"}]),
            {
                "subjects[0].kind": "must be one of ServiceAccount, User, Group, got 'Robot'",
                "subjects[1].name": "required field is missing",
            },
        ),
        (
            rb([{"kind": "ServiceAccount", "name": "sa", "apiGroup": "rbac.authorization.k8s.io"}]),
            {"subjects[0].apiGroup": "invalid value 'rbac.authorization.k8s.io': must be \"\""},
        ),
        (
            rb([{"kind": "ServiceAccount", "name": "Bad_SA", "namespace": "No"}]),
            {
                "subjects[0].name": "invalid value 'Bad_SA': a lowercase RFC 1123 subdomain must "
                "consist of lower case alphanumeric characters, '-' or '.', and must start and end "
                "with an alphanumeric character (e.g. 'example.com')",
                "subjects[0].namespace": "invalid value 'No': a lowercase RFC 1123 label must "
                "consist of lower case alphanumeric characters or '-', and must start and end "
                "with an alphanumeric character (e.g. 'my-name' or '123-abc')",
            },
        ),
        (
            rb([{"kind": "User", "name": "u", "apiGroup": ""}]),
            {"subjects[0].apiGroup": "invalid value '': must be rbac.authorization.k8s.io"},
        ),
    ],
)
def test_invalid_bindings(obj: dict[str, Any], expected: dict[str, str]) -> None:
    assert field_errors(lambda: binding.parse_binding(obj)) == expected


def test_missing_role_ref() -> None:
    obj = rb([])
    del obj["roleRef"]
    assert field_errors(lambda: binding.parse_binding(obj)) == {
        "roleRef": "required field is missing"
    }


def test_role_ref_is_immutable_subjects_are_not() -> None:
    old = crb([{"kind": "ServiceAccount", "name": "sa", "namespace": "default"}])
    more = copy.deepcopy(old)
    more["subjects"].append({"kind": "Group", "name": "g"})
    rbac.CLUSTER_ROLE_BINDING.validate_update(old, more)
    other = crb([], name="admin")
    assert field_errors(lambda: rbac.CLUSTER_ROLE_BINDING.validate_update(old, other)) == {
        "roleRef": "cannot change roleRef; delete and recreate the binding"
    }
    implicit = copy.deepcopy(old)
    del implicit["roleRef"]["apiGroup"]
    rbac.CLUSTER_ROLE_BINDING.validate_update(old, implicit)


def cell(column: PrinterColumn, obj: dict[str, Any]) -> Any:
    assert column.value is not None
    return column.value(obj)


def test_binding_columns() -> None:
    obj = rb(
        [
            {"kind": "ServiceAccount", "name": "events-sa", "namespace": "default"},
            {"kind": "ServiceAccount", "name": "b", "namespace": "x"},
            {"kind": "User", "name": "jane"},
            {"kind": "Group", "name": "devs"},
        ]
    )
    role_col, age, users, groups, sas = rbac.ROLE_BINDING.printer_columns
    assert (age.name, age.type, age.json_path) == ("Age", "date", ".metadata.creationTimestamp")
    assert [(c.name, c.priority) for c in (users, groups, sas)] == [
        ("Users", 1),
        ("Groups", 1),
        ("ServiceAccounts", 1),
    ]
    assert cell(role_col, obj) == "ClusterRole/r"
    assert cell(users, obj) == "jane"
    assert cell(groups, obj) == "devs"
    assert cell(sas, obj) == "default/events-sa, x/b"
    assert cell(users, crb([])) == ""
    assert rbac.CLUSTER_ROLE_BINDING.printer_columns == rbac.ROLE_BINDING.printer_columns
