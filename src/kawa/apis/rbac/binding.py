"""RoleBinding and ClusterRoleBinding (rbac.authorization.k8s.io/v1).

A binding grants the rules of its ``roleRef`` (a Role or ClusterRole) to its ``subjects``
(ServiceAccounts, users, groups): a RoleBinding inside its namespace, a ClusterRoleBinding
everywhere. As in Kubernetes, ``roleRef`` never changes after creation; subjects'
``apiGroup`` is defaulted. The ``*_cell`` functions compute ``kubectl get`` columns.
Declared in :mod:`kawa.apis.rbac`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis import meta
from kawa.apis.core import fields
from kawa.apis.core.fields import Schema, s_list, s_obj, s_str
from kawa.apis.rbac.role import API_VERSION, CLUSTER_ROLE, GROUP, ROLE
from kawa.errors import FieldError

ROLE_BINDING: Final = "RoleBinding"
CLUSTER_ROLE_BINDING: Final = "ClusterRoleBinding"
SERVICE_ACCOUNT: Final = "ServiceAccount"
USER: Final = "User"
GROUP_SUBJECT: Final = "Group"
SUBJECT_KINDS: Final = (SERVICE_ACCOUNT, USER, GROUP_SUBJECT)


@dataclass(frozen=True, slots=True)
class RoleRef:
    api_group: str
    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class Subject:
    kind: str
    name: str
    namespace: str = ""
    api_group: str = ""


@dataclass(frozen=True, slots=True)
class RoleBinding:
    """A validated RoleBinding (``namespace`` set) or ClusterRoleBinding (empty)."""

    kind: str
    namespace: str
    name: str
    role_ref: RoleRef
    subjects: tuple[Subject, ...]


def default_binding(obj: Mapping[str, Any]) -> meta.Object:
    """A copy with ``roleRef.apiGroup`` and each subject's ``apiGroup`` defaulted."""
    out = fields.copy_object(obj)
    ref = out.get("roleRef")
    if isinstance(ref, dict) and not ref.get("apiGroup"):
        ref["apiGroup"] = GROUP
    subjects = out.get("subjects")
    for subject in subjects if isinstance(subjects, list) else ():
        # A ServiceAccount's apiGroup is "" (omitted, as Kubernetes serves it).
        if (
            isinstance(subject, dict)
            and "apiGroup" not in subject
            and subject.get("kind") in (USER, GROUP_SUBJECT)
        ):
            subject["apiGroup"] = GROUP
    return out


def _read_subject(
    item: Mapping[str, Any], path: str, errors: list[FieldError], *, namespaced: bool
) -> Subject | None:
    kind = fields.read_enum(item, "kind", f"{path}.kind", errors, SUBJECT_KINDS)
    if kind is None and not item.get("kind"):
        errors.append(FieldError(f"{path}.kind", "required field is missing"))
    name = meta.read_str(item, "name", f"{path}.name", errors, required=True)
    namespace = meta.read_str(item, "namespace", f"{path}.namespace", errors) or ""
    api_group = meta.read_str(item, "apiGroup", f"{path}.apiGroup", errors) or ""
    if kind == SERVICE_ACCOUNT:
        if api_group:
            errors.append(
                FieldError(f"{path}.apiGroup", f'invalid value {api_group!r}: must be ""')
            )
        fields.dns_subdomain(name, f"{path}.name", errors)
        if not namespace and not namespaced:
            errors.append(FieldError(f"{path}.namespace", "required field is missing"))
        fields.dns_label(namespace or None, f"{path}.namespace", errors)
    elif kind in (USER, GROUP_SUBJECT) and api_group != GROUP:
        errors.append(
            FieldError(f"{path}.apiGroup", f"invalid value {api_group!r}: must be {GROUP}")
        )
    if kind is None or name is None:
        return None
    return Subject(kind, name, namespace, api_group)


