"""Admission: what every write goes through before the store, so that nothing invalid is
ever stored.

:func:`admit` checks an incoming object against the request path (namespace, name, kind),
converts it to the kind's storage version, drops ``status`` (written only through its
subresource), finds fields the kind's schema does not declare (errors with
``fieldValidation=Strict``, what kubectl sends; dropped with a warning otherwise), defaults
and validates it, and on updates reports changed immutable fields together with the other
errors. :func:`admit_status` type-checks a write of the ``status`` subresource against the
schema. Every problem is a :class:`~kawa.errors.ValidationError` with field paths. Pure;
called by :mod:`kawa.apiserver.writes`.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis import meta, schema_check
from kawa.apis.kinds import ResourceKind
from kawa.apis.model import objects
from kawa.apis.model.parse import validate
from kawa.apiserver import openapi
from kawa.apiserver.requests import Target
from kawa.errors import FieldError, ValidationError
from kawa.store.base import Obj

STRICT: Final = "Strict"
IGNORE: Final = "Ignore"
_NAME_CHARS: Final = string.ascii_lowercase + string.digits


@dataclass(frozen=True, slots=True)
class Admitted:
    """An object ready for the store (storage version, defaulted, valid) and the warnings
    its response carries."""

    obj: Obj
    warnings: tuple[str, ...] = ()


def admit(
    target: Target,
    obj: Obj,
    *,
    name: str | None = None,
    old: Obj | None = None,
    field_validation: str = "Warn",
) -> Admitted:
    """``obj``, written to ``target`` (under ``name`` when the path names it; an update of
    ``old``), as it may be stored. ``field_validation`` is the request's
    ``fieldValidation`` (``Strict``, ``Warn`` or ``Ignore``)."""
    rk = target.kind
    _check_path(target, obj, name)
    converted = rk.to_version(obj, rk.storage_api_version)
    if "status" in rk.subresources:
        converted.pop("status", None)  # status is written through its subresource only
    places = _unknown_fields(rk, converted)
    unknown = [text for text, _ in places]
    warnings: tuple[str, ...] = ()
    if field_validation != STRICT and unknown:
        schema_check.prune(converted, [place for _, place in places])
        if field_validation != IGNORE:
            warnings = tuple(f'unknown field "{p}"' for p in unknown)
        unknown = []
    stored = rk.default(converted)
    found = {FieldError(path, f'unknown field "{path}"'): None for path in unknown}
    found.update((e, None) for e in _finalizer_names(rk, stored) if builtin(rk))
    if not builtin(rk):
        warnings += tuple(_finalizer_warnings(stored))
    unknown_paths = set(unknown)
    subject = meta.subject_of(rk.kind, converted)
    try:
        rk.validate(stored, defaulted=True)
    except ValidationError as err:
        subject = err.subject
        found.update((e, None) for e in err.errors if e.path not in unknown_paths)
        if old is not None:
            # an update: report changed immutable fields together with the other errors
            # (update checks are total: they take any object, valid or not)
            try:
                rk.validate_update(old, stored)
            except ValidationError as more:
                found.update((e, None) for e in more.errors)
    if found:
        raise ValidationError(list(found), subject=subject)
    return Admitted(stored, warnings)


def _check_path(target: Target, obj: Obj, name: str | None) -> None:
    """Fill in and check what the path says of ``obj``: namespace, name, kind, apiVersion
    (a ``generateName`` gets its random suffix here)."""
    rk = target.kind
    metadata = obj.get("metadata")
    if metadata is None:
        metadata = obj["metadata"] = {}
    if not isinstance(metadata, dict):
        raise ValidationError.single("metadata", "expected an object")
    if rk.namespaced:
        given = metadata.get("namespace")
        if given not in (None, "", target.namespace):
            raise ValidationError.single(
                "metadata.namespace",
                f"the namespace of the object ({given}) does not match the namespace of "
                f"the request ({target.namespace})",
            )
        metadata["namespace"] = target.namespace
    else:
        metadata.pop("namespace", None)
    if name is not None and metadata.get("name") not in (None, name):
        raise ValidationError.single("metadata.name", f"must be {name!r}, the name in the URL")
    if name is not None:
        metadata["name"] = name
    if not metadata.get("name") and metadata.get("generateName"):
        suffix = "".join(secrets.choice(_NAME_CHARS) for _ in range(5))
        metadata["name"] = f"{metadata['generateName']}{suffix}"
    obj.setdefault("apiVersion", target.api_version)
    obj.setdefault("kind", rk.kind)
    if obj.get("kind") != rk.kind or obj.get("apiVersion") not in rk.served_api_versions:
        raise ValidationError.single(
            "kind",
            f"expected {rk.kind} ({target.api_version}) at this path, got "
            f"{obj.get('kind')!r} ({obj.get('apiVersion')!r})",
        )


def builtin(rk: ResourceKind) -> bool:
    """Whether ``rk`` is one of Kubernetes' own kinds (core, ``*.k8s.io``, ``apps``,
    ``batch`` ...), not a custom kind."""
    return openapi.is_builtin(rk.group)


def _finalizers(obj: Obj) -> list[Any]:
    found = meta.metadata_of(obj).get("finalizers")
    return found if isinstance(found, list) else []


def _finalizer_names(rk: ResourceKind, obj: Obj) -> list[FieldError]:
    """A built-in kind's rule: names without a domain are those Kubernetes defines."""
    errors = meta.finalizer_errors(_finalizers(obj), "metadata.finalizers", standard=True)
    return [e for e in errors if e.path != "metadata.finalizers"]  # the others: validation's


def _finalizer_warnings(obj: Obj) -> list[str]:
    """A custom kind's finalizers without a domain (allowed, but warned about)."""
    return [
        f'metadata.finalizers[{i}]: "{name}": prefer a domain-qualified finalizer name to '
        "avoid accidental conflicts with other finalizer writers"
        for i, name in enumerate(_finalizers(obj))
        if isinstance(name, str) and "/" not in name and name not in meta.STANDARD_FINALIZERS
    ]


def _unknown_fields(rk: ResourceKind, obj: Obj) -> list[tuple[str, tuple[schema_check.Part, ...]]]:
    """Paths of the fields of ``obj`` the kind's schema does not declare."""
    return schema_check.unknown_field_places(obj, openapi.object_schema(rk), refs=openapi.REFS)


def admit_status(target: Target, obj: Obj) -> Obj:
    """``obj`` in the storage version for a write of its ``status`` subresource: the status
    must have the types the kind's status model declares, and no unknown fields (the spec's
    rules do not apply: a controller writes what it observed)."""
    rk = target.kind
    stored = rk.to_version(obj, rk.storage_api_version)
    status = stored.get("status")
    if status is not None and not isinstance(status, dict):
        raise ValidationError.single("status", "expected an object")
    if isinstance(status, dict) and rk.status is not None:
        problems: list[FieldError] = []
        validate(
            rk.status, status, problems, ctx=objects.context_of(stored), path="status", rules=False
        )
        if problems:
            raise ValidationError(problems, subject=f"{rk.kind} {target.name}")
    return stored
