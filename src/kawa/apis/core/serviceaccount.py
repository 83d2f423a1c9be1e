"""The ServiceAccount kind (core/v1): an identity for the processes of Pods and sources.

RBAC bindings name ServiceAccounts as subjects (:mod:`kawa.sources.apiserver.authorize`); an
ApiServerSource runs as one (``spec.serviceAccountName``). Declared in :mod:`kawa.apis.core`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis import meta
from kawa.apis.core import fields
from kawa.apis.core.fields import s_bool, s_list, s_obj, s_str
from kawa.errors import FieldError

API_VERSION: Final = "v1"
KIND: Final = "ServiceAccount"
DEFAULT_SERVICE_ACCOUNT: Final = "default"


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """A validated ServiceAccount."""

    namespace: str
    name: str
    secrets: tuple[str, ...]
    image_pull_secrets: tuple[str, ...]
    automount_token: bool | None


def default_service_account(obj: Mapping[str, Any]) -> meta.Object:
    """A copy of ``obj`` (a ServiceAccount has no defaults)."""
    return fields.copy_object(obj)


def _names(
    parent: Mapping[str, Any], key: str, path: str, errors: list[FieldError]
) -> tuple[str, ...]:
    names: list[str] = []
    for item_path, item in fields.read_mappings(parent, key, path, errors):
        name = meta.read_str(item, "name", f"{item_path}.name", errors)
        if name is not None:
            names.append(name)
    return tuple(names)


def parse_service_account(obj: Mapping[str, Any]) -> ServiceAccount:
    """Validate a ServiceAccount dict and return its typed view."""
    errors: list[FieldError] = []
    fields.check_header(obj, API_VERSION, KIND, errors, namespaced=True)
    secrets = _names(obj, "secrets", "secrets", errors)
    pull = _names(obj, "imagePullSecrets", "imagePullSecrets", errors)
    automount = fields.read_bool(
        obj, "automountServiceAccountToken", "automountServiceAccountToken", errors
    )
    fields.raise_if(errors, KIND, obj, namespaced=True)
    return ServiceAccount(meta.namespace_of(obj), fields.name_of(obj), secrets, pull, automount)


def validate_service_account(obj: Mapping[str, Any]) -> None:
    parse_service_account(obj)


def validate_service_account_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Every field of a ServiceAccount may change."""


_REFERENCE: Final = s_obj(
    "A reference to a Secret in the ServiceAccount's namespace.",
    {
        "name": s_str("Name of the Secret."),
        "namespace": s_str("Namespace of the Secret (the ServiceAccount's when empty)."),
        "kind": s_str("Kind of the referent (Secret)."),
        "apiVersion": s_str("API version of the referent."),
        "uid": s_str("UID of the referent."),
        "resourceVersion": s_str("Resource version of the referent."),
        "fieldPath": s_str("A field of the referent, when the reference points inside it."),
    },
)

SCHEMA: Final = s_obj(
    "A ServiceAccount: an identity that processes run as, and that RBAC grants rights to.",
    {
        "secrets": s_list("Secrets the ServiceAccount's processes may use.", _REFERENCE),
        "imagePullSecrets": s_list(
            "Secrets holding registry credentials used to pull the images of its Pods.",
            s_obj(
                "A reference to a Secret by name.",
                {"name": s_str("Name of the Secret.")},
            ),
        ),
        "automountServiceAccountToken": s_bool(
            "Whether Pods running as this ServiceAccount get its API token mounted."
        ),
    },
)