def parse_binding(obj: Mapping[str, Any]) -> RoleBinding:
    """Validate a RoleBinding or ClusterRoleBinding dict (defaults applied to a copy)."""
    obj = default_binding(obj)
    kind = CLUSTER_ROLE_BINDING if obj.get("kind") == CLUSTER_ROLE_BINDING else ROLE_BINDING
    namespaced = kind == ROLE_BINDING
    errors: list[FieldError] = []
    fields.check_header(obj, API_VERSION, kind, errors, namespaced=namespaced)
    ref = meta.read_mapping(obj, "roleRef", "roleRef", errors)
    ref_kind = ref_name = None
    ref_group = ""
    if ref is None and "roleRef" not in obj:
        errors.append(FieldError("roleRef", "required field is missing"))
    elif ref is not None:
        allowed = (ROLE, CLUSTER_ROLE) if namespaced else (CLUSTER_ROLE,)
        ref_kind = fields.read_enum(ref, "kind", "roleRef.kind", errors, allowed)
        if ref_kind is None and not ref.get("kind"):
            errors.append(FieldError("roleRef.kind", "required field is missing"))
        ref_name = meta.read_str(ref, "name", "roleRef.name", errors, required=True)
        ref_group = meta.read_str(ref, "apiGroup", "roleRef.apiGroup", errors) or ""
        if ref_group != GROUP:
            errors.append(
                FieldError("roleRef.apiGroup", f"invalid value {ref_group!r}: must be {GROUP}")
            )
    subjects = [
        _read_subject(item, path, errors, namespaced=namespaced)
        for path, item in fields.read_mappings(obj, "subjects", "subjects", errors)
    ]
    fields.raise_if(errors, kind, obj, namespaced=namespaced)
    return RoleBinding(
        kind,
        meta.namespace_of(obj) if namespaced else "",
        fields.name_of(obj),
        RoleRef(ref_group, ref_kind or "", ref_name or ""),
        tuple(s for s in subjects if s is not None),
    )


def validate_binding(obj: Mapping[str, Any]) -> None:
    parse_binding(obj)


def validate_binding_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """``roleRef`` never changes: delete and recreate the binding to bind another role."""
    errors: list[FieldError] = []
    if default_binding(old).get("roleRef") != default_binding(new).get("roleRef"):
        errors.append(
            FieldError("roleRef", "cannot change roleRef; delete and recreate the binding")
        )
    kind = str(new.get("kind") or ROLE_BINDING)
    fields.raise_if(errors, kind, new, namespaced=kind == ROLE_BINDING)


# -- kubectl columns ---------------------------------------------------------------------------


def _subjects(obj: Mapping[str, Any], kind: str) -> list[Mapping[str, Any]]:
    subjects = obj.get("subjects")
    if not isinstance(subjects, list):
        return []
    return [s for s in subjects if isinstance(s, Mapping) and s.get("kind") == kind]


def role_cell(obj: Mapping[str, Any]) -> str:
    """ROLE: ``Kind/name`` of the roleRef (``ClusterRole/event-watcher``)."""
    ref = obj.get("roleRef")
    ref = ref if isinstance(ref, Mapping) else {}
    return f"{ref.get('kind') or ''}/{ref.get('name') or ''}"


def users_cell(obj: Mapping[str, Any]) -> str:
    return ", ".join(str(s.get("name") or "") for s in _subjects(obj, USER))


def groups_cell(obj: Mapping[str, Any]) -> str:
    return ", ".join(str(s.get("name") or "") for s in _subjects(obj, GROUP_SUBJECT))


def service_accounts_cell(obj: Mapping[str, Any]) -> str:
    """SERVICEACCOUNTS: ``namespace/name`` of each ServiceAccount subject."""
    return ", ".join(
        f"{s.get('namespace') or ''}/{s.get('name') or ''}" for s in _subjects(obj, SERVICE_ACCOUNT)
    )


def schema(kind: str) -> Schema:
    """The schema of a RoleBinding or ClusterRoleBinding."""
    scope = "in the binding's namespace" if kind == ROLE_BINDING else "in every namespace"
    return s_obj(
        f"A {kind}: grants the rules of a role to subjects {scope}.",
        {
            "roleRef": s_obj(
                "The role granted; it cannot change after creation.",
                {
                    "apiGroup": s_str(f"The role's API group ({GROUP})."),
                    "kind": s_str(
                        "Role or ClusterRole.",
                        enum=(ROLE, CLUSTER_ROLE) if kind == ROLE_BINDING else (CLUSTER_ROLE,),
                    ),
                    "name": s_str("The role's name."),
                },
                required=("apiGroup", "kind", "name"),
            ),
            "subjects": s_list(
                "Who is granted the role.",
                s_obj(
                    "A ServiceAccount, user or group.",
                    {
                        "kind": s_str("ServiceAccount, User or Group.", enum=SUBJECT_KINDS),
                        "name": s_str("Name of the subject."),
                        "namespace": s_str(
                            "Namespace of a ServiceAccount subject (required in a "
                            "ClusterRoleBinding)."
                        ),
                        "apiGroup": s_str(
                            f'"" for a ServiceAccount, {GROUP} for a User or Group (defaulted).'
                        ),
                    },
                    required=("kind", "name"),
                ),
            ),
        },
        required=("roleRef",),
    )
