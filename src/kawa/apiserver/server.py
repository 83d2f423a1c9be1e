"""The Kubernetes-shaped HTTP API over the resource store.

Paths follow the Kubernetes API conventions, so the kawa CLI today (and kubectl with #3)
talk to kawa as to a cluster:

- ``GET /version``, ``GET /apis`` (groups), ``GET /apis/<group>/<version>`` (resources);
- ``/apis/<group>/<version>/namespaces/<ns>/<plural>``: ``GET`` list (``?watch=1`` streams
  changes as JSON lines), ``POST`` create;
- ``/apis/<group>/<version>/<plural>``: list or watch across namespaces;
- ``.../<plural>/<name>``: ``GET``, ``PUT`` (replace; optimistic concurrency on
  ``metadata.resourceVersion``), ``DELETE``; ``.../<name>/status``: ``GET``, ``PUT``.

Every write is defaulted and validated by its kind in :data:`kawa.apis.registry.SCHEME`
(with the immutability rules on update) before it reaches the store, so nothing invalid is
ever stored. Errors are Kubernetes ``Status`` objects (422 with one cause per field).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
import yaml
from aiohttp import web

from kawa import __version__
from kawa.apis.registry import SCHEME, ResourceKind, Scheme
from kawa.apiserver.status import error_response
from kawa.errors import ConflictError, GoneError, NotFoundError, ValidationError
from kawa.store.base import Obj, ResourceKey, ResourceStore

_NS = "/apis/{group}/{version}/namespaces/{namespace}/{plural}"
_ALL = "/apis/{group}/{version}/{plural}"


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


class ApiServer:
    """Installs the API routes on an aiohttp application."""

    def __init__(self, store: ResourceStore, scheme: Scheme = SCHEME) -> None:
        self._store = store
        self._scheme = scheme

    def install(self, app: web.Application) -> None:
        app.add_routes(
            [
                web.get("/version", self.version),
                web.get("/apis", self.groups),
                web.get("/apis/{group}/{version}", self.resources),
                web.get(_NS, self.list),
                web.post(_NS, self.create),
                web.get(_ALL, self.list),
                web.get(_NS + "/{name}", self.get),
                web.put(_NS + "/{name}", self.replace),
                web.delete(_NS + "/{name}", self.delete),
                web.get(_NS + "/{name}/status", self.get),
                web.put(_NS + "/{name}/status", self.replace_status),
            ]
        )

    # -- discovery -------------------------------------------------------------------------

    async def version(self, request: web.Request) -> web.Response:
        return _json(
            {
                "major": "1",
                "minor": "32",
                "gitVersion": f"v1.32.0-kawa.{__version__}",
                "platform": "kawa",
            }
        )

    async def groups(self, request: web.Request) -> web.Response:
        groups: dict[str, list[str]] = {}
        for rk in self._scheme.kinds:
            versions = groups.setdefault(rk.group, [])
            versions.extend(v for v in rk.versions if v not in versions)
        return _json(
            {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": group,
                        "versions": [
                            {"groupVersion": f"{group}/{v}", "version": v} for v in versions
                        ],
                        "preferredVersion": {
                            "groupVersion": f"{group}/{versions[0]}",
                            "version": versions[0],
                        },
                    }
                    for group, versions in groups.items()
                ],
            }
        )

    async def resources(self, request: web.Request) -> web.Response:
        group, version = request.match_info["group"], request.match_info["version"]
        found = [rk for rk in self._scheme.kinds if rk.group == group and version in rk.versions]
        if not found:
            return error_response(404, f"the server could not find {group}/{version}")
        resources: list[dict[str, Any]] = []
        verbs = ["create", "delete", "get", "list", "update", "watch"]
        for rk in found:
            resources.append(
                {
                    "name": rk.plural,
                    "singularName": rk.singular,
                    "namespaced": rk.namespaced,
                    "kind": rk.kind,
                    "verbs": verbs,
                    "shortNames": list(rk.short_names),
                    "categories": list(rk.categories),
                }
            )
            resources.append(
                {
                    "name": f"{rk.plural}/status",
                    "singularName": "",
                    "namespaced": rk.namespaced,
                    "kind": rk.kind,
                    "verbs": ["get", "update"],
                }
            )
        return _json(
            {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": f"{group}/{version}",
                "resources": resources,
            }
        )

    # -- helpers ---------------------------------------------------------------------------

    def _kind(self, request: web.Request) -> ResourceKind:
        info = request.match_info
        rk = self._scheme.for_resource(info["group"], info["version"], info["plural"])
        if rk is None:
            raise web.HTTPNotFound(
                body=orjson.dumps(
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "status": "Failure",
                        "reason": "NotFound",
                        "code": 404,
                        "message": (
                            f"the server could not find the requested resource "
                            f"{info['plural']}.{info['group']}/{info['version']}"
                        ),
                    }
                ),
                content_type="application/json",
            )
        return rk

    @staticmethod
    def _key(rk: ResourceKind, request: web.Request) -> ResourceKey:
        return ResourceKey(
            rk.resource, request.match_info.get("namespace", ""), request.match_info["name"]
        )

    @staticmethod
    async def _body(request: web.Request) -> Obj:
        raw = await request.read()
        try:
            data = yaml.safe_load(raw) if "yaml" in request.content_type else orjson.loads(raw)
        except (orjson.JSONDecodeError, yaml.YAMLError) as err:
            raise ValidationError.single("", f"the request body is not valid JSON: {err}") from err
        if not isinstance(data, dict):
            raise ValidationError.single("", "the request body must be a JSON object")
        return data

    def _served(self, rk: ResourceKind, obj: Obj) -> Obj:
        obj.setdefault("apiVersion", rk.storage_api_version)
        obj.setdefault("kind", rk.kind)
        return obj

    # -- handlers --------------------------------------------------------------------------

    async def list(self, request: web.Request) -> web.StreamResponse:
        rk = self._kind(request)
        namespace = request.match_info.get("namespace")
        if request.query.get("watch") in ("1", "true"):
            return await self._watch(request, rk, namespace)
        result = await self._store.list(rk.resource, namespace)
        return _json(
            {
                "apiVersion": rk.storage_api_version,
                "kind": f"{rk.kind}List",
                "metadata": {"resourceVersion": str(result.resource_version)},
                "items": [self._served(rk, item) for item in result.items],
            }
        )

    async def _watch(
        self, request: web.Request, rk: ResourceKind, namespace: str | None
    ) -> web.StreamResponse:
        since_text = request.query.get("resourceVersion", "")
        since = int(since_text) if since_text.isdigit() and since_text != "0" else None
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        try:
            async for event in self._store.watch(rk.resource, namespace, since):
                line = {"type": event.type, "object": self._served(rk, event.object)}
                await response.write(orjson.dumps(line) + b"\n")
        except GoneError as err:
            gone = {
                "type": "ERROR",
                "object": {"kind": "Status", "code": 410, "reason": "Expired", "message": str(err)},
            }
            await response.write(orjson.dumps(gone) + b"\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response

    async def get(self, request: web.Request) -> web.Response:
        rk = self._kind(request)
        key = self._key(rk, request)
        try:
            return _json(self._served(rk, await self._store.get(key)))
        except NotFoundError:
            return self._not_found(rk, key)

    async def create(self, request: web.Request) -> web.Response:
        rk = self._kind(request)
        namespace = request.match_info["namespace"]
        try:
            obj = await self._body(request)
            obj = self._admit(rk, obj, namespace, request.match_info["version"])
            name = obj["metadata"]["name"]
            created = await self._store.create(ResourceKey(rk.resource, namespace, name), obj)
        except ValidationError as err:
            return self._invalid(rk, err, "")
        except ConflictError:
            name = obj["metadata"]["name"]
            return error_response(
                409,
                f'{rk.resource} "{name}" already exists',
                kind=rk.plural,
                name=name,
                group=rk.group,
            )
        return _json(self._served(rk, created), status=201)

    async def replace(self, request: web.Request) -> web.Response:
        rk = self._kind(request)
        key = self._key(rk, request)
        try:
            obj = await self._body(request)
            obj = self._admit(rk, obj, key.namespace, request.match_info["version"])
            if obj["metadata"]["name"] != key.name:
                raise ValidationError.single(
                    "metadata.name", f"must be {key.name!r}, the name in the URL"
                )
            old = await self._store.get(key)
            rk.validate_update(old, obj)
            updated = await self._store.update(key, obj)
        except ValidationError as err:
            return self._invalid(rk, err, key.name)
        except NotFoundError:
            return self._not_found(rk, key)
        except ConflictError as err:
            return error_response(409, str(err), reason="Conflict", kind=rk.plural, name=key.name)
        return _json(self._served(rk, updated))

    async def replace_status(self, request: web.Request) -> web.Response:
        rk = self._kind(request)
        key = self._key(rk, request)
        try:
            obj = await self._body(request)
            updated = await self._store.update(key, obj, status_only=True)
        except ValidationError as err:
            return self._invalid(rk, err, key.name)
        except NotFoundError:
            return self._not_found(rk, key)
        except ConflictError as err:
            return error_response(409, str(err), reason="Conflict", kind=rk.plural, name=key.name)
        return _json(self._served(rk, updated))

    async def delete(self, request: web.Request) -> web.Response:
        rk = self._kind(request)
        key = self._key(rk, request)
        try:
            deleted = await self._store.delete(key)
        except NotFoundError:
            return self._not_found(rk, key)
        return _json(self._served(rk, deleted))

    def _admit(self, rk: ResourceKind, obj: Obj, namespace: str, version: str) -> Obj:
        """Default and validate an incoming object for this path (raises ValidationError)."""
        metadata = obj.get("metadata")
        if not isinstance(metadata, dict):
            raise ValidationError.single("metadata", "required field is missing")
        given_ns = metadata.get("namespace")
        if given_ns not in (None, "", namespace):
            raise ValidationError.single(
                "metadata.namespace",
                f"the namespace of the object ({given_ns}) does not match the namespace of "
                f"the request ({namespace})",
            )
        metadata["namespace"] = namespace
        api_version = f"{rk.group}/{version}" if rk.group else version
        obj.setdefault("apiVersion", api_version)
        obj.setdefault("kind", rk.kind)
        if self._scheme.for_object(obj) is not rk:
            raise ValidationError.single(
                "kind", f"expected {rk.kind} at this path, got {obj.get('kind')!r}"
            )
        obj = rk.default(obj)
        rk.validate(obj)
        return obj

    @staticmethod
    def _invalid(rk: ResourceKind, err: ValidationError, name: str) -> web.Response:
        return error_response(
            422,
            str(err),
            kind=rk.kind,
            name=name,
            group=rk.group,
            causes=list(err.errors),
        )

    @staticmethod
    def _not_found(rk: ResourceKind, key: ResourceKey) -> web.Response:
        return error_response(
            404,
            f'{rk.resource} "{key.name}" not found',
            kind=rk.plural,
            name=key.name,
            group=rk.group,
        )
