"""OpenAPI v3 documents generated from kawa's own resource schemas.

``GET /openapi/v3`` lists one document per served group-version; ``GET
/openapi/v3/apis/<group>/<version>`` (``/openapi/v3/api/v1`` for the core group) describes
its kinds: ``components.schemas`` (each kind with ``x-kubernetes-group-version-kind``, its
``spec``/``status`` schema and a shared ``ObjectMeta``), and ``paths`` whose write operations
declare the ``fieldValidation`` query parameter. kubectl reads these to decide that the server
validates fields itself (so ``kubectl apply`` needs no ``--validate=false``) and ``kubectl
explain`` walks the schemas. Documents are built once per scheme; each URL carries a content
hash so kubectl's cache refreshes when a schema changes.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any, Final

import orjson

from kawa.apis.kinds import ResourceKind
from kawa.apis.model import openapi as model_openapi
from kawa.apis.model.objects import ObjectMeta
from kawa.apis.registry import Scheme

OBJECT_META: Final = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

_OBJECT_META_SCHEMA: Final = model_openapi.schema_of(ObjectMeta)

REFS: Final = {OBJECT_META: _OBJECT_META_SCHEMA}
"""The shared schemas kind schemas point at (for :mod:`kawa.apis.schema_check`)."""

_WRITE_PARAMETERS: Final = [
    {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
    {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
    {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
]
_PATCH_TYPES: Final = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)
_CUSTOM_PATCH_TYPES: Final = tuple(t for t in _PATCH_TYPES if "strategic" not in t)
"""What a custom kind accepts: like a CRD, no strategic merge patch. kubectl's client-side
apply reads this list: it sends a strategic merge patch only where the document offers one,
and a JSON merge patch otherwise."""


BUILTIN_GROUPS: Final = frozenset({"apps", "batch", "autoscaling", "policy"})
"""Kubernetes' own API groups whose names do not end in ``.k8s.io``."""


def is_builtin(group: str) -> bool:
    """Whether kinds of ``group`` are Kubernetes built-ins (strategic merge patch applies)."""
    return not group or group.endswith(".k8s.io") or group in BUILTIN_GROUPS


def schema_name(group: str, version: str, kind: str) -> str:
    """``dev.knative.eventing.v1.Broker``; ``io.k8s.api.core.v1.Pod`` for built-in kinds."""
    if not group:
        return f"io.k8s.api.core.{version}.{kind}"
    if is_builtin(group):
        return f"io.k8s.api.{group.split('.', maxsplit=1)[0]}.{version}.{kind}"
    return ".".join(reversed(group.split("."))) + f".{version}.{kind}"


def _kind_schema(rk: ResourceKind, group: str, version: str, storage: bool) -> dict[str, Any]:
    api_version = f"{group}/{version}" if group else version
    properties: dict[str, Any] = {
        "apiVersion": {
            "type": "string",
            "description": f"The versioned schema of this object: {api_version}.",
        },
        "kind": {"type": "string", "description": f"The kind of this object: {rk.kind}."},
        "metadata": {
            "description": "Standard object metadata.",
            "allOf": [{"$ref": f"#/components/schemas/{OBJECT_META}"}],
        },
    }
    description = str(rk.schema.get("description") or f"{rk.kind} ({api_version}).")
    for name, schema in (rk.schema.get("properties") or {}).items():
        if storage:
            # keyed lists carry x-kubernetes-patch-merge-key from the declaration (MergeKey)
            properties[name] = schema
        else:
            # Other versions are converted on the server: accept their fields as given.
            properties[name] = {
                "type": "object",
                "description": schema.get("description", ""),
                "x-kubernetes-preserve-unknown-fields": True,
            }
    return {
        "type": "object",
        "description": description,
        "properties": properties,
        "x-kubernetes-group-version-kind": [{"group": group, "version": version, "kind": rk.kind}],
    }


def kind_schema(rk: ResourceKind, group: str, version: str, storage: bool) -> dict[str, Any]:
    """The schema of ``rk`` as ``group/version`` (``storage``: the full declaration; other
    versions accept their fields as given, the server converts them)."""
    return _kind_schema(rk, group, version, storage)


_OBJECT_SCHEMAS: dict[tuple[str, str, int], dict[str, Any]] = {}


def object_schema(rk: ResourceKind) -> dict[str, Any]:
    """The schema of a whole stored object of ``rk`` (its storage version; built once per
    declaration: two schemes may declare a kind of the same name differently)."""
    key = (rk.storage_api_version, rk.kind, id(rk.schema))
    found = _OBJECT_SCHEMAS.get(key)
    if found is None:
        group, _, version = rk.storage_api_version.rpartition("/")
        found = _OBJECT_SCHEMAS[key] = _kind_schema(rk, group, version, True)
    return found


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _operation(
    rk: ResourceKind, group: str, version: str, action: str, name: str, body: bool
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": f"{action}{rk.kind}",
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": rk.kind},
        "parameters": list(_WRITE_PARAMETERS) if body else [],
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": _ref(name)}}}
        },
    }
    if body:
        types: tuple[str, ...] = ("application/json",)
        if action == "patch":
            types = _PATCH_TYPES if is_builtin(group) else _CUSTOM_PATCH_TYPES
        schema = {"type": "object"} if action == "patch" else _ref(name)
        op["requestBody"] = {"content": {t: {"schema": schema} for t in types}}
    return op


@functools.cache
def _documents(scheme: Scheme) -> dict[str, bytes]:
    by_gv: dict[tuple[str, str], list[tuple[ResourceKind, bool]]] = {}
    for rk in scheme.kinds:
        for i, api_version in enumerate(rk.served_api_versions):
            group, _, version = api_version.rpartition("/")
            by_gv.setdefault((group, version), []).append((rk, i == 0))
    documents: dict[str, bytes] = {}
    for (group, version), kinds in by_gv.items():
        schemas: dict[str, Any] = {OBJECT_META: _OBJECT_META_SCHEMA}
        paths: dict[str, Any] = {}
        prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
        for rk, storage in kinds:
            name = schema_name(group, version, rk.kind)
            schemas[name] = _kind_schema(rk, group, version, storage)
            scope = f"{prefix}/namespaces/{{namespace}}" if rk.namespaced else prefix
            collection = f"{scope}/{rk.plural}"
            paths[collection] = {
                "get": _operation(rk, group, version, "list", name, False),
                "post": _operation(rk, group, version, "post", name, True),
            }
            paths[f"{collection}/{{name}}"] = {
                "get": _operation(rk, group, version, "get", name, False),
                "put": _operation(rk, group, version, "put", name, True),
                "patch": _operation(rk, group, version, "patch", name, True),
                "delete": _operation(rk, group, version, "delete", name, False),
            }
        doc = {
            "openapi": "3.0.0",
            "info": {"title": "kawa", "version": f"{group or 'core'}/{version}"},
            "paths": paths,
            "components": {"schemas": schemas},
        }
        documents[prefix.lstrip("/")] = orjson.dumps(doc)
    return documents


def index(scheme: Scheme) -> dict[str, Any]:
    """The ``/openapi/v3`` index: one entry per group-version, with a content hash."""
    paths = {}
    for key, body in sorted(_documents(scheme).items()):
        digest = hashlib.sha512(body).hexdigest()[:32].upper()
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return {"paths": paths}


def document(scheme: Scheme, key: str) -> bytes | None:
    """The document of ``api/v1`` or ``apis/<group>/<version>``, or ``None``."""
    return _documents(scheme).get(key)
