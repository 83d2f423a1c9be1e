"""CRUD on resources: list, get, create, replace, patch, delete (and the status subresource).

Every write goes through admission before the store: the object is converted to the kind's
storage version, defaulted and validated (immutability rules on updates), so nothing invalid
is ever stored; responses are converted back to the version the client used. Errors are
Kubernetes ``Status`` objects (422 with one cause per field). Called by
:class:`kawa.apiserver.server.ApiServer`.
"""

from __future__ import annotations

import base64
import builtins
import copy
import secrets
import string
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import orjson
from aiohttp import web

from kawa.apis import meta, schema_check
from kawa.apis.core import pod_deletion
from kawa.apis.kinds import ResourceKind
from kawa.apis.registry import Scheme
from kawa.apiserver import openapi, selectors, tables, watch
from kawa.apiserver import patch as patches
from kawa.apiserver.requests import (
    Target,
    read_body,
    read_object,
    unsupported,
)
from kawa.errors import ConflictError, FieldError, ForbiddenError, NotFoundError, ValidationError
from kawa.store.base import Obj, ResourceKey, ResourceStore

NAMESPACES: Final = "namespaces"
WARNINGS: Final = web.RequestKey("kawa.warnings", list[str])
"""Request key of the warnings a response carries (``Warning: 299 - "..."`` headers)."""
PROTECTED_NAMESPACES: Final = frozenset({"default", "kube-system", "kube-public"})
"""Namespaces Kubernetes refuses to delete."""
_NAME_CHARS: Final = string.ascii_lowercase + string.digits
_PATCH_ATTEMPTS: Final = 5


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


