"""Deletes of resources: one object, or every selected object of a collection.

A delete reads ``DeleteOptions`` (the body's, with ``gracePeriodSeconds``, ``dryRun``,
``propagationPolicy`` and ``orphanDependents`` also taken from the query; values the API
does not define are ``422 Invalid``), checks its preconditions (``uid``,
``resourceVersion``) and asks the kind's strategy (:mod:`kawa.apiserver.strategies`)
whether the object may be deleted at all and how: at once, or gracefully
(``metadata.deletionTimestamp`` set and the object left for someone else, a Pod's kubelet or
the namespace controller, to remove). The store keeps an object with finalizers, marked
deleting, until they are gone (:mod:`kawa.store.finalizers`); the answer is the object as
the delete left it. A deletion that loses a race with another writer is tried again.

Dependents (objects whose ``ownerReferences`` name the deleted one) are the garbage
collector's (:mod:`kawa.controllers.garbage_collector`). As Kubernetes' registry does, a
delete records the propagation policy as a finalizer
(:func:`kawa.store.finalizers.for_propagation`):
``Foreground`` adds ``foregroundDeletion`` (the owner stays, marked, until its blocking
dependents are gone), ``Orphan`` or ``orphanDependents: true`` add ``orphan`` (the dependents
lose their reference, then the owner goes), ``Background`` (kubectl's default) neither: the
owner goes at once and the collector deletes its dependents after. The finalizers of an
object whose graceful deletion is under way (a Pod being stopped) are left as they are.
Called by :class:`kawa.apiserver.server.ApiServer`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

import orjson
from aiohttp import web

from kawa.apiserver import options as opts
from kawa.apiserver import selectors, strategies
from kawa.apiserver.requests import Target, read_raw
from kawa.apiserver.responses import object_list, respond
from kawa.apiserver.strategies.base import IMMEDIATE, Deletion, Strategy
from kawa.errors import ConflictError, FieldError, ForbiddenError, NotFoundError, ValidationError
from kawa.store import finalizers
from kawa.store.base import Obj, ResourceKey, ResourceStore

DELETE_ATTEMPTS: Final = 5
"""How often a graceful deletion is tried when another writer (a kubelet) gets in between."""
_PRECONDITIONS: Final = ("uid", "resourceVersion")
KIND: Final = "DeleteOptions"


@dataclass(frozen=True, slots=True)
class DeleteOptions:
    """What a client asked of a delete (Kubernetes' ``DeleteOptions``)."""

    grace_period: int | None = None
    """``gracePeriodSeconds``; ``None``: the kind's own (a Pod's
    ``terminationGracePeriodSeconds``)."""
    preconditions: Mapping[str, str] | None = None
    """``uid`` and/or ``resourceVersion`` the object must still have."""
    dry_run: bool = False
    propagation: str | None = None
    """``propagationPolicy``: ``Background``, ``Foreground``, ``Orphan`` or unset."""
    orphan_dependents: bool | None = None
    """The older ``orphanDependents`` (``true``: as ``Orphan``)."""

    def check_preconditions(self, current: Obj) -> None:
        """ConflictError when ``current`` does not have the required uid or resourceVersion."""
        meta = current["metadata"]
        for field, wanted in (self.preconditions or {}).items():
            if str(wanted) != str(meta.get(field)):
                raise ConflictError(
                    f"Precondition failed: {field} in precondition: {wanted}, "
                    f"{field} in object meta: {meta.get(field)}"
                )


async def read_delete_options(request: web.Request) -> DeleteOptions:
    """The request's DeleteOptions: its body (which may be empty) and query parameters."""
    body: Any = {}
    if request.can_read_body:
        raw = await read_raw(request)
        if raw.strip():
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError as err:
                raise ValidationError.single("", f"invalid DeleteOptions: {err}") from None
    if not isinstance(body, Mapping):
        raise ValidationError.single("", "DeleteOptions must be an object")
    flag = body.get("dryRun")
    dry_run = [flag] if isinstance(flag, str) else list(flag) if isinstance(flag, list) else []
    dry_run += request.query.getall("dryRun", [])
    errors = opts.dry_run_errors(dry_run)
    policy = body.get("propagationPolicy", request.query.get("propagationPolicy"))
    orphan = body.get("orphanDependents", request.query.get("orphanDependents"))
    errors += _propagation_errors(policy, orphan)
    if errors:
        raise opts.InvalidOptionsError(errors, kind=KIND)
    given = body.get("preconditions")
    preconditions = None
    if isinstance(given, Mapping):
        preconditions = {f: str(given[f]) for f in _PRECONDITIONS if given.get(f)}
    return DeleteOptions(
        _grace_period(request, body),
        preconditions,
        bool(dry_run),
        None if policy is None else str(policy),
        None if orphan is None else orphan in (True, "true"),
    )


def _propagation_errors(policy: Any, orphan: Any) -> list[FieldError]:
    """Problems with ``propagationPolicy`` and the older ``orphanDependents``: one of the
    policies Kubernetes defines, a boolean, and not both."""
    if policy is not None and orphan is not None:
        message = "orphanDependents and deletionPropagation cannot be both set"
        return [FieldError("propagationPolicy", f'Invalid value: "{policy}": {message}')]
    if policy is not None and policy not in opts.PROPAGATION_POLICIES:
        return [opts.unsupported("propagationPolicy", policy, opts.PROPAGATION_POLICIES)]
    if orphan not in (None, True, False, "true", "false"):
        return [opts.unsupported("orphanDependents", orphan, ("true", "false"))]
    return []


def _grace_period(request: web.Request, body: Mapping[str, Any]) -> int | None:
    """``gracePeriodSeconds`` of the body, else of the query; ``None`` when neither has it."""
    value = body.get("gracePeriodSeconds")
    if value is None:
        text = request.query.get("gracePeriodSeconds")
        if text is None:
            return None
        try:
            value = int(text)
        except ValueError:
            raise ValidationError.single(
                "gracePeriodSeconds", f"expected a whole number of seconds, got {text!r}"
            ) from None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError.single(
            "gracePeriodSeconds", f"expected a whole number of seconds, got {value!r}"
        )
    return value


class Deletes:
    """The delete handlers (see the module docstring)."""

    def __init__(self, store: ResourceStore) -> None:
        self._store = store

    async def delete(self, request: web.Request, target: Target) -> web.Response:
        strategy = strategies.for_kind(target.kind)
        key = target.key()
        refusal = strategy.forbids_deletion(key.name)
        if refusal is not None:
            raise ForbiddenError(refusal)
        options = await read_delete_options(request)
        return respond(request, target, await self._delete(key, strategy, options))

    async def delete_collection(self, request: web.Request, target: Target) -> web.Response:
        selected = selectors.from_query(request.query, target.kind.field_labels)
        options = await read_delete_options(request)
        strategy = strategies.for_kind(target.kind)
        result = await self._store.list(target.kind.resource, target.namespace)
        deleted = []
        for item in result.items:
            meta = item["metadata"]
            if not selected(item) or strategy.forbids_deletion(meta["name"]) is not None:
                continue  # Kubernetes never deletes protected ones; the rest of the collection goes
            if options.dry_run:
                deleted.append(item)
                continue
            key = ResourceKey(target.kind.resource, meta.get("namespace", ""), meta["name"])
            try:
                deleted.append(await self._delete(key, strategy, options))
            except NotFoundError:
                continue  # deleted meanwhile by someone else: nothing left to do
        return object_list(target, deleted, result.resource_version)

    async def _references_missing(self, strategy: Strategy, obj: Obj) -> bool:
        """Whether an object ``obj`` names is gone (a Pod's node, whose kubelet finishes a
        graceful deletion; Kubernetes' Pod garbage collector force-deletes such Pods)."""
        for ref in strategy.references(None, obj):
            try:
                await self._store.get(ResourceKey(ref.resource, "", ref.name))
            except NotFoundError:
                return True
        return False

    async def _delete(self, key: ResourceKey, strategy: Strategy, options: DeleteOptions) -> Obj:
        """Delete the object at ``key`` as its strategy plans it; the object as the delete
        left it (gone, marked for a graceful deletion, or kept for its finalizers)."""
        for attempt in range(DELETE_ATTEMPTS):
            current = await self._store.get(key)
            options.check_preconditions(current)
            if options.dry_run:
                return current
            planned = strategy.plan_deletion(current, options.grace_period, datetime.now(UTC))
            if not planned.immediate and await self._references_missing(strategy, current):
                planned = IMMEDIATE  # the node that would finish it is gone: nobody would
            plan = _with_propagation(current, options, planned)
            try:
                current = await self._mark(key, current, plan)
                if not plan.immediate:
                    return current
                try:
                    return await self._store.delete(key)
                except NotFoundError:
                    if plan.metadata is None:
                        raise
                    return current  # removed meanwhile (by the kubelet): what we marked
            except ConflictError:  # another writer got in between: plan again
                if attempt == DELETE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def _mark(self, key: ResourceKey, current: Obj, plan: Deletion) -> Obj:
        """Write what ``plan`` sets on ``current`` before (or instead of) removing it."""
        if plan.metadata is not None or plan.spec is not None:
            marked = copy.deepcopy(current)
            marked["metadata"].update(plan.metadata or {})
            if plan.spec is not None:
                spec = marked.get("spec")
                marked["spec"] = {**(spec if isinstance(spec, dict) else {}), **plan.spec}
            current = await self._store.update(key, marked)
        if plan.status is not None:
            status = current.get("status")
            current["status"] = {**(status if isinstance(status, dict) else {}), **plan.status}
            current = await self._store.update(key, current, status_only=True)
        return current


def _with_propagation(current: Obj, options: DeleteOptions, plan: Deletion) -> Deletion:
    """``plan`` with the finalizers the propagation policy asks for (Kubernetes'
    ``deletionFinalizersForGarbageCollection``), unless a graceful deletion is under way."""
    metadata = current["metadata"]
    grace = metadata.get("deletionGracePeriodSeconds")
    if metadata.get("deletionTimestamp") and grace not in (None, 0):
        return plan
    wanted = finalizers.for_propagation(current, options.propagation, options.orphan_dependents)
    if wanted is None:
        return plan
    return replace(plan, metadata={**(plan.metadata or {}), "finalizers": wanted})
