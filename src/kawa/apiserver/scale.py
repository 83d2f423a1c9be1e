"""The ``scale`` subresource (``autoscaling/v1`` ``Scale``) of kinds with ``spec.replicas``
and ``spec.selector`` (Deployments, ReplicaSets): what ``kubectl scale`` and autoscalers use.

``GET`` answers the object's Scale: ``spec.replicas`` and ``status.replicas`` with the selector
as a string (``app=web,pod-template-hash=...``). ``PUT`` takes a Scale, ``PATCH`` a patch of
one (merge, strategic merge, JSON patch or apply); either sets the object's ``spec.replicas``
through the ordinary update path (admission, update rules, optimistic concurrency on the
Scale's ``resourceVersion``) and answers the new Scale. Called by
:class:`kawa.apiserver.server.ApiServer`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from kawa.apis.label_selector import format_selector
from kawa.apis.model import objects
from kawa.apiserver import admission, strategies
from kawa.apiserver import options as opts
from kawa.apiserver import patch as patches
from kawa.apiserver.requests import Target, read_body
from kawa.apiserver.responses import json_response
from kawa.apiserver.status import UnsupportedMediaTypeError
from kawa.apiserver.writes import PATCH_ATTEMPTS
from kawa.errors import ConflictError, FieldError, MethodNotAllowedError, ValidationError
from kawa.store.base import Obj, ResourceStore

API_VERSION: Final = "autoscaling/v1"
KIND: Final = "Scale"


def scale_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The Scale of ``obj``."""
    metadata = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    replicas = spec.get("replicas")
    current = status.get("replicas") if isinstance(status, Mapping) else None
    selector = spec.get("selector")
    out_meta = {
        k: metadata[k]
        for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        if k in metadata
    }
    out_status: dict[str, Any] = {"replicas": current if isinstance(current, int) else 0}
    if isinstance(selector, Mapping):
        out_status["selector"] = format_selector(selector)
    return {
        "kind": KIND,
        "apiVersion": API_VERSION,
        "metadata": out_meta,
        "spec": {"replicas": replicas if isinstance(replicas, int) else 0},
        "status": out_status,
    }


def _replicas_of(scale: Any) -> tuple[int, str]:
    """The wanted replicas and the pinned resourceVersion ("" for none) of a Scale body."""
    if not isinstance(scale, Mapping):
        raise ValidationError.single("", "expected a Scale object")
    errors: list[FieldError] = []
    if scale.get("kind") not in (None, KIND):
        errors.append(FieldError("kind", f"expected {KIND}, got {scale.get('kind')!r}"))
    spec = scale.get("spec")
    replicas = spec.get("replicas", 0) if isinstance(spec, Mapping) else None
    if spec is not None and not isinstance(spec, Mapping):
        errors.append(FieldError("spec", "expected an object"))
    elif isinstance(replicas, bool) or not isinstance(replicas, int):
        errors.append(FieldError("spec.replicas", "expected an integer"))
    elif replicas < 0:
        errors.append(
            FieldError(
                "spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0"
            )
        )
    metadata = scale.get("metadata")
    version = metadata.get("resourceVersion") if isinstance(metadata, Mapping) else None
    if errors:
        raise ValidationError(errors, subject=f"{KIND} {_name(scale)}")
    assert isinstance(replicas, int)
    return replicas, str(version or "")


def _name(scale: Mapping[str, Any]) -> str:
    metadata = scale.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return str(name or "?")


class Scales:
    """The handlers of ``.../<plural>/<name>/scale``."""

    def __init__(self, store: ResourceStore) -> None:
        self._store = store

    async def serve(self, request: web.Request, target: Target) -> web.Response:
        if request.method == "GET":
            return json_response(scale_of(await self._store.get(target.key())))
        if request.method == "PUT":
            options = opts.write_options(request, "UpdateOptions")
            replicas, version = _replicas_of(await read_body(request))
            return await self._set(request, target, replicas, version, options)
        if request.method == "PATCH":
            options = opts.write_options(request, "PatchOptions")
            body = await read_body(request)
            for attempt in range(PATCH_ATTEMPTS):
                current = await self._store.get(target.key())
                patched = self._patched(request, scale_of(current), body)
                replicas, version = _replicas_of(patched)
                pinned = version != str(current["metadata"].get("resourceVersion", ""))
                try:
                    return await self._set(request, target, replicas, version, options, current)
                except ConflictError:
                    if pinned or attempt == PATCH_ATTEMPTS - 1:
                        raise
        raise MethodNotAllowedError(f"the method {request.method} is not allowed on scale")

    @staticmethod
    def _patched(request: web.Request, scale: Obj, body: Any) -> Any:
        content_type = request.content_type
        if content_type in ("application/merge-patch+json", "application/apply-patch+yaml"):
            return patches.merge_patch(scale, body)
        if content_type == "application/json-patch+json":
            return patches.json_patch(scale, body)
        if content_type == "application/strategic-merge-patch+json":
            return patches.strategic_merge_patch(scale, body, {})
        raise UnsupportedMediaTypeError(f"unsupported patch type {content_type!r}")

    async def _set(
        self,
        request: web.Request,
        target: Target,
        replicas: int,
        version: str,
        options: opts.WriteOptions,
        current: Obj | None = None,
    ) -> web.Response:
        old = current if current is not None else await self._store.get(target.key())
        if version and version != str(old["metadata"].get("resourceVersion", "")):
            raise ConflictError(
                f"Operation cannot be fulfilled on {target.kind.plural}.{target.kind.group} "
                f'"{target.name}": the object has been modified; please apply your changes to '
                "the latest version and try again"
            )
        new = copy.deepcopy(old)
        new.pop("status", None)
        new.setdefault("spec", {})["replicas"] = replicas
        # the update path of any write: admission, the kind's strategy and update rules
        admitted = admission.admit(
            target, new, name=target.name, old=old, field_validation=options.field_validation
        )
        obj = admitted.obj
        strategy = strategies.for_kind(target.kind)
        problems = strategy.validate(old, obj)
        if problems:
            rk = target.kind
            subject = objects.subject(rk.kind, obj, namespaced=rk.namespaced)
            raise ValidationError(problems, subject=subject)
        obj["metadata"]["resourceVersion"] = old["metadata"].get("resourceVersion")
        strategy.prepare_for_update(old, obj)
        target.kind.validate_update(old, obj)
        stored = obj if options.dry_run else await self._store.update(target.key(), obj)
        if options.dry_run:
            stored = dict(stored, status=old.get("status") or {})
        return json_response(scale_of(stored))
