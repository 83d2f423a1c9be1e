"""The Kubernetes-compatible HTTP API over the resource store.

Routes (the conventions kubectl and the Kubernetes clients expect):

- ``/version``; discovery ``/api``, ``/api/v1``, ``/apis``, ``/apis/<group>/<version>``
  (:mod:`kawa.apiserver.discovery`); ``/openapi/v3`` and its documents
  (:mod:`kawa.apiserver.openapi`);
- resources under ``/api/v1/...`` (core group) and ``/apis/<group>/<version>/...``:
  collections (``GET`` list or ``?watch=1``, ``POST``, ``DELETE`` collection), items
  (``GET``, ``PUT``, ``PATCH``, ``DELETE``) and the ``status`` subresource, namespaced under
  ``/namespaces/<ns>/`` or cluster-wide (:mod:`kawa.apiserver.reads`,
  :mod:`kawa.apiserver.writes`, :mod:`kawa.apiserver.deletes`). Other subresources (a Pod's
  ``log``) are served by handlers registered with :meth:`ApiServer.add_subresource`; the
  ``scale`` subresource by :mod:`kawa.apiserver.scale`.

Handlers raise kawa errors; every one becomes a Kubernetes ``Status`` object through the
one error table (:mod:`kawa.apiserver.status`). Bad input never yields a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from kawa.apis.registry import SCHEME, Scheme
from kawa.apiserver import crds, discovery, openapi, openapi_v2, options, reviews, status
from kawa.apiserver.deletes import Deletes
from kawa.apiserver.reads import Reads
from kawa.apiserver.requests import Target, parse_path
from kawa.apiserver.responses import json_response
from kawa.apiserver.reviews import Reviews
from kawa.apiserver.scale import Scales
from kawa.apiserver.writes import Writes
from kawa.authorization import Attributes
from kawa.errors import KawaError, MethodNotAllowedError, NotFoundError, ValidationError
from kawa.store.base import ResourceStore

log = logging.getLogger(__name__)

SubresourceHandler = Callable[[web.Request, Target], Awaitable[web.StreamResponse]]


class ApiServer:
    """Installs the API routes on an aiohttp application."""

    def __init__(self, store: ResourceStore, scheme: Scheme = SCHEME) -> None:
        self._store = store
        self._scheme = scheme
        self._reads = Reads(store)
        self._writes = Writes(store, scheme)
        self._deletes = Deletes(store)
        self._scales = Scales(store)
        self._reviews = Reviews(store)
        self._subresources: dict[tuple[str, str], SubresourceHandler] = {}

    def add_subresource(self, resource: str, name: str, handler: SubresourceHandler) -> None:
        """Serve ``GET .../<resource>/<obj>/<name>`` (e.g. ``pods``, ``log``) with ``handler``."""
        self._subresources[(resource, name)] = handler

    def install(self, app: web.Application) -> None:
        self._reviews.install(app)  # before the resources' routes, which would match them
        app.add_routes(
            [
                web.get("/version", self.version),
                web.get("/version/", self.version),
                web.get("/healthz", self.health),
                web.get("/readyz", self.health),
                web.get("/livez", self.health),
                web.get("/api", self.core_versions),
                web.get("/api/", self.core_versions),
                web.get("/apis", self.groups),
                web.get("/apis/", self.groups),
                web.get("/openapi/v2", self.openapi_v2),
                web.get("/openapi/v3", self.openapi_index),
                web.get("/openapi/v3/", self.openapi_index),
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

    async def openapi_v2(self, request: web.Request) -> web.Response:
        if openapi_v2.wants_protobuf(request.headers.get("Accept", "")):
            return web.Response(
                body=openapi_v2.document_protobuf(self._scheme),
                content_type=openapi_v2.PROTOBUF_CONTENT_TYPE,
            )
        return web.Response(
            body=openapi_v2.document_json(self._scheme), content_type="application/json"
        )

    async def openapi_document(self, request: web.Request) -> web.Response:
        body = openapi.document(self._scheme, request.match_info["tail"])
        if body is None:
            missing = NotFoundError(f"no OpenAPI document for {request.match_info['tail']}")
            return status.error_response(missing)
        return web.Response(body=body, content_type="application/json")

    # -- resources ------------------------------------------------------------------------

    async def core(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, "", "v1")

    async def grouped(self, request: web.Request) -> web.StreamResponse:
        info = request.match_info
        return await self._serve(request, info["group"], info["version"])

    async def _serve(self, request: web.Request, group: str, version: str) -> web.StreamResponse:
        segments = [s for s in request.match_info["tail"].split("/") if s]
        target: Target | None = None
        try:
            if not segments:
                if request.method != "GET":
                    raise MethodNotAllowedError(f"{request.method} is not allowed here")
                listed = discovery.resources(self._scheme, group, version)
                if listed is None:
                    raise NotFoundError(f"the server could not find {group or 'core'}/{version}")
                return json_response(listed)
            target = parse_path(self._scheme, group, version, segments)
            if reviews.impersonating(request):
                await self._reviews.check(request, _attributes(request, target))
            return await self._dispatch(request, target)
        except KawaError as err:
            if status.reason_of(err).code >= 500:
                log.warning("API request %s %s failed: %s", request.method, request.path, err)
            return _error(err, target)

    async def _dispatch(self, request: web.Request, target: Target) -> web.StreamResponse:
        method = request.method
        if target.kind.resource in crds.READ_ONLY and method != "GET":
            message = crds.READ_ONLY_MESSAGE.format(resource=target.kind.plural)
            raise MethodNotAllowedError(message)
        if target.subresource is not None:
            if target.subresource == "status" and "status" in target.kind.subresources:
                if method == "GET":
                    return await self._reads.get(request, target)
                if method == "PUT":
                    return await self._writes.replace_status(request, target)
                if method == "PATCH":
                    return await self._writes.patch(request, target)
            if target.subresource == "scale" and "scale" in target.kind.subresources:
                return await self._scales.serve(request, target)
            handler = self._subresources.get((target.kind.plural, target.subresource))
            if handler is not None:
                return await handler(request, target)
            if target.subresource not in target.kind.subresources:
                raise NotFoundError(
                    f"{target.kind.plural} has no subresource {target.subresource!r}"
                )
            raise MethodNotAllowedError(f"{method} is not allowed on {target.subresource}")
        if target.name is None:
            if method == "GET":
                return await self._reads.list(request, target)
            if method == "POST":
                return await self._writes.create(request, target)
            if method == "DELETE":
                return await self._deletes.delete_collection(request, target)
        else:
            if method == "GET":
                return await self._reads.get(request, target)
            if method == "PUT":
                return await self._writes.replace(request, target)
            if method == "PATCH":
                return await self._writes.patch(request, target)
            if method == "DELETE":
                return await self._deletes.delete(request, target)
        raise MethodNotAllowedError(f"the method {method} is not allowed here")


def _attributes(request: web.Request, target: Target) -> Attributes:
    """What a resource request asks, in RBAC's terms."""
    watch = request.query.get("watch") in ("1", "true")
    verb = reviews.request_verb(request.method, target.name, watch)
    if target.subresource in discovery.STREAMING:
        verb = "create"  # a WebSocket opens with a GET: Kubernetes asks for create
    return Attributes(
        verb=verb,
        api_group=target.group,
        resource=target.kind.plural,
        subresource=target.subresource or "",
        namespace=target.namespace or "",
        name=target.name or "",
    )


def _error(err: KawaError, target: Target | None) -> web.Response:
    """The Status response for ``err``; an invalid object's names the object (invalid
    options name their kind, ``CreateOptions``...)."""
    if isinstance(err, options.InvalidOptionsError):
        return status.error_response(err, kind=err.kind, group=options.GROUP)
    if target is None or not isinstance(err, ValidationError):
        return status.error_response(err)
    # the subject reads "<Kind> <namespace>/<name>" (or "<Kind> <name>")
    name = target.name or err.subject.rpartition(" ")[2].rpartition("/")[2]
    return status.error_response(err, kind=target.kind.kind, group=target.kind.group, name=name)
