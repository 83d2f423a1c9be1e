"""The Secret kind (core/v1): base64 ``data`` by config key, with a ``type``.

:func:`default_secret` sets ``type: Opaque`` and folds the write-only ``stringData`` into
``data`` (base64-encoded, ``stringData`` winning on a shared key), as the Kubernetes API
server does. Well-known types must carry their keys (a ``kubernetes.io/tls`` Secret needs
``tls.crt`` and ``tls.key``); ``type`` never changes and an ``immutable`` Secret keeps its
data. Declared in :mod:`kawa.apis.core`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis import meta
from kawa.apis.core import configmap, fields
from kawa.apis.core.fields import s_bool, s_map, s_obj, s_str
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


@dataclass(frozen=True, slots=True)
class Secret:
    """A validated Secret; ``data`` holds decoded bytes."""

    namespace: str
    name: str
    type: str
    data: dict[str, bytes]
    immutable: bool


def default_secret(obj: Mapping[str, Any]) -> meta.Object:
    """A copy of ``obj`` with ``type`` defaulted and ``stringData`` merged into ``data``.

    Values of ``stringData`` that are not strings are left in place for validation to report.
    """
    out = fields.copy_object(obj)
    if not out.get("type"):
        out["type"] = OPAQUE
    string_data = out.get("stringData")
    if isinstance(string_data, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in string_data.items()
    ):
        data = out.get("data")
        if data is None:
            data = out["data"] = {}
        if isinstance(data, dict):
            for key, value in string_data.items():
                data[key] = base64.b64encode(value.encode()).decode("ascii")
            del out["stringData"]
    return out


def parse_secret(obj: Mapping[str, Any]) -> Secret:
    """Validate a Secret dict (defaults applied to a copy) and return its typed view."""
    obj = default_secret(obj)
    errors: list[FieldError] = []
    fields.check_header(obj, API_VERSION, KIND, errors, namespaced=True)
    if "stringData" in obj:
        errors.extend(meta.string_map_errors(obj["stringData"], "stringData"))
    type_ = meta.read_str(obj, "type", "type", errors) or OPAQUE
    if len(type_) > meta.DNS1123_SUBDOMAIN_MAX:
        errors.append(
            FieldError("type", f"must be no more than {meta.DNS1123_SUBDOMAIN_MAX} characters")
        )
    data = configmap.read_data_map(obj, "data", errors, base64_values=True)
    size = sum(len(k) + configmap.decoded_size(v) for k, v in data.items())
    if size > configmap.MAX_SIZE:
        errors.append(FieldError("data", f"too long: must have at most {configmap.MAX_SIZE} bytes"))
    errors.extend(
        FieldError(f"data[{key}]", f"required for a {type_} Secret")
        for key in _REQUIRED_KEYS.get(type_, ())
        if key not in data
    )
    if type_ == BASIC_AUTH and not ({"username", "password"} & data.keys()):
        errors.append(FieldError("data", f"a {type_} Secret needs username or password"))
    if type_ == SERVICE_ACCOUNT_TOKEN and not meta.annotations_of(obj).get(
        SERVICE_ACCOUNT_NAME_ANNOTATION
    ):
        errors.append(
            FieldError(
                f"metadata.annotations[{SERVICE_ACCOUNT_NAME_ANNOTATION}]",
                "required field is missing",
            )
        )
    immutable = fields.read_bool(obj, "immutable", "immutable", errors)
    fields.raise_if(errors, KIND, obj, namespaced=True)
    return Secret(
        meta.namespace_of(obj),
        fields.name_of(obj),
        type_,
        {k: base64.b64decode(v) for k, v in data.items()},
        bool(immutable),
    )


def validate_secret(obj: Mapping[str, Any]) -> None:
    parse_secret(obj)


def validate_secret_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """``type`` never changes; an immutable Secret keeps ``data`` and ``immutable: true``."""
    old_d, new_d = default_secret(old), default_secret(new)
    errors: list[FieldError] = []
    fields.immutable(old_d.get("type"), new_d.get("type"), "type", errors)
    errors.extend(configmap.immutability_errors(old_d, new_d, ("data",)))
    fields.raise_if(errors, KIND, new, namespaced=True)


def data_count(obj: Mapping[str, Any]) -> int:
    """The DATA column: how many keys ``data`` holds."""
    data = obj.get("data")
    return len(data) if isinstance(data, Mapping) else 0


SCHEMA: Final = s_obj(
    "A Secret: sensitive values (credentials, keys, tokens) by key.",
    {
        "type": s_str(
            "What the Secret holds, and so which keys it must have: Opaque (anything), "
            "kubernetes.io/tls, kubernetes.io/basic-auth, kubernetes.io/service-account-token..."
        ),
        "data": s_map("Values by key, base64-encoded; keys use letters, digits, '-', '_' and '.'."),
        "stringData": s_map(
            "Write-only plain-text values, merged into data on write (they win on a shared key)."
        ),
        "immutable": s_bool("When true, data can no longer change (and immutable stays true)."),
    },
)
