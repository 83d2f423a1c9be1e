"""RoleBinding and ClusterRoleBinding (rbac.authorization.k8s.io/v1).

A binding grants the rules of its ``roleRef`` (a Role or ClusterRole) to its ``subjects``
(ServiceAccounts, users, groups): a RoleBinding inside its namespace, a ClusterRoleBinding
everywhere. As in Kubernetes, ``roleRef`` never changes after creation; subjects'
``apiGroup`` is defaulted. The ``*_cell`` functions compute ``kubectl get`` columns.
Declared in :mod:`kawa.apis.rbac`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator

from kawa.apis import meta
from kawa.apis.model.base import STORED, Context, Model, doc
from kawa.apis.model.objects import KubeObject, parse_object
from kawa.apis.model.types import Text
from kawa.apis.rbac.role import API_VERSION, GROUP
from kawa.errors import FieldError

ROLE_BINDING: Final = "RoleBinding"
CLUSTER_ROLE_BINDING: Final = "ClusterRoleBinding"
SERVICE_ACCOUNT: Final = "ServiceAccount"
USER: Final = "User"
GROUP_SUBJECT: Final = "Group"
SubjectKind = Literal["ServiceAccount", "User", "Group"]
SUBJECT_KINDS: Final = (SERVICE_ACCOUNT, USER, GROUP_SUBJECT)


def _rbac_group(value: str) -> str:
    if value != GROUP:
        raise ValueError(f"invalid value {value!r}: must be {GROUP}")
    return value


class RoleRef(Model):
    """The role granted; it cannot change after creation."""

    api_group: Annotated[
        str, AfterValidator(_rbac_group), doc(f"The role's API group ({GROUP})."), STORED
    ] = GROUP
    kind: Annotated[Literal["Role", "ClusterRole"], doc("Role or ClusterRole.")]
    name: Annotated[Text, doc("The role's name.")]


class ClusterRoleRef(RoleRef):
    """The ClusterRole granted; it cannot change after creation."""

    kind: Annotated[Literal["ClusterRole"], doc("ClusterRole.")]


class Subject(Model):
    """A ServiceAccount, user or group granted the role."""

    kind: Annotated[SubjectKind, doc("ServiceAccount, User or Group.")]
    name: Annotated[Text, doc("Name of the subject.")]
    namespace: Annotated[
        str,
        doc(
            "Namespace of a ServiceAccount subject (required in a ClusterRoleBinding; the "
            "binding's own in a RoleBinding when empty)."
        ),
    ] = ""
    api_group: Annotated[
        str, doc(f'"" for a ServiceAccount, {GROUP} for a User or Group (defaulted).')
    ] = ""

    @classmethod
    def set_defaults(cls, data: dict[str, Any], ctx: Context) -> None:
        """A user's or group's ``apiGroup`` is RBAC's; a ServiceAccount's stays omitted (""),
        as Kubernetes serves it."""
        if "apiGroup" not in data and data.get("kind") in (USER, GROUP_SUBJECT):
            data["apiGroup"] = GROUP

    def check(self, ctx: Context) -> Iterable[FieldError]:
        if self.kind == SERVICE_ACCOUNT:
            if self.api_group:
                yield FieldError("apiGroup", f'invalid value {self.api_group!r}: must be ""')
            for problem in meta.dns1123_subdomain_errors(self.name):
                yield FieldError("name", f"invalid value {self.name!r}: {problem}")
            if not self.namespace and not ctx.namespaced:
                yield FieldError("namespace", "required field is missing")
            for problem in meta.dns1123_label_errors(self.namespace) if self.namespace else ():
                yield FieldError("namespace", f"invalid value {self.namespace!r}: {problem}")
        elif self.api_group != GROUP:
            yield FieldError("apiGroup", f"invalid value {self.api_group!r}: must be {GROUP}")


class RoleBinding(KubeObject):
    """A RoleBinding: grants the rules of a role to subjects in the binding's namespace."""

    role_ref: Annotated[RoleRef, doc("The role granted; it cannot change after creation.")]
    subjects: Annotated[tuple[Subject, ...], doc("Who is granted the role.")] = ()

    @classmethod
    def check_update(cls, old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterable[FieldError]:
        """``roleRef`` never changes: delete and recreate the binding to bind another role."""
        if old.get("roleRef") != new.get("roleRef"):
            yield FieldError("roleRef", "cannot change roleRef; delete and recreate the binding")


class ClusterRoleBinding(RoleBinding):
    """A ClusterRoleBinding: grants the rules of a ClusterRole to subjects in every
    namespace."""

    role_ref: Annotated[
        ClusterRoleRef, doc("The ClusterRole granted; it cannot change after creation.")
    ]

    @property
    def namespace(self) -> str:
        """A ClusterRoleBinding lives in no namespace."""
        return ""


def parse_binding(obj: Mapping[str, Any]) -> RoleBinding:
    """A RoleBinding or ClusterRoleBinding dict (by its ``kind``) defaulted, validated and
    typed; raises :class:`~kawa.errors.ValidationError` listing every problem."""
    if obj.get("kind") == CLUSTER_ROLE_BINDING:
        return parse_object(
            ClusterRoleBinding,
            obj,
            kind=CLUSTER_ROLE_BINDING,
            api_versions=(API_VERSION,),
            namespaced=False,
        )
    return parse_object(
        RoleBinding, obj, kind=ROLE_BINDING, api_versions=(API_VERSION,), namespaced=True
    )


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
