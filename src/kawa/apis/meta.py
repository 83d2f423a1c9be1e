"""Object metadata rules and small readers for Kubernetes-shaped dicts.

Resources travel through kawa as plain dicts (``apiVersion``, ``kind``, ``metadata``,
``spec``, ``status``). This module holds what every kind shares: the name rules of
Kubernetes (DNS-1123 labels and subdomains, label keys and values), the checks that
``labels`` and ``annotations`` are maps of strings (:func:`validate_metadata`, which the
declared :class:`~kawa.apis.model.ObjectMeta` applies), and small total readers of objects
(``namespace_of``, ``annotations_of``...). :class:`Condition` and :class:`ConditionSet` live in
:mod:`kawa.apis.conditions` and are re-exported here.

Called by the kinds' declarations, the controllers, the API server and the CLI.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from typing import Any, Final

from kawa import nesting
from kawa.apis.conditions import Clock, Condition, ConditionSet, system_clock
from kawa.errors import FieldError

__all__ = [
    "DEFAULT_NAMESPACE",
    "Clock",
    "Condition",
    "ConditionSet",
    "Object",
    "annotations_of",
    "dns1123_label_errors",
    "dns1123_subdomain_errors",
    "finalizer_errors",
    "join",
    "json_value_errors",
    "label_key_errors",
    "label_value_errors",
    "metadata_of",
    "namespace_of",
    "read_str",
    "set_observed_generation",
    "string_map_errors",
    "subject_of",
    "system_clock",
    "type_name",
    "validate_metadata",
]

Object = dict[str, Any]
"""A resource as kawa stores and serves it: a JSON-shaped dict."""

DEFAULT_NAMESPACE: Final = "default"

_DNS1123_LABEL: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN: Final = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
)
_QUALIFIED_NAME: Final = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")

DNS1123_LABEL_MAX: Final = 63
DNS1123_SUBDOMAIN_MAX: Final = 253
ANNOTATIONS_MAX_BYTES: Final = 256 * 1024
"""Kubernetes' ``TotalAnnotationSizeLimitB``: the keys and values of an object's annotations
together, in bytes."""
STANDARD_FINALIZERS: Final = frozenset({"kubernetes", "orphan", "foregroundDeletion"})
"""The finalizer names Kubernetes defines; any other must be domain-qualified
(``example.com/cleanup``)."""

_LABEL_HELP: Final = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name' or '123-abc')"
)
_SUBDOMAIN_HELP: Final = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com')"
)
_QUALIFIED_HELP: Final = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character, at most 63 characters (e.g. 'MyName', 'my.name' or '123-abc')"
)


def dns1123_label_errors(value: str) -> list[str]:
    """What is wrong with ``value`` as a DNS-1123 label (a namespace); empty when valid."""
    problems: list[str] = []
    if len(value) > DNS1123_LABEL_MAX:
        problems.append(f"must be no more than {DNS1123_LABEL_MAX} characters")
    if not _DNS1123_LABEL.fullmatch(value):
        problems.append(_LABEL_HELP)
    return problems


def dns1123_subdomain_errors(value: str) -> list[str]:
    """What is wrong with ``value`` as a DNS-1123 subdomain (an object name)."""
    problems: list[str] = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        problems.append(f"must be no more than {DNS1123_SUBDOMAIN_MAX} characters")
    if not _DNS1123_SUBDOMAIN.fullmatch(value):
        problems.append(_SUBDOMAIN_HELP)
    return problems


def label_key_errors(key: str) -> list[str]:
    """What is wrong with ``key`` as a label key: ``[prefix/]name`` with a DNS prefix."""
    prefix, slash, name = key.rpartition("/")
    problems: list[str] = []
    if slash and not prefix:
        problems.append("prefix part must be non-empty")
    elif prefix:
        problems.extend(f"prefix part {p}" for p in dns1123_subdomain_errors(prefix))
    if not name:
        problems.append("name part must be non-empty")
    elif len(name) > DNS1123_LABEL_MAX or not _QUALIFIED_NAME.fullmatch(name):
        problems.append(f"name part {_QUALIFIED_HELP}")
    return problems


def label_value_errors(value: str) -> list[str]:
    """What is wrong with ``value`` as a label value (empty is allowed)."""
    if value and (len(value) > DNS1123_LABEL_MAX or not _QUALIFIED_NAME.fullmatch(value)):
        return [f"a valid label value {_QUALIFIED_HELP}"]
    return []


def validate_metadata(
    metadata: Any, *, namespaced: bool = True, path: str = "metadata"
) -> list[FieldError]:
    """Every problem with an object's ``metadata``: name, namespace, labels, annotations.

    ``namespace`` may be absent (the API server or ``kubectl`` fills it in); when present it
    must be a DNS-1123 label. ``name`` is required and must be a DNS-1123 subdomain.
    """
    if not isinstance(metadata, Mapping):
        return [FieldError(path, f"expected a mapping, got {type_name(metadata)}")]
    errors: list[FieldError] = []
    name = metadata.get("name")
    if name is None or name == "":
        errors.append(FieldError(join(path, "name"), "required field is missing"))
    elif not isinstance(name, str):
        errors.append(FieldError(join(path, "name"), f"expected a string, got {type_name(name)}"))
    else:
        errors.extend(
            FieldError(join(path, "name"), f"invalid value {name!r}: {p}")
            for p in dns1123_subdomain_errors(name)
        )
    namespace = metadata.get("namespace")
    if namespace is not None and namespace != "":
        if not namespaced:
            errors.append(
                FieldError(join(path, "namespace"), "not allowed: this kind is not namespaced")
            )
        elif not isinstance(namespace, str):
            errors.append(
                FieldError(
                    join(path, "namespace"), f"expected a string, got {type_name(namespace)}"
                )
            )
        else:
            errors.extend(
                FieldError(join(path, "namespace"), f"invalid value {namespace!r}: {p}")
                for p in dns1123_label_errors(namespace)
            )
    labels = metadata.get("labels")
    errors.extend(string_map_errors(labels, join(path, "labels")))
    if isinstance(labels, Mapping):
        for key, value in labels.items():
            if not isinstance(key, str) or not isinstance(value, str):
                continue
            errors.extend(
                FieldError(join(path, "labels"), f"invalid key {key!r}: {p}")
                for p in label_key_errors(key)
            )
            errors.extend(
                FieldError(join(path, f"labels[{key}]"), f"invalid value {value!r}: {p}")
                for p in label_value_errors(value)
            )
    annotations = metadata.get("annotations")
    errors.extend(string_map_errors(annotations, join(path, "annotations")))
    if isinstance(annotations, Mapping):
        for key in annotations:
            if isinstance(key, str):
                errors.extend(
                    FieldError(join(path, "annotations"), f"invalid key {key!r}: {p}")
                    for p in label_key_errors(key)
                )
        size = sum(
            len(k.encode()) + len(v.encode())
            for k, v in annotations.items()
            if isinstance(k, str) and isinstance(v, str)
        )
        if size > ANNOTATIONS_MAX_BYTES:
            errors.append(
                FieldError(
                    join(path, "annotations"),
                    f"Too long: must have at most {ANNOTATIONS_MAX_BYTES} bytes (keys and "
                    f"values together), got {size}",
                )
            )
    errors.extend(finalizer_errors(metadata.get("finalizers"), join(path, "finalizers")))
    errors.extend(
        owner_reference_errors(metadata.get("ownerReferences"), join(path, "ownerReferences"))
    )
    return errors


def owner_reference_errors(refs: Any, path: str) -> list[FieldError]:
    """Problems with ``ownerReferences`` (Kubernetes' ``ValidateOwnerReferences``; other
    types are the schema's to report): each names its owner's ``apiVersion`` (with a
    version), ``kind``, ``name`` and ``uid``; a core Event owns nothing; at most one is the
    ``controller``. The garbage collector matches owners by these."""
    if not isinstance(refs, list):
        return []
    errors: list[FieldError] = []
    controllers: list[str] = []
    for i, ref in enumerate(refs):
        if not isinstance(ref, Mapping):
            continue
        at = f"{path}[{i}]"
        api_version = ref.get("apiVersion")
        if not isinstance(api_version, str) or not api_version.rpartition("/")[2]:
            errors.append(FieldError(f"{at}.apiVersion", "version must not be empty"))
        for field in ("kind", "name", "uid"):
            if not ref.get(field):
                errors.append(FieldError(f"{at}.{field}", f"{field} must not be empty"))
        if api_version == "v1" and ref.get("kind") == "Event":
            errors.append(FieldError(at, "a v1 Event is disallowed from being an owner"))
        if ref.get("controller") is True:
            controllers.append(f"{ref.get('kind')}/{ref.get('name')}")
    if len(controllers) > 1:
        errors.append(
            FieldError(
                path,
                'Only one reference can have Controller set to true. Found "true" in '
                f"references for {' and '.join(controllers[:2])}",
            )
        )
    return errors


def finalizer_errors(finalizers: Any, path: str, *, standard: bool = False) -> list[FieldError]:
    """Problems with ``finalizers`` (a list of names; other types are the schema's to report):
    each must be a qualified name (``[prefix/]name``, as a label key), ``orphan`` and
    ``foregroundDeletion`` exclude each other; with ``standard`` (the rule of Kubernetes'
    built-in kinds, and of a Namespace's ``spec.finalizers``) a name without a ``/`` must be
    one Kubernetes defines (:data:`STANDARD_FINALIZERS`)."""
    if not isinstance(finalizers, list):
        return []
    errors: list[FieldError] = []
    for i, name in enumerate(finalizers):
        if not isinstance(name, str):
            continue
        errors.extend(
            FieldError(path, f"invalid value {name!r}: {p}") for p in label_key_errors(name)
        )
        if standard and "/" not in name and name not in STANDARD_FINALIZERS:
            errors.append(
                FieldError(
                    f"{path}[{i}]",
                    f"invalid value {name!r}: name is neither a standard finalizer name nor is "
                    "it fully qualified (e.g. 'example.com/cleanup')",
                )
            )
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        errors.append(
            FieldError(path, "finalizer orphan and foregroundDeletion cannot be both set")
        )
    return errors


def string_map_errors(value: Any, path: str) -> list[FieldError]:
    """Problems with ``value`` as a map of strings to strings (``None`` is fine: absent)."""
    if value is None:
        return []
    if not isinstance(value, Mapping):
        return [FieldError(path, f"expected a map of strings, got {type_name(value)}")]
    errors: list[FieldError] = []
    for key, item in value.items():
        if not isinstance(key, str):
            errors.append(FieldError(path, f"keys must be strings, got {type_name(key)} {key!r}"))
        elif not isinstance(item, str):
            errors.append(
                FieldError(
                    f"{path}[{key}]",
                    f"expected a string, got {type_name(item)} (quote it in YAML)",
                )
            )
    return errors


def type_name(value: Any) -> str:
    """The JSON name of ``value``'s type, for messages ("a list", "a number" ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


# -- readers used by the kinds' parsers: they record a problem and return None -------------


def read_str(
    parent: Mapping[str, Any],
    key: str,
    path: str,
    errors: list[FieldError],
    *,
    required: bool = False,
) -> str | None:
    """``parent[key]`` when it is a string; a missing or empty required one is recorded."""
    value = parent.get(key)
    if value is None or value == "":
        if required:
            errors.append(FieldError(path, "required field is missing"))
        return None
    if not isinstance(value, str):
        errors.append(FieldError(path, f"expected a string, got {type_name(value)}"))
        return None
    return value


def join(path: str, key: str) -> str:
    """``path.key``, or ``key`` alone at the top (``path`` empty); ``[i]`` attaches bare."""
    if not path:
        return key
    return f"{path}{key}" if key.startswith("[") else f"{path}.{key}"


MAX_NESTING: Final = nesting.MAX_NESTING
"""Deepest nesting of objects and lists a resource may have: kawa's one nesting limit
(:data:`kawa.nesting.MAX_NESTING`, the nesting pydantic's JSON parser takes)."""
INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
_JSON_SCALARS: Final = (str, int, float, bool)
_MAX_REPORTED: Final = 20


def json_value_errors(value: Any, path: str = "") -> list[FieldError]:
    """What makes ``value`` no JSON a Kubernetes API takes: objects and lists nested deeper than
    :data:`MAX_NESTING`, numbers JSON or int64 cannot hold (NaN, infinities, integers beyond
    64 bits), map keys that are not strings, values that are not JSON (dates, sets, bytes).
    One error per offending place, the first few only; an empty list when all is well.

    Iterative (no recursion limit to hit); the API server calls it on every request body,
    the CLI on every manifest, so nothing deeper in kawa meets such values.
    """
    errors: list[FieldError] = []
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack and len(errors) < _MAX_REPORTED:
        current, where, depth = stack.pop()
        if isinstance(current, dict | list) and depth > MAX_NESTING:
            errors.append(FieldError(where, nesting.TOO_DEEP))
        elif isinstance(current, dict):
            for key, item in current.items():
                if not isinstance(key, str):
                    errors.append(FieldError(where, f"map keys must be strings, got {key!r}"))
                else:
                    stack.append((item, join(where, key), depth + 1))
        elif isinstance(current, list):
            stack.extend((item, f"{where}[{i}]", depth + 1) for i, item in enumerate(current))
        elif isinstance(current, bool) or current is None:
            continue
        elif isinstance(current, float) and not math.isfinite(current):
            errors.append(FieldError(where, f"expected a finite number, got {current!r}"))
        elif isinstance(current, int) and not INT64_MIN <= current <= INT64_MAX:
            errors.append(
                FieldError(where, "invalid value: an integer must fit in 64 bits (int64)")
            )
        elif not isinstance(current, _JSON_SCALARS):
            errors.append(
                FieldError(
                    where,
                    f"expected JSON data (string, number, boolean, list or map), got {current!r}",
                )
            )
    return errors


def metadata_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """``obj["metadata"]`` or an empty mapping (never raises)."""
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def namespace_of(obj: Mapping[str, Any]) -> str:
    """The object's namespace, ``default`` when it has none (as ``kubectl`` would apply it)."""
    namespace = metadata_of(obj).get("namespace")
    return namespace if isinstance(namespace, str) and namespace else DEFAULT_NAMESPACE


def annotations_of(obj: Mapping[str, Any]) -> dict[str, str]:
    """The object's annotations that are strings (a copy; empty when it has none)."""
    annotations = metadata_of(obj).get("annotations")
    if not isinstance(annotations, Mapping):
        return {}
    return {k: v for k, v in annotations.items() if isinstance(k, str) and isinstance(v, str)}


def subject_of(kind: str, obj: Mapping[str, Any]) -> str:
    """``"Trigger default/name"``: how an object is named in a ValidationError."""
    name = metadata_of(obj).get("name")
    return f"{kind} {namespace_of(obj)}/{name if isinstance(name, str) and name else '?'}"


def set_observed_generation(status: dict[str, Any], generation: int) -> None:
    """Record in ``status`` the ``metadata.generation`` a reconciler has acted on."""
    status["observedGeneration"] = generation


_MIN_HASH: Final = 16
"""Hex digits of a parent's hash a child name keeps at least (else parent and suffix are
hashed together)."""


def child_name(parent: str, suffix: str) -> str:
    """``parent + suffix``, kept within 63 characters: a too long parent is cut and a hash
    of it keeps the name unique (the names of Revisions, OIDC service accounts ...)."""
    name = parent + suffix
    if len(name) <= DNS1123_LABEL_MAX:
        return name
    room = max(0, DNS1123_LABEL_MAX - len(suffix))
    if room < _MIN_HASH:  # the suffix leaves no room for a hash of the parent: hash both
        whole = hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()
        return name[: DNS1123_LABEL_MAX - len(whole)].rstrip("-.") + whole
    digest = hashlib.md5(parent.encode(), usedforsecurity=False).hexdigest()
    head = max(0, room - len(digest))
    return (parent[:head] + digest)[:room] + suffix


def controller_reference(owner: Mapping[str, Any]) -> dict[str, Any]:
    """The controller owner reference to ``owner`` (its own apiVersion and kind): what it
    creates is deleted with it (:mod:`kawa.controllers.gc`)."""
    metadata = metadata_of(owner)
    return {
        "apiVersion": str(owner.get("apiVersion", "")),
        "kind": str(owner.get("kind", "")),
        "name": str(metadata.get("name", "")),
        "uid": str(metadata.get("uid", "")),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def is_controlled_by(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    """Whether ``obj``'s controller owner reference names ``owner`` (by uid)."""
    uid = metadata_of(owner).get("uid")
    return any(
        isinstance(ref, Mapping) and ref.get("controller") is True and ref.get("uid") == uid
        for ref in metadata_of(obj).get("ownerReferences") or ()
    )
