"""Role and ClusterRole (rbac.authorization.k8s.io/v1): named sets of policy rules.

A rule grants ``verbs`` on ``resources`` of ``apiGroups`` (optionally only the objects named
in ``resourceNames``), or, in a ClusterRole only, on ``nonResourceURLs``. The validation is
Kubernetes': verbs are required, a resource rule names at least one group and resource, and
a rule is about resources or URLs, never both. :func:`parse_role` gives the typed rules to
:mod:`kawa.authorization`. Declared in :mod:`kawa.apis.rbac`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, ClassVar, Final

from kawa.apis.model.base import Context, Model, doc
from kawa.apis.model.objects import KubeObject, parse_object
from kawa.apis.model.types import FreeForm
from kawa.errors import FieldError

GROUP: Final = "rbac.authorization.k8s.io"
VERSION: Final = "v1"
API_VERSION: Final = "rbac.authorization.k8s.io/v1"
ROLE: Final = "Role"
CLUSTER_ROLE: Final = "ClusterRole"


class PolicyRule(Model):
    """A rule: the verbs allowed on some resources or non-resource URLs (``*`` matches all)."""

    verbs: Annotated[
        tuple[str, ...],
        doc("Verbs allowed (get, list, watch, create, update, patch, delete, *)."),
    ]
    api_groups: Annotated[
        tuple[str, ...], doc('API groups of the resources ("" is the core group, * any).')
    ] = ()
    resources: Annotated[
        tuple[str, ...], doc("Resources the rule applies to (events, pods/log, * any).")
    ] = ()
    resource_names: Annotated[
        tuple[str, ...],
        doc("Names of the only objects the rule applies to (empty: all of them)."),
    ] = ()
    non_resource_urls: Annotated[
        tuple[str, ...],
        doc("URL paths the rule applies to (ClusterRoles only).", alias="nonResourceURLs"),
    ] = ()

    def check(self, ctx: Context) -> Iterable[FieldError]:
        if not self.verbs:
            yield FieldError("verbs", "verbs must contain at least one value")
        if self.non_resource_urls:
            if ctx.namespaced:
                yield FieldError(
                    "nonResourceURLs", "namespaced rules cannot apply to non-resource URLs"
                )
            if self.api_groups or self.resources:
                yield FieldError(
                    "nonResourceURLs",
                    "rules cannot apply to both regular resources and non-resource URLs",
                )
            return
        if not self.api_groups:
            yield FieldError(
                "apiGroups",
                'resource rules must supply at least one api group ("" is the core group)',
            )
        if not self.resources:
            yield FieldError("resources", "resource rules must supply at least one resource")


class Role(KubeObject):
    """A Role: a named set of rules granting access in its namespace."""

    unknown_field_hints: ClassVar[Mapping[str, str]] = {
        "aggregationRule": "not allowed in a Role (only a ClusterRole aggregates others' rules)"
    }

    rules: Annotated[tuple[PolicyRule, ...], doc("The rules of the Role.")] = ()


class ClusterRole(Role):
    """A ClusterRole: a named set of rules granting access in every namespace, or, through a
    binding, in one."""

    rules: Annotated[tuple[PolicyRule, ...], doc("The rules of the ClusterRole.")] = ()
    aggregation_rule: Annotated[
        FreeForm | None,
        doc("Label selectors of ClusterRoles whose rules are combined into this one."),
    ] = None

    @property
    def namespace(self) -> str:
        """A ClusterRole lives in no namespace."""
        return ""


def parse_role(obj: Mapping[str, Any]) -> Role:
    """A Role or ClusterRole dict (by its ``kind``) validated and typed; raises
    :class:`~kawa.errors.ValidationError` listing every problem."""
    if obj.get("kind") == CLUSTER_ROLE:
        return parse_object(
            ClusterRole, obj, kind=CLUSTER_ROLE, api_versions=(API_VERSION,), namespaced=False
        )
    return parse_object(Role, obj, kind=ROLE, api_versions=(API_VERSION,), namespaced=True)
