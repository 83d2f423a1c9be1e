"""The ConfigMap kind (core/v1): named string (``data``) and binary (``binaryData``) values.

Keys follow Kubernetes' config key rule (:data:`ConfigKey`, shared with Secrets); a key may
not appear in both maps; the values may not exceed 1 MiB together. An ``immutable: true``
ConfigMap keeps its data forever (:meth:`ConfigMap.check_update`). Declared in
:mod:`kawa.apis.core`; Brokers and Knative's config maps (``config-br-defaults`` ...) are
ConfigMaps.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final

from pydantic import AfterValidator

from kawa.apis import features, meta
from kawa.apis.model.base import Context, doc
from kawa.apis.model.objects import KubeObject, parse_object
from kawa.apis.model.types import Base64Bytes
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


def _config_key(key: str) -> str:
    problems = config_key_errors(key)
    if problems:
        raise ValueError(f"invalid key: {'; '.join(problems)}")
    return key


ConfigKey = Annotated[str, AfterValidator(_config_key)]
"""A key of a ConfigMap or a Secret: letters, digits, ``-``, ``_`` and ``.``."""


def values_size(*maps: Mapping[str, str | bytes] | None) -> int:
    """Bytes of the keys and values of ``maps`` (strings counted as UTF-8)."""
    return sum(
        len(k) + len(v.encode() if isinstance(v, str) else v)
        for m in maps
        for k, v in (m or {}).items()
    )


class ConfigMap(KubeObject):
    """A ConfigMap: configuration values that Pods and controllers read by key."""

    data: Annotated[
        dict[ConfigKey, str] | None,
        doc("UTF-8 values by key; keys use letters, digits, '-', '_' and '.'."),
    ] = None
    binary_data: Annotated[
        dict[ConfigKey, Base64Bytes] | None,
        doc("Binary values by key, base64-encoded; a key may not also appear in data."),
    ] = None
    immutable: Annotated[
        bool | None,
        doc("When true, data and binaryData can no longer change (and immutable stays true)."),
    ] = None

    def check(self, ctx: Context) -> Iterable[FieldError]:
        data, binary = self.data or {}, self.binary_data or {}
        for key in data:
            if key in binary:
                yield FieldError(f"data[{key}]", "duplicate of key present in binaryData")
        if values_size(data, binary) > MAX_SIZE:
            yield FieldError("", f"too long: must have at most {MAX_SIZE} bytes")
        if ctx.namespace == features.NAMESPACE and ctx.name == features.CONFIG_MAP:
            yield from features.errors(data)  # Knative's feature flags (kawa.apis.features)

    @classmethod
    def check_update(cls, old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterable[FieldError]:
        """An immutable ConfigMap keeps ``data``, ``binaryData`` and ``immutable: true``."""
        return immutability_errors(old, new, ("data", "binaryData"))


def parse_config_map(obj: Mapping[str, Any]) -> ConfigMap:
    """A ConfigMap dict defaulted, validated and typed; raises
    :class:`~kawa.errors.ValidationError` listing every problem at its field path."""
    return parse_object(ConfigMap, obj, kind=KIND, api_versions=(API_VERSION,), namespaced=True)


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


def data_count(obj: Mapping[str, Any]) -> int:
    """The DATA column: how many keys ``data`` and ``binaryData`` hold together."""
    return sum(len(v) for k in ("data", "binaryData") if isinstance(v := obj.get(k), Mapping))
