"""Writes of resources: create, replace, patch (four patch types) and the status subresource.

Every write goes through admission (:mod:`kawa.apiserver.admission`) before the store;
an update then goes through the kind's strategy (:mod:`kawa.apiserver.strategies`: fields
only the API server sets) and its update rules. ``dryRun=All`` answers without storing.
Namespaced objects need their namespace. Called by :class:`kawa.apiserver.server.ApiServer`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from kawa.apis.registry import Scheme
from kawa.apiserver import admission, strategies
from kawa.apiserver import patch as patches
from kawa.apiserver.requests import Target, dry_run, read_body, read_object
from kawa.apiserver.responses import WARNINGS, render, respond
from kawa.apiserver.status import UnsupportedMediaTypeError
from kawa.errors import ConflictError, NotFoundError, ValidationError
from kawa.store.base import Obj, ResourceKey, ResourceStore

PATCH_ATTEMPTS: Final = 5
"""How often a patch that pins no resourceVersion is applied again after losing a race."""


class Writes:
    """The write handlers (see the module docstring)."""

    def __init__(self, store: ResourceStore, scheme: Scheme) -> None:
        self._store = store
        self._namespace_kind = scheme.for_resource("", "v1", "namespaces")

    def _admit(self, request: web.Request, target: Target, obj: Obj, old: Obj | None = None) -> Obj:
        """Admission of ``obj`` (named by the path when it names one); its warnings go
        into the response."""
        admitted = admission.admit(
            target,
            obj,
            name=target.name,
            old=old,
            field_validation=request.query.get("fieldValidation", "Warn"),
        )
        if admitted.warnings:
            request.setdefault(WARNINGS, []).extend(admitted.warnings)
        return admitted.obj

    async def _check_namespace(self, target: Target) -> None:
        if self._namespace_kind is None or not target.kind.namespaced:
            return
        try:
            await self._store.get(
                ResourceKey(self._namespace_kind.resource, "", target.namespace or "")
            )
        except NotFoundError:
            raise NotFoundError(f'namespaces "{target.namespace}" not found') from None

    async def create(self, request: web.Request, target: Target) -> web.Response:
        obj = self._admit(request, target, await read_object(request))
        await self._check_namespace(target)
        if dry_run(request):
            return respond(request, target, obj, 201)
        created = await self._store.create(target.key(obj["metadata"]["name"]), obj)
        return respond(request, target, created, 201)

    async def replace(self, request: web.Request, target: Target) -> web.Response:
        body = await read_object(request)
        old = await self._store.get(target.key())
        return await self._update(request, target, self._admit(request, target, body, old), old)

    async def _update(
        self, request: web.Request, target: Target, obj: Obj, old: Obj
    ) -> web.Response:
        """Write ``obj``, admitted and checked against ``old`` (the stored object read for
        its admission; a write in between is refused by the store when ``obj`` names a
        resourceVersion, as a patch always does, and wins otherwise, as in Kubernetes)."""
        key = target.key()
        strategies.for_kind(target.kind).prepare_for_update(old, obj)
        target.kind.validate_update(old, obj)
        if dry_run(request):
            return respond(request, target, obj)
        return respond(request, target, await self._store.update(key, obj))

    async def patch(self, request: web.Request, target: Target) -> web.Response:
        body = await read_body(request)
        # Like Kubernetes, a patch that does not name a resourceVersion is applied to the
        # latest object: when a controller wrote in between, it is applied again.
        pinned = _names_resource_version(body)
        for attempt in range(PATCH_ATTEMPTS):
            try:
                return await self._patch_once(request, target, body)
            except ConflictError:
                if pinned or attempt == PATCH_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def _patch_once(self, request: web.Request, target: Target, body: Any) -> web.Response:
        rk = target.kind
        key = target.key()
        content_type = request.content_type
        try:
            current_stored = await self._store.get(key)
        except NotFoundError:
            if content_type != "application/apply-patch+yaml":
                raise
            # Server-side apply of a new object is a create.
            if not isinstance(body, dict):
                raise ValidationError.single("", "an apply patch must be an object") from None
            obj = self._admit(request, target, body)
            await self._check_namespace(target)
            return respond(request, target, await self._store.create(key, obj), 201)
        current = render(target, current_stored)
        if content_type == "application/merge-patch+json":
            patched = patches.merge_patch(current, body)
        elif content_type == "application/json-patch+json":
            patched = patches.json_patch(current, body)
        elif content_type == "application/strategic-merge-patch+json":
            if rk.group and not rk.group.endswith(".k8s.io"):
                raise UnsupportedMediaTypeError(
                    f"strategic merge patch is not supported for {rk.kind} (a custom kind): "
                    "use a JSON merge patch (kubectl patch --type merge)"
                )
            patched = patches.strategic_merge_patch(current, body, rk.strategic_merge_keys)
        elif content_type == "application/apply-patch+yaml":
            patched = patches.merge_patch(current, body)
        else:
            raise UnsupportedMediaTypeError(f"unsupported patch type {content_type!r}")
        if not isinstance(patched, dict):
            raise ValidationError.single("", "the patched object is not an object")
        metadata = patched.setdefault("metadata", {})
        if not isinstance(metadata, dict):
            raise ValidationError.single("metadata", "expected an object")
        current_version = str(current["metadata"].get("resourceVersion", ""))
        if _names_resource_version(body) and str(metadata.get("resourceVersion")) != (
            current_version
        ):
            raise ConflictError(
                f'Operation cannot be fulfilled on {rk.plural} "{key.name}": the object has '
                "been modified; please apply your changes to the latest version and try again"
            )
        metadata["resourceVersion"] = current_version
        if target.subresource == "status":
            return await self._write_status(request, target, patched)
        obj = self._admit(request, target, patched, current_stored)
        return await self._update(request, target, obj, current_stored)

    async def replace_status(self, request: web.Request, target: Target) -> web.Response:
        return await self._write_status(request, target, await read_object(request))

    async def _write_status(self, request: web.Request, target: Target, obj: Obj) -> web.Response:
        stored = admission.admit_status(target, obj)
        updated = await self._store.update(target.key(), stored, status_only=True)
        return respond(request, target, updated)


def _names_resource_version(body: Any) -> bool:
    """Whether a patch body pins ``metadata.resourceVersion`` (a precondition)."""
    if isinstance(body, Mapping):
        meta = body.get("metadata")
        return isinstance(meta, Mapping) and meta.get("resourceVersion") not in (None, "")
    if isinstance(body, list):
        return any(
            isinstance(op, Mapping) and op.get("path") == "/metadata/resourceVersion" for op in body
        )
    return False
