"""RBAC decisions: may this user do this verb on this resource (or non-resource URL)?

Pure functions over Role, ClusterRole, RoleBinding and ClusterRoleBinding dicts, with
Kubernetes' RBAC semantics: ``"*"`` matches any verb, group or resource (``"*/log"`` any
resource's ``log`` subresource); a RoleBinding grants its role only in its own namespace
(also when it binds a ClusterRole); a ClusterRoleBinding grants a ClusterRole everywhere,
cluster-scoped resources and non-resource URLs included (``/healthz``, ``/api/*``); a rule
with ``resourceNames`` allows only requests for one of those names, so never ``list``,
``watch`` or ``create`` (which name no object). A subject matches a user by name (``User``),
by one of its groups (``Group``), or as the user ``system:serviceaccount:<ns>:<name>``
(``ServiceAccount``, its namespace the binding's when empty). Members of ``system:masters``
may do anything, as Kubernetes' authorizer lets them before RBAC. Invalid objects grant
nothing.

Called by the API server (SelfSubjectAccessReview, SubjectAccessReview, impersonated
requests: :mod:`kawa.apiserver.reviews`) and by the ApiServerSource reconciler (its
ServiceAccount's permissions, :mod:`kawa.sources.apiserver.local`): a pure module below both
(ADR 0017), kept pure by its import-linter contracts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from kawa.apis.rbac import binding, role
from kawa.errors import ValidationError

SUPERUSERS: Final = "system:masters"
AUTHENTICATED: Final = "system:authenticated"


@dataclass(frozen=True, slots=True)
class UserInfo:
    """Who asks: a user name and its groups (``uid`` and ``extra`` as given, unused by RBAC)."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def service_account(namespace: str, name: str) -> UserInfo:
    """A ServiceAccount as Kubernetes authenticates it: its user name and groups."""
    return UserInfo(
        f"system:serviceaccount:{namespace}:{name}",
        ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", AUTHENTICATED),
    )


@dataclass(frozen=True, slots=True)
class Attributes:
    """What is asked: a resource request (``resource`` set) or a non-resource one (``path``)."""

    verb: str
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    """``""`` for cluster-scoped resources or requests across all namespaces."""
    name: str = ""
    path: str = ""

    @property
    def is_resource(self) -> bool:
        return not self.path

    @property
    def full_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str = ""


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


def _names_subject(subject: binding.Subject, binding_namespace: str, user: UserInfo) -> bool:
    if subject.kind == binding.SERVICE_ACCOUNT:
        namespace = subject.namespace or binding_namespace
        return bool(namespace) and user.name == f"system:serviceaccount:{namespace}:{subject.name}"
    if subject.kind == binding.USER:
        return subject.name == user.name
    return subject.name in user.groups


def _matches(values: tuple[str, ...], wanted: str) -> bool:
    return "*" in values or wanted in values


def _resource_matches(resources: tuple[str, ...], wanted: str) -> bool:
    if _matches(resources, wanted):
        return True
    _, slash, sub = wanted.partition("/")
    return bool(slash) and f"*/{sub}" in resources


def _url_matches(urls: tuple[str, ...], path: str) -> bool:
    for url in urls:
        if url in ("*", path):
            return True
        if url.endswith("*") and path.startswith(url[:-1]):
            return True
    return False


def rule_allows(
    rule: role.PolicyRule, verb: str, api_group: str, resource: str, resource_name: str = ""
) -> bool:
    """Whether one rule allows ``verb`` on ``resource`` (``pods`` or ``pods/log``) of a group."""
    if not _matches(rule.verbs, verb) or not rule.resources:
        return False
    if not _matches(rule.api_groups, api_group) or not _resource_matches(rule.resources, resource):
        return False
    return not rule.resource_names or resource_name in rule.resource_names


def _rule_allows(rule: role.PolicyRule, attrs: Attributes) -> bool:
    if attrs.is_resource:
        return rule_allows(rule, attrs.verb, attrs.api_group, attrs.full_resource, attrs.name)
    return _matches(rule.verbs, attrs.verb) and _url_matches(rule.non_resource_urls, attrs.path)