class Resources:
    """The resource handlers (see the module docstring)."""

    def __init__(self, store: ResourceStore, scheme: Scheme) -> None:
        self._store = store
        self._scheme = scheme
        self._namespace_kind = next(
            (rk for rk in scheme.kinds if rk.kind == "Namespace" and rk.group == ""), None
        )

    # -- rendering --------------------------------------------------------------------------

    def _render(self, target: Target, obj: Obj) -> Obj:
        out = target.kind.to_version(obj, target.api_version)
        out.setdefault("kind", target.kind.kind)
        return out

    def _respond(
        self, request: web.Request, target: Target, obj: Obj, status: int = 200
    ) -> web.Response:
        if tables.wants_table(request.headers.get("Accept", "")):
            rv = str(obj.get("metadata", {}).get("resourceVersion", ""))
            response = json_response(tables.table(target.kind, [obj], rv), status)
        else:
            response = json_response(self._render(target, obj), status)
        for warning in request.get(WARNINGS, ()):
            escaped = warning.replace("\\", "\\\\").replace('"', '\\"')
            response.headers.add("Warning", f'299 - "{escaped}"')
        return response

    # -- reads ------------------------------------------------------------------------------

    def _selector(self, request: web.Request) -> selectors.Predicate:
        checks: list[selectors.Predicate] = []
        if text := request.query.get("labelSelector"):
            checks.append(selectors.label_selector(text))
        if text := request.query.get("fieldSelector"):
            checks.append(selectors.field_selector(text))
        return lambda obj: all(check(obj) for check in checks)

    async def list(self, request: web.Request, target: Target) -> web.StreamResponse:
        selected = self._selector(request)
        rk = target.kind
        as_table = tables.wants_table(request.headers.get("Accept", ""))
        if request.query.get("watch") in ("1", "true"):

            def render(obj: Obj) -> Any:
                if as_table:
                    rv = str(obj.get("metadata", {}).get("resourceVersion", ""))
                    return tables.table(rk, [obj], rv)
                return self._render(target, obj)

            def bookmark(rv: int) -> Any:
                return {
                    "kind": rk.kind,
                    "apiVersion": target.api_version,
                    "metadata": {"resourceVersion": str(rv)},
                }

            return await watch.stream(
                request,
                self._store,
                rk.resource,
                target.namespace,
                render=render,
                selected=selected,
                bookmark=bookmark,
            )
        result = await self._store.list(rk.resource, target.namespace)
        items = [item for item in result.items if selected(item)]
        items, token = _page(items, request.query.get("limit"), request.query.get("continue"))
        rv = str(result.resource_version)
        if as_table:
            full = (
                (lambda obj: self._render(target, obj))
                if request.query.get("includeObject") == "Object"
                else None
            )
            return json_response(tables.table(rk, items, rv, continue_token=token, full=full))
        metadata: dict[str, Any] = {"resourceVersion": rv}
        if token:
            metadata["continue"] = token
        return json_response(
            {
                "apiVersion": target.api_version,
                "kind": f"{rk.kind}List",
                "metadata": metadata,
                "items": [self._render(target, item) for item in items],
            }
        )

    async def get(self, request: web.Request, target: Target) -> web.Response:
        return self._respond(request, target, await self._store.get(target.key()))

    # -- writes -----------------------------------------------------------------------------

    async def _admit(
        self,
        target: Target,
        obj: Obj,
        name: str | None = None,
        old: Obj | None = None,
        request: web.Request | None = None,
    ) -> Obj:
        """Check an incoming object against the path, convert it to the storage version,
        default and validate it."""
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
        converted = rk.to_version(obj, rk.storage_api_version)
        if "status" in rk.subresources:
            converted.pop("status", None)  # status is written through its subresource only
        unknown = self._unknown_fields(request, rk, converted)
        stored = rk.default(converted)
        errors = [FieldError(path, f'unknown field "{path}"') for path in unknown]
        subject = meta.subject_of(rk.kind, converted)
        try:
            rk.validate(stored)
        except ValidationError as err:
            subject = err.subject
            errors += [e for e in err.errors if e.path not in unknown]
            if old is not None:
                # an update: report changed immutable fields together with the other errors
                try:
                    rk.validate_update(old, stored)
                except ValidationError as more:
                    errors += [e for e in more.errors if e not in errors]
                except (KeyError, TypeError, AttributeError, ValueError):
                    pass  # the update check needs a valid object; the errors above say why
        if errors:
            raise ValidationError(errors, subject=subject)
        return stored

    def _unknown_fields(
        self, request: web.Request | None, rk: ResourceKind, obj: Obj
    ) -> builtins.list[str]:
        """Fields the kind's schema does not declare: with ``fieldValidation=Strict`` (what
        kubectl sends) they are returned as errors; otherwise they are dropped, with a
        ``Warning`` header unless the client asked for ``Ignore``."""
        if rk.schema is None:
            return []
        unknown = schema_check.unknown_fields(obj, openapi.object_schema(rk), refs=openapi.REFS)
        if not unknown:
            return []
        mode = request.query.get("fieldValidation", "Warn") if request is not None else "Warn"
        if mode == "Strict":
            return unknown
        schema_check.prune(obj, unknown)
        if mode != "Ignore" and request is not None:
            request.setdefault(WARNINGS, []).extend(f'unknown field "{p}"' for p in unknown)
        return []

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
        obj = await self._admit(target, await read_object(request), request=request)
        await self._check_namespace(target)
        if _dry_run(request):
            return self._respond(request, target, obj, 201)
        created = await self._store.create(target.key(obj["metadata"]["name"]), obj)
        return self._respond(request, target, created, 201)

    async def replace(self, request: web.Request, target: Target) -> web.Response:
        body = await read_object(request)
        old = await self._store.get(target.key())
        obj = await self._admit(target, body, target.name, old, request)
        return await self._update(request, target, obj)

    async def _update(self, request: web.Request, target: Target, obj: Obj) -> web.Response:
        key = target.key()
        old = await self._store.get(key)
        if _is_pod(target):
            pod_deletion.keep_deletion(old, obj)  # only a delete sets them
        target.kind.validate_update(old, obj)
        if _dry_run(request):
            return self._respond(request, target, obj)
        return self._respond(request, target, await self._store.update(key, obj))

    async def patch(self, request: web.Request, target: Target) -> web.Response:
        body = await read_body(request)
        # Like Kubernetes, a patch that does not name a resourceVersion is applied to the
        # latest object: when a controller wrote in between, it is applied again.
        pinned = _names_resource_version(body)
        for attempt in range(_PATCH_ATTEMPTS):
            try:
                return await self._patch_once(request, target, body)
            except ConflictError:
                if pinned or attempt == _PATCH_ATTEMPTS - 1:
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
            obj = await self._admit(target, body, target.name, request=request)
            await self._check_namespace(target)
            return self._respond(request, target, await self._store.create(key, obj), 201)
        current = self._render(target, current_stored)
        if content_type == "application/merge-patch+json":
            patched = patches.merge_patch(current, body)
        elif content_type == "application/json-patch+json":
            patched = patches.json_patch(current, body)
        elif content_type == "application/strategic-merge-patch+json":
            if rk.group and not rk.group.endswith(".k8s.io"):
                raise unsupported(
                    f"strategic merge patch is not supported for {rk.kind} (a custom kind): "
                    "use a JSON merge patch (kubectl patch --type merge)"
                )
            patched = patches.strategic_merge_patch(current, body, rk.strategic_merge_keys)
        elif content_type == "application/apply-patch+yaml":
            patched = patches.merge_patch(current, body)
        else:
            raise unsupported(f"unsupported patch type {content_type!r}")
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
        obj = await self._admit(target, patched, target.name, current_stored, request)
        return await self._update(request, target, obj)

    async def replace_status(self, request: web.Request, target: Target) -> web.Response:
        return await self._write_status(request, target, await read_object(request))

    async def _write_status(self, request: web.Request, target: Target, obj: Obj) -> web.Response:
        rk = target.kind
        stored = rk.to_version(obj, rk.storage_api_version)
        status = stored.get("status")
        if status is not None and not isinstance(status, dict):
            raise ValidationError.single("status", "expected an object")
        status_schema = ((rk.schema or {}).get("properties") or {}).get("status")
        if isinstance(status, dict) and isinstance(status_schema, Mapping):
            problems = schema_check.type_errors(status, status_schema, "status", openapi.REFS)
            problems += [
                FieldError(p, f'unknown field "{p}"')
                for p in schema_check.unknown_fields(status, status_schema, "status", openapi.REFS)
            ]
            if problems:
                raise ValidationError(problems, subject=f"{rk.kind} {target.name}")
        updated = await self._store.update(target.key(), stored, status_only=True)
        return self._respond(request, target, updated)

    async def delete(self, request: web.Request, target: Target) -> web.Response:
        key = target.key()
        _check_deletable(target, key.name)
        options = await _delete_options(request)
        preconditions = options.get("preconditions") if isinstance(options, Mapping) else None
        if isinstance(preconditions, Mapping):
            current = await self._store.get(key)
            meta = current["metadata"]
            for field in ("uid", "resourceVersion"):
                wanted = preconditions.get(field)
                if wanted and str(wanted) != str(meta.get(field)):
                    raise ConflictError(
                        f"Precondition failed: {field} in precondition: {wanted}, "
                        f"{field} in object meta: {meta.get(field)}"
                    )
        if _dry_run(request, options):
            return self._respond(request, target, await self._store.get(key))
        if _is_pod(target):
            grace = _grace_period(request, options)
            for attempt in range(_PATCH_ATTEMPTS):  # a kubelet may write its status meanwhile
                try:
                    return self._respond(request, target, await self._delete_pod(key, grace))
                except ConflictError:
                    if attempt == _PATCH_ATTEMPTS - 1:
                        raise
        deleted = await self._store.delete(key)
        return self._respond(request, target, deleted)

    async def _delete_pod(self, key: ResourceKey, grace: int | None) -> Obj:
        """Delete a Pod as Kubernetes does: gracefully (``deletionTimestamp``, the kubelet
        removes it once its containers stopped) when it runs on a node, else at once."""
        current = await self._store.get(key)
        plan = pod_deletion.plan_deletion(current, grace, datetime.now(UTC))
        if plan.metadata is None:
            return await self._store.delete(key) if plan.immediate else current
        updated = copy.deepcopy(current)
        updated["metadata"].update(plan.metadata)
        updated = await self._store.update(key, updated)
        return await self._store.delete(key) if plan.immediate else updated

    async def delete_collection(self, request: web.Request, target: Target) -> web.Response:
        selected = self._selector(request)
        options = await _delete_options(request)
        dry_run = _dry_run(request, options)
        result = await self._store.list(target.kind.resource, target.namespace)
        deleted = []
        for item in result.items:
            if not selected(item):
                continue
            meta = item["metadata"]
            if _protected(target, meta["name"]):
                continue  # Kubernetes never deletes these; the rest of the collection goes
            if dry_run:
                deleted.append(item)
                continue
            key = ResourceKey(target.kind.resource, meta.get("namespace", ""), meta["name"])
            try:
                if _is_pod(target):
                    deleted.append(await self._delete_pod(key, _grace_period(request, options)))
                else:
                    deleted.append(await self._store.delete(key))
            except (NotFoundError, ConflictError):
                continue
        return json_response(
            {
                "apiVersion": target.api_version,
                "kind": f"{target.kind.kind}List",
                "metadata": {"resourceVersion": str(result.resource_version)},
                "items": [self._render(target, item) for item in deleted],
            }
        )


