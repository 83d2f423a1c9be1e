"""RBAC decisions for ServiceAccounts: may this account do this verb on this resource?

A pure function over Role, ClusterRole, RoleBinding and ClusterRoleBinding dicts, with
Kubernetes' RBAC semantics: ``"*"`` matches any verb, group or resource (``"*/log"`` any
resource's ``log`` subresource); a RoleBinding grants its role only in its own namespace
(also when it binds a ClusterRole); a ClusterRoleBinding grants a ClusterRole everywhere,
cluster-scoped resources included; a rule with ``resourceNames`` allows only requests for
one of those names, so never ``list``, ``watch`` or ``create`` (which name no object). A
ServiceAccount is matched as a ``ServiceAccount`` subject, as the user
``system:serviceaccount:<ns>:<name>`` and as the groups ``system:serviceaccounts``,
``system:serviceaccounts:<ns>`` and ``system:authenticated``. Invalid objects grant nothing.

Pure (no I/O). Called by :mod:`.local` for the ApiServerSource reconciler, which checks that
the source's ServiceAccount may get, list and watch the resources it follows. It lives with
its only caller; should kawa's API server authorize requests by RBAC too, it moves to a pure
package below both (``docs/decisions/0017-what-lives-in-apis.md``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kawa.apis.rbac import binding, role
from kawa.errors import ValidationError


def _parse_roles(objs: Iterable[Mapping[str, Any]], kind: str) -> dict[tuple[str, str], role.Role]:
    out: dict[tuple[str, str], role.Role] = {}
    for obj in objs:
        if obj.get("kind") != kind:
            continue
        try:
            parsed = role.parse_role(obj)
        except ValidationError:
            continue
        out[(parsed.namespace, parsed.name)] = parsed
    return out


def _parse_bindings(objs: Iterable[Mapping[str, Any]], kind: str) -> list[binding.RoleBinding]:
    out: list[binding.RoleBinding] = []
    for obj in objs:
        if obj.get("kind") != kind:
            continue
        try:
            out.append(binding.parse_binding(obj))
        except ValidationError:
            continue
    return out


def _names_subject(
    subject: binding.Subject, binding_namespace: str, sa_namespace: str, sa_name: str
) -> bool:
    if subject.kind == binding.SERVICE_ACCOUNT:
        namespace = subject.namespace or binding_namespace
        return subject.name == sa_name and namespace == sa_namespace
    if subject.kind == binding.USER:
        return subject.name == f"system:serviceaccount:{sa_namespace}:{sa_name}"
    return subject.name in (
        "system:serviceaccounts",
        f"system:serviceaccounts:{sa_namespace}",
        "system:authenticated",
    )


def _matches(values: tuple[str, ...], wanted: str) -> bool:
    return "*" in values or wanted in values


def _resource_matches(resources: tuple[str, ...], wanted: str) -> bool:
    if _matches(resources, wanted):
        return True
    _, slash, sub = wanted.partition("/")
    return bool(slash) and f"*/{sub}" in resources


def rule_allows(
    rule: role.PolicyRule, verb: str, api_group: str, resource: str, resource_name: str = ""
) -> bool:
    """Whether one rule allows ``verb`` on ``resource`` (``pods`` or ``pods/log``) of a group."""
    if not _matches(rule.verbs, verb) or not rule.resources:
        return False
    if not _matches(rule.api_groups, api_group) or not _resource_matches(rule.resources, resource):
        return False
    return not rule.resource_names or resource_name in rule.resource_names


def allowed(
    roles: Iterable[Mapping[str, Any]],
    cluster_roles: Iterable[Mapping[str, Any]],
    role_bindings: Iterable[Mapping[str, Any]],
    cluster_role_bindings: Iterable[Mapping[str, Any]],
    *,
    service_account_namespace: str,
    service_account_name: str,
    verb: str,
    api_group: str,
    resource: str,
    namespace: str,
    resource_name: str = "",
) -> bool:
    """Whether the ServiceAccount may ``verb`` the ``resource`` of ``api_group`` in ``namespace``.

    ``namespace`` is ``""`` for cluster-scoped resources or requests across all namespaces
    (which only ClusterRoleBindings can allow). ``api_group`` is ``""`` for the core group.
    """
    by_role = _parse_roles(roles, role.ROLE)
    by_cluster_role = _parse_roles(cluster_roles, role.CLUSTER_ROLE)
    grants: list[tuple[binding.RoleBinding, role.Role | None]] = []
    for crb in _parse_bindings(cluster_role_bindings, binding.CLUSTER_ROLE_BINDING):
        grants.append((crb, by_cluster_role.get(("", crb.role_ref.name))))
    if namespace:
        for rb in _parse_bindings(role_bindings, binding.ROLE_BINDING):
            if rb.namespace != namespace:
                continue
            if rb.role_ref.kind == role.ROLE:
                grants.append((rb, by_role.get((rb.namespace, rb.role_ref.name))))
            else:
                grants.append((rb, by_cluster_role.get(("", rb.role_ref.name))))
    for grant, granted in grants:
        if granted is None:
            continue
        if not any(
            _names_subject(s, grant.namespace, service_account_namespace, service_account_name)
            for s in grant.subjects
        ):
            continue
        if any(rule_allows(r, verb, api_group, resource, resource_name) for r in granted.rules):
            return True
    return False


def allowed_by_objects(
    objects: Iterable[Mapping[str, Any]],
    *,
    service_account_namespace: str,
    service_account_name: str,
    verb: str,
    api_group: str,
    resource: str,
    namespace: str,
    resource_name: str = "",
) -> bool:
    """:func:`allowed` over one mixed list of RBAC objects (such as a parsed manifest)."""
    items = list(objects)
    return allowed(
        items,
        items,
        items,
        items,
        service_account_namespace=service_account_namespace,
        service_account_name=service_account_name,
        verb=verb,
        api_group=api_group,
        resource=resource,
        namespace=namespace,
        resource_name=resource_name,
    )
