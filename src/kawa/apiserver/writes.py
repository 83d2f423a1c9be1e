"""Writes of resources: create, replace, patch (four patch types) and the status subresource.

Every write first has its options checked (:mod:`kawa.apiserver.options`), then goes through
admission (:mod:`kawa.apiserver.admission`) before the store; an update then goes through
the kind's strategy (:mod:`kawa.apiserver.strategies`: fields only the API server sets, the
kind's rules) and its update rules. ``dryRun=All`` answers without storing. Namespaced
objects need their namespace, and one being terminated takes no new ones (403, Kubernetes'
NamespaceLifecycle). An update that takes the last finalizer from an object being deleted
removes it (the store's rule, :mod:`kawa.store.finalizers`). Every write records its field
manager (``fieldManager``, else the User-Agent's first segment) in ``metadata.managedFields``,
and an ``apply-patch+yaml`` PATCH is server-side apply with field ownership and conflicts
(:mod:`kawa.apiserver.managed_fields`). Called by :class:`kawa.apiserver.server.ApiServer`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from aiohttp import web

from kawa.apis import meta
from kawa.apis.model import objects
from kawa.apis.registry import Scheme
from kawa.apiserver import admission, strategies
from kawa.apiserver import fieldsets as fs
from kawa.apiserver import managed_fields as mf
from kawa.apiserver import options as opts
from kawa.apiserver import patch as patches
from kawa.apiserver.loops import loop_warnings
from kawa.apiserver.requests import Target, read_body, read_object
from kawa.apiserver.responses import WARNINGS, render, respond
from kawa.apiserver.status import ApplyConflictError, UnsupportedMediaTypeError
from kawa.errors import (
    AlreadyExistsError,
    ConflictError,
    FieldError,
    ForbiddenError,
    NotFoundError,
    ValidationError,
)
from kawa.store.base import Obj, ResourceKey, ResourceStore

PATCH_ATTEMPTS: Final = 5
"""How often a patch that pins no resourceVersion is applied again after losing a race."""
APPLY_PATCH: Final = "application/apply-patch+yaml"
MAX_FIELD_MANAGER: Final = 128
"""Characters of a field manager's name (Kubernetes' limit)."""


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

    async def _check_references(self, target: Target, old: Obj | None, obj: Obj) -> None:
        """The objects the kind's strategy says ``obj`` names exist (a Pod's node)."""
        missing = []
        for ref in strategies.for_kind(target.kind).references(old, obj):
            try:
                await self._store.get(ResourceKey(ref.resource, "", ref.name))
            except NotFoundError:
                missing.append(FieldError(ref.path, ref.message))
        if missing:
            rk = target.kind
            subject = objects.subject(rk.kind, obj, namespaced=rk.namespaced)
            raise ValidationError(missing, subject=subject)

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
        manager = _field_manager(request, "CreateOptions")
        body = await read_object(request)
        if isinstance(body.get("metadata"), dict):
            # the uid is the server's, chosen before admission (a Job's selector names it)
            body["metadata"]["uid"] = str(uuid.uuid4())
        obj = self._admit(request, target, body, options)
        _record(target, None, obj, manager)
        await self._check_namespace(target, obj["metadata"]["name"])
        await self._check_references(target, None, obj)
        await self._warn_of_loops(request, target, obj)
        if options.dry_run:
            return respond(request, target, obj, 201)
        return respond(request, target, await self._create(target, obj), 201)

    async def _warn_of_loops(self, request: web.Request, target: Target, obj: Obj) -> None:
        """A write that puts ``obj`` on an event loop is stored all the same, with a
        ``Warning`` naming the loop (:mod:`kawa.apiserver.loops`)."""
        warnings = await loop_warnings(self._store, target, obj)
        if warnings:
            request.setdefault(WARNINGS, []).extend(warnings)

    async def replace(self, request: web.Request, target: Target) -> web.Response:
        options = opts.write_options(request, "UpdateOptions")
        manager = _field_manager(request, "UpdateOptions")
        body = await read_object(request)
        old = await self._store.get(target.key())
        obj = self._admit(request, target, body, options, old)
        return await self._update(request, target, obj, old, options, manager)

    async def _update(
        self,
        request: web.Request,
        target: Target,
        obj: Obj,
        old: Obj,
        options: opts.WriteOptions,
        manager: str | None,
    ) -> web.Response:
        """Write ``obj``, admitted and checked against ``old`` (the stored object read for
        its admission; a write in between is refused by the store when ``obj`` names a
        resourceVersion, as a patch always does, and wins otherwise, as in Kubernetes).
        ``manager`` gets the update's ``managedFields`` entry (None: an apply, which has
        recorded its own)."""
        key = target.key()
        strategies.for_kind(target.kind).prepare_for_update(old, obj)
        target.kind.validate_update(old, obj)
        await self._check_references(target, old, obj)
        if manager is not None:
            _record(target, old, obj, manager)
        await self._warn_of_loops(request, target, obj)
        if options.dry_run:  # what the store would answer: the stored status kept
            return respond(request, target, _as_stored(old, obj))
        return respond(request, target, await self._store.update(key, obj))

    async def patch(self, request: web.Request, target: Target) -> web.Response:
        options = opts.write_options(request, "PatchOptions")
        apply = request.content_type == APPLY_PATCH
        manager = _field_manager(request, "PatchOptions", apply=apply)
        force = _force(request, apply)
        body = await read_body(request)
        if apply:
            _check_apply_body(body)
        # Like Kubernetes, a patch that does not name a resourceVersion is applied to the
        # latest object: when a controller wrote in between, it is applied again.
        pinned = _names_resource_version(body)
        for attempt in range(PATCH_ATTEMPTS):
            try:
                return await self._patch_once(request, target, body, options, manager, force)
            except ConflictError as err:
                if pinned or attempt == PATCH_ATTEMPTS - 1 or isinstance(err, ApplyConflictError):
                    raise
        raise AssertionError("unreachable")

    async def _patch_once(
        self,
        request: web.Request,
        target: Target,
        body: Any,
        options: opts.WriteOptions,
        manager: str,
        force: bool,
    ) -> web.Response:
        rk = target.kind
        key = target.key()
        content_type = request.content_type
        try:
            current_stored = await self._store.get(key)
        except NotFoundError:
            if content_type != APPLY_PATCH or target.subresource:
                raise
            # Server-side apply of a new object is a create.
            applied = mf.apply(None, body, _write(target, manager), shape_of(target), force=force)
            obj = self._admit(request, target, applied, options)
            await self._check_namespace(target, key.name)
            await self._check_references(target, None, obj)
            await self._warn_of_loops(request, target, obj)
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
        elif content_type == APPLY_PATCH:
            patched = mf.apply(
                current, body, _write(target, manager), shape_of(target), force=force
            )
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
        recorder = None if content_type == APPLY_PATCH else manager
        if target.subresource == "status":
            return await self._write_status(
                request, target, patched, options, recorder, current_stored
            )
        obj = self._admit(request, target, patched, options, current_stored)
        return await self._update(request, target, obj, current_stored, options, recorder)

    async def replace_status(self, request: web.Request, target: Target) -> web.Response:
        options = opts.write_options(request, "UpdateOptions")
        manager = _field_manager(request, "UpdateOptions")
        body = await read_object(request)
        old = await self._store.get(target.key())
        return await self._write_status(request, target, body, options, manager, old)

    async def _write_status(
        self,
        request: web.Request,
        target: Target,
        obj: Obj,
        options: opts.WriteOptions,
        manager: str | None,
        old: Obj,
    ) -> web.Response:
        """Write the ``status`` of ``obj``; ``manager`` gets the ``managedFields`` entry
        (None: an apply, which has recorded its own)."""
        stored = admission.admit_status(target, obj)
        if manager is not None:
            _record(target, old, stored, manager)
        fields = stored.get("metadata", {}).get("managedFields", [])
        if options.dry_run:
            return respond(request, target, stored)
        updated = await self._store.update(
            target.key(), stored, status_only=True, managed_fields=fields
        )
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


# -- field managers (metadata.managedFields) -----------------------------------------------------


def _field_manager(request: web.Request, kind: str, *, apply: bool = False) -> str:
    """The request's field manager: ``fieldManager``, else (not for an apply, which must
    name one) the User-Agent's first segment, as Kubernetes does (``kubectl/v1.32 ...``:
    ``kubectl``)."""
    given = request.query.get("fieldManager")
    errors: list[FieldError] = []
    if given is None and apply:
        errors.append(FieldError("fieldManager", "Required value: is required for apply patch"))
    if given is not None and len(given) > MAX_FIELD_MANAGER:
        errors.append(
            FieldError(
                "fieldManager",
                f"Too long: may not be more than {MAX_FIELD_MANAGER} bytes",
            )
        )
    elif given is not None and not given.isprintable():
        errors.append(FieldError("fieldManager", f"Invalid value: {given!r}: must be printable"))
    if errors:
        raise opts.InvalidOptionsError(errors, kind=kind)
    if given is not None:
        return given
    agent = request.headers.get("User-Agent", "").split("/", 1)[0]
    return agent[:MAX_FIELD_MANAGER]


def _force(request: web.Request, apply: bool) -> bool:
    """``force=true``: an apply takes over the fields it conflicts on."""
    value = request.query.get("force")
    if value is None:
        return False
    if not apply:
        raise opts.InvalidOptionsError(
            [FieldError("force", "Forbidden: may not be specified for non-apply patch")],
            kind="PatchOptions",
        )
    if value not in ("true", "false"):
        raise ValidationError.single("", f"force: invalid boolean {value!r}")
    return value == "true"


def _check_apply_body(body: Any) -> None:
    """An applied configuration is an object that names no managedFields."""
    if not isinstance(body, dict):
        raise ValidationError.single("", "an apply patch must be an object")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise ValidationError.single("metadata", "expected an object")
    if isinstance(metadata, dict) and metadata.get("managedFields") not in (None, []):
        raise ValidationError.single("", "metadata.managedFields must be nil")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write(target: Target, manager: str) -> mf.Write:
    return mf.Write(manager, target.api_version, _now(), target.subresource or "")


def shape_of(target: Target) -> mf.Shape:
    """What the managedFields bookkeeping needs to know of the target's kind."""
    rk = target.kind

    def convert(obj: Obj, api_version: str) -> Obj:
        return rk.to_version(rk.to_version(obj, rk.storage_api_version), api_version)

    types = fs.ListTypes.of(rk.strategic_merge_keys)
    return mf.Shape(types, "status" in rk.subresources, convert)


def _record(target: Target, old: Obj | None, obj: Obj, manager: str) -> None:
    """Set ``obj``'s ``managedFields`` (stored form) after an update from ``old`` by
    ``manager``, the field sets in the request's apiVersion."""
    before = render(target, old) if old is not None else None
    entries = mf.record(before, render(target, obj), _write(target, manager), shape_of(target))
    metadata = obj.setdefault("metadata", {})
    if entries:
        metadata["managedFields"] = entries
    else:
        metadata.pop("managedFields", None)


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
