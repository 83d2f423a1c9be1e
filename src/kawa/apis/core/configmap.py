"""The ConfigMap kind (core/v1): named string (``data``) and binary (``binaryData``) values.

Keys follow Kubernetes' config key rule (:func:`config_key_errors`, shared with Secrets); a
key may not appear in both maps. An ``immutable: true`` ConfigMap keeps its data forever
(:func:`validate_config_map_update`). Declared in :mod:`kawa.apis.core`; Brokers and
Knative's config maps (``config-br-defaults`` ...) are ConfigMaps.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis import meta
from kawa.apis.core import fields
from kawa.apis.core.fields import s_bool, s_map, s_obj
from kawa.errors import FieldError

API_VERSION: Final = "v1"
KIND: Final = "ConfigMap"

MAX_SIZE: Final = 1024 * 1024
"""Kubernetes' limit on the total size of a ConfigMap's or Secret's values (1 MiB)."""

_CONFIG_KEY: Final = re.compile(r"[-._a-zA-Z0-9]+")
_CONFIG_KEY_HELP: Final = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
    "(e.g. 'key.name', or 'KEY_NAME', or 'key-name', regex used for validation is "
    "'[-._a-zA-Z0-9]+')"
)


def config_key_errors(key: str) -> list[str]:
    """What is wrong with ``key`` as a ConfigMap/Secret key; empty when valid."""
    problems: list[str] = []
    if len(key) > meta.DNS1123_SUBDOMAIN_MAX:
        problems.append(f"must be no more than {meta.DNS1123_SUBDOMAIN_MAX} characters")
    if not _CONFIG_KEY.fullmatch(key):
        problems.append(_CONFIG_KEY_HELP)
    if key in (".", ".."):
        problems.append(f"must not be {key!r}")
    elif key.startswith(".."):
        problems.append("must not start with '..'")
    return problems


def read_data_map(
    obj: Mapping[str, Any], key: str, errors: list[FieldError], *, base64_values: bool
) -> dict[str, str]:
    """``obj[key]`` as a map of valid config keys to strings (base64 ones decoded-checked)."""
    value = obj.get(key)
    errors.extend(meta.string_map_errors(value, key))
    if not isinstance(value, Mapping):
        return {}
    out: dict[str, str] = {}
    for name, item in value.items():
        if not isinstance(name, str) or not isinstance(item, str):
            continue
        bad = config_key_errors(name)
        errors.extend(FieldError(f"{key}[{name}]", f"invalid key: {p}") for p in bad)
        if base64_values and not is_base64(item):
            errors.append(
                FieldError(f"{key}[{name}]", "invalid value: expected base64-encoded data")
            )
            continue
        if not bad:
            out[name] = item
    return out


def is_base64(value: str) -> bool:
    """Whether ``value`` is standard base64 (with padding), as Kubernetes' ``[]byte`` needs."""
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def decoded_size(value: str) -> int:
    """Bytes encoded by a base64 string (already validated)."""
    return len(value) * 3 // 4 - value[-2:].count("=") if value else 0


@dataclass(frozen=True, slots=True)
class ConfigMap:
    """A validated ConfigMap; ``binary_data`` holds decoded bytes."""

    namespace: str
    name: str
    data: dict[str, str]
    binary_data: dict[str, bytes]
    immutable: bool


def default_config_map(obj: Mapping[str, Any]) -> meta.Object:
    """A copy of ``obj`` (a ConfigMap has no defaults)."""
    return fields.copy_object(obj)


def parse_config_map(obj: Mapping[str, Any]) -> ConfigMap:
    """Validate a ConfigMap dict and return its typed view."""
    errors: list[FieldError] = []
    fields.check_header(obj, API_VERSION, KIND, errors, namespaced=True)
    data = read_data_map(obj, "data", errors, base64_values=False)
    binary = read_data_map(obj, "binaryData", errors, base64_values=True)
    errors.extend(
        FieldError(f"data[{key}]", "duplicate of key present in binaryData")
        for key in data
        if key in binary
    )
    size = sum(len(k) + len(v.encode()) for k, v in data.items())
    size += sum(len(k) + decoded_size(v) for k, v in binary.items())
    if size > MAX_SIZE:
        errors.append(FieldError("", f"too long: must have at most {MAX_SIZE} bytes"))
    immutable = fields.read_bool(obj, "immutable", "immutable", errors)
    fields.raise_if(errors, KIND, obj, namespaced=True)
    return ConfigMap(
        meta.namespace_of(obj),
        fields.name_of(obj),
        data,
        {k: base64.b64decode(v) for k, v in binary.items()},
        bool(immutable),
    )


def validate_config_map(obj: Mapping[str, Any]) -> None:
    parse_config_map(obj)


def immutability_errors(
    old: Mapping[str, Any], new: Mapping[str, Any], data_keys: tuple[str, ...]
) -> list[FieldError]:
    """Kubernetes' rules for ``immutable: true`` ConfigMaps and Secrets."""
    if old.get("immutable") is not True:
        return []
    errors: list[FieldError] = []
    if new.get("immutable") is not True:
        errors.append(FieldError("immutable", "field is immutable when `immutable` is set"))
    for key in data_keys:
        if (old.get(key) or {}) != (new.get(key) or {}):
            errors.append(FieldError(key, "field is immutable when `immutable` is set"))
    return errors


def validate_config_map_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """An immutable ConfigMap keeps ``data``, ``binaryData`` and ``immutable: true``."""
    errors = immutability_errors(old, new, ("data", "binaryData"))
    fields.raise_if(errors, KIND, new, namespaced=True)


def data_count(obj: Mapping[str, Any]) -> int:
    """The DATA column: how many keys ``data`` and ``binaryData`` hold together."""
    return sum(len(v) for k in ("data", "binaryData") if isinstance(v := obj.get(k), Mapping))


SCHEMA: Final = s_obj(
    "A ConfigMap: configuration values that Pods and controllers read by key.",
    {
        "data": s_map("UTF-8 values by key; keys use letters, digits, '-', '_' and '.'."),
        "binaryData": s_map(
            "Binary values by key, base64-encoded; a key may not also appear in data."
        ),
        "immutable": s_bool(
            "When true, data and binaryData can no longer change (and immutable stays true)."
        ),
    },
)
