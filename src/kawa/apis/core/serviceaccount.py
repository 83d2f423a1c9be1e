"""The ServiceAccount kind (core/v1): an identity for the processes of Pods and sources.

RBAC bindings name ServiceAccounts as subjects (:mod:`kawa.authorization`); an
ApiServerSource runs as one (``spec.serviceAccountName``). Declared in :mod:`kawa.apis.core`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

from kawa.apis.core.references import LocalObjectReference, ObjectReference
from kawa.apis.model.base import MergeKey, doc
from kawa.apis.model.objects import KubeObject, parse_object

API_VERSION: Final = "v1"
KIND: Final = "ServiceAccount"
DEFAULT_SERVICE_ACCOUNT: Final = "default"


class ServiceAccount(KubeObject):
    """A ServiceAccount: an identity that processes run as, and that RBAC grants rights to."""

    secrets: Annotated[
        list[ObjectReference],
        doc("Secrets the ServiceAccount's processes may use (in its namespace)."),
        MergeKey("name"),
    ] = []
    image_pull_secrets: Annotated[
        list[LocalObjectReference],
        doc("Secrets holding registry credentials used to pull the images of its Pods."),
    ] = []
    automount_service_account_token: Annotated[
        bool | None, doc("Whether Pods running as this ServiceAccount get its API token mounted.")
    ] = None


def parse_service_account(obj: Mapping[str, Any]) -> ServiceAccount:
    """A ServiceAccount dict defaulted, validated and typed; raises
    :class:`~kawa.errors.ValidationError` listing every problem at its field path."""
    return parse_object(
        ServiceAccount, obj, kind=KIND, api_versions=(API_VERSION,), namespaced=True
    )