def _dry_run(request: web.Request, options: Any = None) -> bool:
    """``?dryRun=All``, or ``dryRun: ["All"]`` in DeleteOptions (how kubectl delete sends it)."""
    if request.query.get("dryRun") == "All":
        return True
    if isinstance(options, Mapping):
        flag = options.get("dryRun")
        return flag == "All" or (isinstance(flag, list) and "All" in flag)
    return False


async def _delete_options(request: web.Request) -> Any:
    if not request.can_read_body:
        return {}
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        options = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise ValidationError.single("", f"invalid DeleteOptions: {err}") from None
    if not isinstance(options, Mapping):
        raise ValidationError.single("", "DeleteOptions must be an object")
    return options


def _is_pod(target: Target) -> bool:
    return target.kind.kind == "Pod" and target.kind.group == ""


def _grace_period(request: web.Request, options: Any) -> int | None:
    """DeleteOptions' ``gracePeriodSeconds`` (the body's, else the query's), None if unset."""
    value = options.get("gracePeriodSeconds") if isinstance(options, Mapping) else None
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


def _protected(target: Target, name: str) -> bool:
    rk = target.kind
    return rk.kind == "Namespace" and rk.group == "" and name in PROTECTED_NAMESPACES


def _check_deletable(target: Target, name: str) -> None:
    if _protected(target, name):
        raise ForbiddenError(f'namespaces "{name}" is forbidden: this namespace may not be deleted')


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


def _page(items: list[Obj], limit_text: str | None, token: str | None) -> tuple[list[Obj], str]:
    """``limit``/``continue`` paging over items sorted by namespace and name."""
    start = 0
    if token:
        try:
            after = orjson.loads(base64.urlsafe_b64decode(token.encode()))
            if not isinstance(after, list):
                raise TypeError("not a list")
            position = (str(after[0]), str(after[1]))
        except (ValueError, orjson.JSONDecodeError, IndexError, TypeError, KeyError):
            raise ValidationError.single("continue", "invalid continue token") from None
        keys = [(i["metadata"].get("namespace", ""), i["metadata"]["name"]) for i in items]
        start = next((n for n, key in enumerate(keys) if key > position), len(items))
    if not limit_text:
        return items[start:], ""
    if not limit_text.isdigit():
        raise ValidationError.single("limit", f"expected a whole number, got {limit_text!r}")
    limit = int(limit_text)
    if limit <= 0 or start + limit >= len(items):
        return items[start:], ""
    page = items[start : start + limit]
    last = page[-1]["metadata"]
    next_token = base64.urlsafe_b64encode(
        orjson.dumps([last.get("namespace", ""), last["name"]])
    ).decode()
    return page, next_token
