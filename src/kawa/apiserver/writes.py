"""Writes of resources: create, replace, patch (four patch types) and the status subresource.

Every write first has its options checked (:mod:`kawa.apiserver.options`), then goes through
admission (:mod:`kawa.apiserver.admission`) before the store; an update then goes through
the kind's strategy (:mod:`kawa.apiserver.strategies`: fields only the API server sets, the
kind's rules) and its update rules. ``dryRun=All`` answers without storing. Namespaced
objects need their namespace, and one being terminated takes no new ones (403, Kubernetes'
NamespaceLifecycle). An update that takes the last finalizer from an object being deleted
removes it (the store's rule, :mod:`kawa.store.finalizers`). Called by
:class:`kawa.apiserver.server.ApiServer`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from kawa.apis import meta
from kawa.apis.model import objects
from kawa.apis.registry import Scheme
from kawa.apiserver import admission, strategies
from kawa.apiserver import options as opts
from kawa.apiserver import patch as patches
from kawa.apiserver.requests import Target, read_body, read_object
from kawa.apiserver.responses import WARNINGS, render, respond
from kawa.apiserver.status import UnsupportedMediaTypeError
from kawa.errors import (
    AlreadyExistsError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ValidationError,
)
from kawa.store.base import Obj, ResourceKey, ResourceStore

PATCH_ATTEMPTS: Final = 5
"""How often a patch that pins no resourceVersion is applied again after losing a race."""


class Writes:
    """The write handlers (see the module docstring)."""

    def __init__(self, store: ResourceStore, scheme: Scheme) -> None:
        self._store = store
        self._namespace_kind = scheme.for_resource("", "v1", "namespaces")

    def _admit(
        self,
        request: web.Request,
        target: Target,
        obj: Obj,
        options: opts.WriteOptions,
        old: Obj | None = None,
    ) -> Obj:
        """Admission of ``obj`` (named by the path when it names one) and the kind's
        strategy's rules; its warnings go into the response."""
        admitted = admission.admit(
            target, obj, name=target.name, old=old, field_validation=options.field_validation
        )
        if admitted.warnings:
            request.setdefault(WARNINGS, []).extend(admitted.warnings)
        problems = strategies.for_kind(target.kind).validate(old, admitted.obj)
        if problems:
            rk = target.kind
            subject = objects.subject(rk.kind, admitted.obj, namespaced=rk.namespaced)
            raise ValidationError(problems, subject=subject)
        return admitted.obj

    async def _check_namespace(self, target: Target, name: str) -> None:
        """The namespace of a new object exists and is not being terminated."""
        if self._namespace_kind is None or not target.kind.namespaced:
            return
        try:
            namespace = await self._store.get(
                ResourceKey(self._namespace_kind.resource, "", target.namespace or "")
            )
        except NotFoundError:
            raise NotFoundError(f'namespaces "{target.namespace}" not found') from None
        if namespace["metadata"].get("deletionTimestamp"):
            raise ForbiddenError(
                f'{target.kind.plural} "{name}" is forbidden: unable to create new content in '
                f"namespace {target.namespace} because it is being terminated"
            )

    async def _create(self, target: Target, obj: Obj) -> Obj:
        """Store the new ``obj``; the AlreadyExists of a name still held by an object being
        deleted says so, as Kubernetes does."""
        key = target.key(obj["metadata"]["name"])
        try:
            return await self._store.create(
                key, obj, uid=str(meta.metadata_of(obj).get("uid") or "") or None
            )
        except AlreadyExistsError as err:
            try:
                existing = await self._store.get(key)
            except NotFoundError:
                raise err from None
            if existing["metadata"].get("deletionTimestamp"):
                raise AlreadyExistsError(f"object is being deleted: {err}") from None
            raise

    async def create(self, request: web.Request, target: Target) -> web.Response:
        options = opts.write_options(request, "CreateOptions")
        body = await read_object(request)
        if isinstance(body.get("metadata"), dict):
            # the uid is the server's, chosen before admission (a Job's selector names it)
            body["metadata"]["uid"] = str(uuid.uuid4())
        obj = self._admit(request, target, body, options)
        await self._check_namespace(target, obj["metadata"]["name"])
        if options.dry_run:
            return respond(request, target, obj, 201)
        return respond(request, target, await self._create(target, obj), 201)

    async def replace(self, request: web.Request, target: Target) -> web.Response:
        options = opts.write_options(request, "UpdateOptions")
        body = await read_object(request)
        old = await self._store.get(target.key())
        obj = self._admit(request, target, body, options, old)
        return await self._update(request, target, obj, old, options)

    async def _update(
        self,
        request: web.Request,
        target: Target,
        obj: Obj,
        old: Obj,
        options: opts.WriteOptions,
    ) -> web.Response:
        """Write ``obj``, admitted and checked against ``old`` (the stored object read for
        its admission; a write in between is refused by the store when ``obj`` names a
        resourceVersion, as a patch always does, and wins otherwise, as in Kubernetes)."""
        key = target.key()
        strategies.for_kind(target.kind).prepare_for_update(old, obj)
        target.kind.validate_update(old, obj)
        if options.dry_run:  # what the store would answer: the stored status kept
            return respond(request, target, _as_stored(old, obj))
        return respond(request, target, await self._store.update(key, obj))

    async def patch(self, request: web.Request, target: Target) -> web.Response:
        options = opts.write_options(request, "PatchOptions")
        body = await read_body(request)
        # Like Kubernetes, a patch that does not name a resourceVersion is applied to the
        # latest object: when a controller wrote in between, it is applied again.
        pinned = _names_resource_version(body)
        for attempt in range(PATCH_ATTEMPTS):
            try:
                return await self._patch_once(request, target, body, options)
            except ConflictError:
                if pinned or attempt == PATCH_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def _patch_once(
        self, request: web.Request, target: Target, body: Any, options: opts.WriteOptions
    ) -> web.Response:
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
            obj = self._admit(request, target, body, options)
            await self._check_namespace(target, key.name)
            if options.dry_run:
                return respond(request, target, obj, 201)
            return respond(request, target, await self._create(target, obj), 201)
        current = render(target, current_stored)
        if content_type == "application/merge-patch+json":
            patched = patches.merge_patch(current, body)
        elif content_type == "application/json-patch+json":
            patched = patches.json_patch(current, body)
        elif content_type == "application/strategic-merge-patch+json":
            if not admission.builtin(rk):
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
            return await self._write_status(request, target, patched, options)
        obj = self._admit(request, target, patched, options, current_stored)
        return await self._update(request, target, obj, current_stored, options)

    async def replace_status(self, request: web.Request, target: Target) -> web.Response:
        options = opts.write_options(request, "UpdateOptions")
        return await self._write_status(request, target, await read_object(request), options)

    async def _write_status(
        self, request: web.Request, target: Target, obj: Obj, options: opts.WriteOptions
    ) -> web.Response:
        stored = admission.admit_status(target, obj)
        if options.dry_run:
            return respond(request, target, stored)
        updated = await self._store.update(target.key(), stored, status_only=True)
        return respond(request, target, updated)


def _as_stored(old: Obj, obj: Obj) -> Obj:
    """A dry-run update's answer: ``obj`` with ``old``'s status and, when anything but the
    metadata and status changed, the next generation (``kubectl diff`` shows both)."""
    preview = {k: v for k, v in obj.items() if k != "status"}
    if "status" in old:
        preview["status"] = old["status"]
    same = {"metadata", "status", "apiVersion", "kind"}
    changed = any(old.get(k) != obj.get(k) for k in {*old, *obj} - same)
    generation = old.get("metadata", {}).get("generation")
    if changed and isinstance(generation, int):
        preview["metadata"] = {**obj.get("metadata", {}), "generation": generation + 1}
    return preview


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