def _describe(grant: binding.RoleBinding, granted: role.Role, user: UserInfo) -> str:
    kind = "ClusterRoleBinding" if isinstance(grant, binding.ClusterRoleBinding) else "RoleBinding"
    where = f' in namespace "{grant.namespace}"' if grant.namespace else ""
    role_kind = "ClusterRole" if isinstance(granted, role.ClusterRole) else "Role"
    return (
        f'RBAC: allowed by {kind} "{grant.name}"{where} of {role_kind} "{granted.name}" '
        f'to "{user.name}"'
    )


class Policy:
    """The RBAC objects of one moment, parsed once; asked by :meth:`decide`."""

    def __init__(
        self,
        roles: Iterable[Mapping[str, Any]],
        cluster_roles: Iterable[Mapping[str, Any]],
        role_bindings: Iterable[Mapping[str, Any]],
        cluster_role_bindings: Iterable[Mapping[str, Any]],
    ) -> None:
        self._roles = _parse_roles(roles, role.ROLE)
        self._cluster_roles = _parse_roles(cluster_roles, role.CLUSTER_ROLE)
        self._role_bindings = _parse_bindings(role_bindings, binding.ROLE_BINDING)
        self._cluster_role_bindings = _parse_bindings(
            cluster_role_bindings, binding.CLUSTER_ROLE_BINDING
        )

    @classmethod
    def of(cls, objects: Iterable[Mapping[str, Any]]) -> Policy:
        """A policy from one mixed list of RBAC objects (such as a parsed manifest)."""
        items = list(objects)
        return cls(items, items, items, items)

    def grants(self, user: UserInfo, namespace: str) -> list[tuple[binding.RoleBinding, role.Role]]:
        """The bindings naming ``user`` that apply in ``namespace`` (``""``: cluster-wide
        only), with their roles."""
        out: list[tuple[binding.RoleBinding, role.Role]] = []
        candidates: list[tuple[binding.RoleBinding, role.Role | None]] = [
            (crb, self._cluster_roles.get(("", crb.role_ref.name)))
            for crb in self._cluster_role_bindings
        ]
        if namespace:
            for rb in self._role_bindings:
                if rb.namespace != namespace:
                    continue
                if rb.role_ref.kind == role.ROLE:
                    candidates.append((rb, self._roles.get((rb.namespace, rb.role_ref.name))))
                else:
                    candidates.append((rb, self._cluster_roles.get(("", rb.role_ref.name))))
        for grant, granted in candidates:
            if granted is not None and any(
                _names_subject(s, grant.namespace, user) for s in grant.subjects
            ):
                out.append((grant, granted))
        return out

    def decide(self, user: UserInfo, attrs: Attributes) -> Decision:
        if SUPERUSERS in user.groups:
            return Decision(True, f"kawa: members of {SUPERUSERS} may do anything")
        namespace = attrs.namespace if attrs.is_resource else ""
        for grant, granted in self.grants(user, namespace):
            if any(_rule_allows(rule, attrs) for rule in granted.rules):
                return Decision(True, _describe(grant, granted, user))
        return Decision(False, "")


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
    policy = Policy(roles, cluster_roles, role_bindings, cluster_role_bindings)
    user = service_account(service_account_namespace, service_account_name)
    resource_only, _, sub = resource.partition("/")
    attrs = Attributes(verb, api_group, resource_only, sub, namespace, resource_name)
    return policy.decide(user, attrs).allowed


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


def rules_for(
    policy: Policy, user: UserInfo, namespace: str
) -> tuple[list[role.PolicyRule], list[role.PolicyRule]]:
    """The resource rules and non-resource rules that apply to ``user`` in ``namespace``
    (a SelfSubjectRulesReview)."""
    resource_rules: list[role.PolicyRule] = []
    url_rules: list[role.PolicyRule] = []
    for _, granted in policy.grants(user, namespace):
        for rule in granted.rules:
            (url_rules if rule.non_resource_urls else resource_rules).append(rule)
    return resource_rules, url_rules
