"""The Kubernetes-compatible HTTP API over the resource store.

Routes (the conventions kubectl and the Kubernetes clients expect):

- ``/version``; discovery ``/api``, ``/api/v1``, ``/apis``, ``/apis/<group>/<version>``
  (:mod:`kawa.apiserver.discovery`); ``/openapi/v3`` and its documents
  (:mod:`kawa.apiserver.openapi`);
- resources under ``/api/v1/...`` (core group) and ``/apis/<group>/<version>/...``:
  collections (``GET`` list or ``?watch=1``, ``POST``, ``DELETE`` collection), items
  (``GET``, ``PUT``, ``PATCH``, ``DELETE``) and the ``status`` subresource, namespaced under
  ``/namespaces/<ns>/`` or cluster-wide (:mod:`kawa.apiserver.resources`). Other
  subresources (a Pod's ``log``) are served by handlers registered with
  :meth:`ApiServer.add_subresource`.

Every error is a Kubernetes ``Status`` object; bad input never yields a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from kawa.apis.registry import SCHEME, Scheme
from kawa.apiserver import discovery, openapi
from kawa.apiserver.requests import PayloadTooLarge, Target, UnsupportedMediaType, parse_path
from kawa.apiserver.resources import Resources, json_response
from kawa.apiserver.status import error_response
from kawa.errors import (
    ConflictError,
    ForbiddenError,
    GoneError,
    KawaError,
    NotFoundError,
    ValidationError,
)
from kawa.store.base import ResourceStore

log = logging.getLogger(__name__)

SubresourceHandler = Callable[[web.Request, Target], Awaitable[web.StreamResponse]]


class ApiServer:
    """Installs the API routes on an aiohttp application."""

    def __init__(self, store: ResourceStore, scheme: Scheme = SCHEME) -> None:
        self._store = store
        self._scheme = scheme
        self._resources = Resources(store, scheme)
        self._subresources: dict[tuple[str, str], SubresourceHandler] = {}

    def add_subresource(self, resource: str, name: str, handler: SubresourceHandler) -> None:
        """Serve ``GET .../<resource>/<obj>/<name>`` (e.g. ``pods``, ``log``) with ``handler``."""
        self._subresources[(resource, name)] = handler

    def install(self, app: web.Application) -> None:
        app.add_routes(
            [
                web.get("/version", self.version),
                web.get("/healthz", self.health),
                web.get("/readyz", self.health),
                web.get("/livez", self.health),
                web.get("/api", self.core_versions),
                web.get("/apis", self.groups),
                web.get("/openapi/v3", self.openapi_index),
                web.get("/openapi/v3/{tail:.+}", self.openapi_document),
                web.route("*", "/api/v1{tail:(/.*)?}", self.core),
                web.route("*", "/apis/{group}/{version}{tail:(/.*)?}", self.grouped),
            ]
        )

    # -- discovery and OpenAPI ------------------------------------------------------------

    async def version(self, request: web.Request) -> web.Response:
        return json_response(discovery.version())

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def core_versions(self, request: web.Request) -> web.Response:
        return json_response(discovery.core_versions(request.host))

    async def groups(self, request: web.Request) -> web.Response:
        return json_response(discovery.groups(self._scheme))

    async def openapi_index(self, request: web.Request) -> web.Response:
        return json_response(openapi.index(self._scheme))

    async def openapi_document(self, request: web.Request) -> web.Response:
        body = openapi.document(self._scheme, request.match_info["tail"])
        if body is None:
            return error_response(404, f"no OpenAPI document for {request.match_info['tail']}")
        return web.Response(body=body, content_type="application/json")

    # -- resources ------------------------------------------------------------------------

    async def core(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, "", "v1")

    async def grouped(self, request: web.Request) -> web.StreamResponse:
        info = request.match_info
        return await self._serve(request, info["group"], info["version"])

    async def _serve(self, request: web.Request, group: str, version: str) -> web.StreamResponse:
        segments = [s for s in request.match_info["tail"].split("/") if s]
        try:
            if not segments:
                if request.method != "GET":
                    return error_response(405, f"{request.method} is not allowed here")
                listed = discovery.resources(self._scheme, group, version)
                if listed is None:
                    raise NotFoundError(f"the server could not find {group or 'core'}/{version}")
                return json_response(listed)
            target = parse_path(self._scheme, group, version, segments)
            try:
                return await self._dispatch(request, target)
            except ValidationError as err:
                if isinstance(err, UnsupportedMediaType | PayloadTooLarge):
                    raise
                return _invalid(err, target)
        except UnsupportedMediaType as err:
            return error_response(415, str(err.errors[0].message))
        except PayloadTooLarge as err:
            return error_response(413, str(err.errors[0].message), reason="RequestEntityTooLarge")
        except ValidationError as err:
            return _invalid(err, None)
        except NotFoundError as err:
            return error_response(404, str(err), reason="NotFound")
        except GoneError as err:
            return error_response(410, str(err), reason="Expired")
        except ForbiddenError as err:
            return error_response(403, str(err), reason="Forbidden")
        except ConflictError as err:
            text = str(err)
            reason = "AlreadyExists" if "already exists" in text else "Conflict"
            return error_response(409, text, reason=reason)
        except KawaError as err:
            log.warning("API request %s %s failed: %s", request.method, request.path, err)
            return error_response(503, str(err), reason="ServiceUnavailable")

    async def _dispatch(self, request: web.Request, target: Target) -> web.StreamResponse:
        res = self._resources
        method = request.method
        if target.subresource is not None:
            if target.subresource == "status" and "status" in target.kind.subresources:
                if method == "GET":
                    return await res.get(request, target)
                if method == "PUT":
                    return await res.replace_status(request, target)
                if method == "PATCH":
                    return await res.patch(request, target)
            handler = self._subresources.get((target.kind.plural, target.subresource))
            if handler is not None:
                return await handler(request, target)
            if target.subresource not in target.kind.subresources:
                raise NotFoundError(
                    f"{target.kind.plural} has no subresource {target.subresource!r}"
                )
            return error_response(405, f"{method} is not allowed on {target.subresource}")
        if target.name is None:
            if method == "GET":
                return await res.list(request, target)
            if method == "POST":
                return await res.create(request, target)
            if method == "DELETE":
                return await res.delete_collection(request, target)
        else:
            if method == "GET":
                return await res.get(request, target)
            if method == "PUT":
                return await res.replace(request, target)
            if method == "PATCH":
                return await res.patch(request, target)
            if method == "DELETE":
                return await res.delete(request, target)
        return error_response(405, f"the method {method} is not allowed here")


def _invalid(err: ValidationError, target: Target | None) -> web.Response:
    causes = list(err.errors)
    if all(not c.path for c in causes):
        return error_response(400, str(err), reason="BadRequest")
    kind = group = name = ""
    if target is not None:
        kind, group = target.kind.kind, target.kind.group
        # the subject reads "<Kind> <namespace>/<name>" (or "<Kind> <name>")
        name = target.name or err.subject.rpartition(" ")[2].rpartition("/")[2]
    return error_response(
        422, str(err), reason="Invalid", causes=causes, kind=kind, group=group, name=name
    )
