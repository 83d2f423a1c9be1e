"""Successful answers of the resource handlers: an object in the client's apiVersion or as a
kubectl Table, with the warnings admission collected as ``Warning`` headers.

Used by :mod:`kawa.apiserver.reads`, :mod:`kawa.apiserver.writes` and
:mod:`kawa.apiserver.deletes`; errors are answered by :mod:`kawa.apiserver.status`.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from aiohttp import web

from kawa.apiserver import tables
from kawa.apiserver.requests import Target
from kawa.store.base import Obj

WARNINGS: Final = web.RequestKey("kawa.warnings", list[str])
"""Request key of the warnings a response carries (``Warning: 299 - "..."`` headers)."""


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def render(target: Target, obj: Obj) -> Obj:
    """A stored object as the path's apiVersion shows it."""
    out = target.kind.to_version(obj, target.api_version)
    out.setdefault("kind", target.kind.kind)
    return out


def respond(request: web.Request, target: Target, obj: Obj, status: int = 200) -> web.Response:
    """``obj`` (stored form) as the client asked for it: a Table or the object itself."""
    if tables.wants_table(request.headers.get("Accept", "")):
        rv = str(obj.get("metadata", {}).get("resourceVersion", ""))
        response = json_response(tables.table(target.kind, [obj], rv), status)
    else:
        response = json_response(render(target, obj), status)
    for warning in request.get(WARNINGS, ()):
        escaped = warning.replace("\\", "\\\\").replace('"', '\\"')
        response.headers.add("Warning", f'299 - "{escaped}"')
    return response


def object_list(target: Target, items: list[Obj], resource_version: int) -> web.Response:
    """A ``<Kind>List`` of ``items`` (what a delete of the collection answers)."""
    return json_response(
        {
            "apiVersion": target.api_version,
            "kind": f"{target.kind.kind}List",
            "metadata": {"resourceVersion": str(resource_version)},
            "items": [render(target, item) for item in items],
        }
    )
