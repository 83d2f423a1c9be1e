"""The rbac.authorization.k8s.io/v1 API group: Role, ClusterRole, RoleBinding and
ClusterRoleBinding, with the printer columns of Kubernetes' server-side printers.

:mod:`.role` and :mod:`.binding` hold the kinds' rules; whether a ServiceAccount may act on
a resource is decided where it is asked, by :mod:`kawa.authorization`.
:data:`KINDS` is what the scheme registers.
"""

from __future__ import annotations

from typing import Final

from kawa.apis.kinds import PrinterColumn, ResourceKind
from kawa.apis.rbac import binding, role

GROUP: Final = role.GROUP
VERSION: Final = "v1"

CREATED_AT: Final = PrinterColumn(
    "Created At", "string", ".metadata.creationTimestamp", description="raw timestamp"
)
"""Kubernetes prints a role's creation time as RFC 3339 (not as an age): a ``string`` column,
so the table printer shows the value as stored (``date`` columns become ages)."""

_BINDING_COLUMNS: Final = (
    PrinterColumn("Role", "string", value=binding.role_cell),
    PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
    PrinterColumn("Users", "string", value=binding.users_cell, priority=1),
    PrinterColumn("Groups", "string", value=binding.groups_cell, priority=1),
    PrinterColumn("ServiceAccounts", "string", value=binding.service_accounts_cell, priority=1),
)

ROLE: Final = ResourceKind(
    group=GROUP,
    versions=(VERSION,),
    kind=role.ROLE,
    plural="roles",
    singular="role",
    namespaced=True,
    model=role.Role,
    printer_columns=(CREATED_AT,),
    subresources=(),
)

CLUSTER_ROLE: Final = ResourceKind(
    group=GROUP,
    versions=(VERSION,),
    kind=role.CLUSTER_ROLE,
    plural="clusterroles",
    singular="clusterrole",
    namespaced=False,
    model=role.ClusterRole,
    printer_columns=(CREATED_AT,),
    subresources=(),
)

ROLE_BINDING: Final = ResourceKind(
    group=GROUP,
    versions=(VERSION,),
    kind=binding.ROLE_BINDING,
    plural="rolebindings",
    singular="rolebinding",
    namespaced=True,
    model=binding.RoleBinding,
    printer_columns=_BINDING_COLUMNS,
    subresources=(),
)

CLUSTER_ROLE_BINDING: Final = ResourceKind(
    group=GROUP,
    versions=(VERSION,),
    kind=binding.CLUSTER_ROLE_BINDING,
    plural="clusterrolebindings",
    singular="clusterrolebinding",
    namespaced=False,
    model=binding.ClusterRoleBinding,
    printer_columns=_BINDING_COLUMNS,
    subresources=(),
)

KINDS: Final = (ROLE, CLUSTER_ROLE, ROLE_BINDING, CLUSTER_ROLE_BINDING)
"""The rbac.authorization.k8s.io/v1 kinds kawa serves."""

__all__ = [
    "CLUSTER_ROLE",
    "CLUSTER_ROLE_BINDING",
    "CREATED_AT",
    "GROUP",
    "KINDS",
    "ROLE",
    "ROLE_BINDING",
    "VERSION",
]
