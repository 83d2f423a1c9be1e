"""Role and ClusterRole (rbac.authorization.k8s.io/v1): named sets of policy rules.

A rule grants ``verbs`` on ``resources`` of ``apiGroups`` (optionally only the objects named
in ``resourceNames``), or, in a ClusterRole only, on ``nonResourceURLs``. The validation is
Kubernetes': verbs are required, a resource rule names at least one group and resource, and
a rule is about resources or URLs, never both. :func:`read_rules` gives the typed rules to
:mod:`kawa.sources.apiserver.authorize`. Declared in :mod:`kawa.apis.rbac`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis import meta
from kawa.apis.core import fields
from kawa.apis.core.fields import Schema, s_any, s_list, s_obj, s_strs
from kawa.errors import FieldError

GROUP: Final = "rbac.authorization.k8s.io"
API_VERSION: Final = "rbac.authorization.k8s.io/v1"
ROLE: Final = "Role"
CLUSTER_ROLE: Final = "ClusterRole"


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One rule; ``"*"`` in a field matches everything."""

    verbs: tuple[str, ...]
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Role:
    """A validated Role (``namespace`` set) or ClusterRole (``namespace`` empty)."""

    kind: str
    namespace: str
    name: str
    rules: tuple[PolicyRule, ...]
    aggregation_rule: Mapping[str, Any] | None


def read_rules(
    obj: Mapping[str, Any], errors: list[FieldError], *, namespaced: bool
) -> tuple[PolicyRule, ...]:
    """The ``rules`` of a Role (``namespaced``) or ClusterRole, every problem recorded."""
    rules: list[PolicyRule] = []
    for path, item in fields.read_mappings(obj, "rules", "rules", errors):
        verbs = fields.read_str_list(item, "verbs", f"{path}.verbs", errors)
        groups = fields.read_str_list(item, "apiGroups", f"{path}.apiGroups", errors)
        resources = fields.read_str_list(item, "resources", f"{path}.resources", errors)
        names = fields.read_str_list(item, "resourceNames", f"{path}.resourceNames", errors)
        urls = fields.read_str_list(item, "nonResourceURLs", f"{path}.nonResourceURLs", errors)
        if not verbs:
            errors.append(FieldError(f"{path}.verbs", "verbs must contain at least one value"))
        if urls:
            if namespaced:
                errors.append(
                    FieldError(
                        f"{path}.nonResourceURLs",
                        "namespaced rules cannot apply to non-resource URLs",
                    )
                )
            if groups or resources:
                errors.append(
                    FieldError(
                        f"{path}.nonResourceURLs",
                        "rules cannot apply to both regular resources and non-resource URLs",
                    )
                )
        else:
            if not groups:
                errors.append(
                    FieldError(
                        f"{path}.apiGroups",
                        'resource rules must supply at least one api group ("" is the core group)',
                    )
                )
            if not resources:
                errors.append(
                    FieldError(
                        f"{path}.resources", "resource rules must supply at least one resource"
                    )
                )
        rules.append(PolicyRule(verbs, groups, resources, names, urls))
    return tuple(rules)


def default_role(obj: Mapping[str, Any]) -> meta.Object:
    """A copy of ``obj`` (Roles and ClusterRoles have no defaults)."""
    return fields.copy_object(obj)


def parse_role(obj: Mapping[str, Any]) -> Role:
    """Validate a Role or ClusterRole dict (by its ``kind``) and return its typed view."""
    kind = CLUSTER_ROLE if obj.get("kind") == CLUSTER_ROLE else ROLE
    namespaced = kind == ROLE
    errors: list[FieldError] = []
    fields.check_header(obj, API_VERSION, kind, errors, namespaced=namespaced)
    rules = read_rules(obj, errors, namespaced=namespaced)
    aggregation = None
    if not namespaced:
        aggregation = meta.read_mapping(obj, "aggregationRule", "aggregationRule", errors)
    elif "aggregationRule" in obj:
        errors.append(FieldError("aggregationRule", "not allowed in a Role"))
    fields.raise_if(errors, kind, obj, namespaced=namespaced)
    return Role(
        kind,
        meta.namespace_of(obj) if namespaced else "",
        fields.name_of(obj),
        rules,
        aggregation,
    )


def validate_role(obj: Mapping[str, Any]) -> None:
    parse_role(obj)


def validate_role_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """A Role's rules may change freely."""


_RULE: Final = s_obj(
    "A rule: the verbs allowed on some resources or non-resource URLs.",
    {
        "verbs": s_strs("Verbs allowed (get, list, watch, create, update, patch, delete, *)."),
        "apiGroups": s_strs('API groups of the resources ("" is the core group, * any).'),
        "resources": s_strs("Resources the rule applies to (events, pods/log, * any)."),
        "resourceNames": s_strs(
            "Names of the only objects the rule applies to (empty: all of them)."
        ),
        "nonResourceURLs": s_strs("URL paths the rule applies to (ClusterRoles only)."),
    },
    required=("verbs",),
)


def schema(kind: str) -> Schema:
    """The schema of a Role or ClusterRole."""
    properties: dict[str, Schema] = {
        "rules": s_list(f"The rules of the {kind}.", _RULE),
    }
    if kind == CLUSTER_ROLE:
        properties["aggregationRule"] = s_any(
            "Label selectors of ClusterRoles whose rules are combined into this one."
        )
    return s_obj(f"A {kind}: a named set of rules granting access.", properties)
