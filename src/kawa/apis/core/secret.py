"""The Secret kind (core/v1): base64 ``data`` by config key, with a ``type``.

:meth:`Secret.set_defaults` sets ``type: Opaque`` and folds the write-only ``stringData`` into
``data`` (base64-encoded, ``stringData`` winning on a shared key), as the Kubernetes API
server does. Well-known types must carry their keys (a ``kubernetes.io/tls`` Secret needs
``tls.crt`` and ``tls.key``); ``type`` never changes and an ``immutable`` Secret keeps its
data. The typed view holds the decoded bytes. Declared in :mod:`kawa.apis.core`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final

from kawa.apis import meta
from kawa.apis.core.configmap import (
    MAX_SIZE,
    ConfigKey,
    immutability_errors,
    values_size,
)
from kawa.apis.model.base import STORED, Context, Immutable, doc
from kawa.apis.model.objects import KubeObject, parse_object
from kawa.apis.model.types import Base64Bytes, StringMap
from kawa.errors import FieldError

API_VERSION: Final = "v1"
KIND: Final = "Secret"

OPAQUE: Final = "Opaque"
SERVICE_ACCOUNT_TOKEN: Final = "kubernetes.io/service-account-token"
DOCKERCFG: Final = "kubernetes.io/dockercfg"
DOCKER_CONFIG_JSON: Final = "kubernetes.io/dockerconfigjson"
BASIC_AUTH: Final = "kubernetes.io/basic-auth"
SSH_AUTH: Final = "kubernetes.io/ssh-auth"
TLS: Final = "kubernetes.io/tls"
BOOTSTRAP_TOKEN: Final = "bootstrap.kubernetes.io/token"
SERVICE_ACCOUNT_NAME_ANNOTATION: Final = "kubernetes.io/service-account.name"

_REQUIRED_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    DOCKERCFG: (".dockercfg",),
    DOCKER_CONFIG_JSON: (".dockerconfigjson",),
    SSH_AUTH: ("ssh-privatekey",),
    TLS: ("tls.crt", "tls.key"),
}


class Secret(KubeObject):
    """A Secret: sensitive values (credentials, keys, tokens) by key."""

    type: Annotated[
        str,
        doc(
            "What the Secret holds, and so which keys it must have: Opaque (anything), "
            "kubernetes.io/tls, kubernetes.io/basic-auth, kubernetes.io/service-account-token...",
            max_length=meta.DNS1123_SUBDOMAIN_MAX,
        ),
        Immutable("delete and recreate the Secret to change its type"),
        STORED,
    ] = OPAQUE
    data: Annotated[
        dict[ConfigKey, Base64Bytes] | None,
        doc("Values by key, base64-encoded; keys use letters, digits, '-', '_' and '.'."),
    ] = None
    string_data: Annotated[
        StringMap | None,
        doc("Write-only plain-text values, merged into data on write (they win on a shared key)."),
    ] = None
    immutable: Annotated[
        bool | None, doc("When true, data can no longer change (and immutable stays true).")
    ] = None

    @classmethod
    def set_defaults(cls, data: dict[str, Any], ctx: Context) -> None:
        """``stringData`` folds into ``data`` (values that are not strings stay in place for
        validation to report)."""
        string_data = data.get("stringData")
        if isinstance(string_data, Mapping) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in string_data.items()
        ):
            values = data.get("data")
            if values is None:
                values = data["data"] = {}
            if isinstance(values, dict):
                for key, value in string_data.items():
                    values[key] = base64.b64encode(value.encode()).decode("ascii")
                del data["stringData"]

    def check(self, ctx: Context) -> Iterable[FieldError]:
        data = self.data or {}
        if values_size(data) > MAX_SIZE:
            yield FieldError("data", f"too long: must have at most {MAX_SIZE} bytes")
        for key in _REQUIRED_KEYS.get(self.type, ()):
            if key not in data:
                yield FieldError(f"data[{key}]", f"required for a {self.type} Secret")
        if self.type == BASIC_AUTH and not ({"username", "password"} & data.keys()):
            yield FieldError("data", f"a {self.type} Secret needs username or password")
        if self.type == SERVICE_ACCOUNT_TOKEN and not self.annotations.get(
            SERVICE_ACCOUNT_NAME_ANNOTATION
        ):
            yield FieldError(
                f"metadata.annotations[{SERVICE_ACCOUNT_NAME_ANNOTATION}]",
                "required field is missing",
            )

    @classmethod
    def check_update(cls, old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterable[FieldError]:
        """An immutable Secret keeps ``data`` and ``immutable: true``."""
        return immutability_errors(old, new, ("data",))


def parse_secret(obj: Mapping[str, Any]) -> Secret:
    """A Secret dict defaulted, validated and typed; raises
    :class:`~kawa.errors.ValidationError` listing every problem at its field path."""
    return parse_object(Secret, obj, kind=KIND, api_versions=(API_VERSION,), namespaced=True)


def data_count(obj: Mapping[str, Any]) -> int:
    """The DATA column: how many keys ``data`` holds."""
    data = obj.get("data")
    return len(data) if isinstance(data, Mapping) else 0
