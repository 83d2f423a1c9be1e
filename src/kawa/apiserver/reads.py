"""Reads of resources: get, list (selectors, ``limit``/``continue`` paging, Tables) and watch.

Objects are converted from their storage version to the version the client used. Called by
:class:`kawa.apiserver.server.ApiServer`; the watch stream itself is
:mod:`kawa.apiserver.watch`.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
from aiohttp import web

from kawa.apiserver import selectors, tables, watch
from kawa.apiserver.requests import Target
from kawa.apiserver.responses import json_response, render, respond
from kawa.errors import ValidationError
from kawa.store.base import Obj, ResourceStore


class Reads:
    """The read handlers (see the module docstring)."""

    def __init__(self, store: ResourceStore) -> None:
        self._store = store

    async def get(self, request: web.Request, target: Target) -> web.Response:
        return respond(request, target, await self._store.get(target.key()))

    async def list(self, request: web.Request, target: Target) -> web.StreamResponse:
        selected = selectors.from_query(request.query, target.kind.field_labels)
        rk = target.kind
        as_table = tables.wants_table(request.headers.get("Accept", ""))
        if request.query.get("watch") in ("1", "true"):

            def render_event(obj: Obj) -> Any:
                if as_table:
                    rv = str(obj.get("metadata", {}).get("resourceVersion", ""))
                    return tables.table(rk, [obj], rv)
                return render(target, obj)

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
                render=render_event,
                selected=selected,
                bookmark=bookmark,
            )
        result = await self._store.list(rk.resource, target.namespace)
        items = [item for item in result.items if selected(item)]
        items, token = _page(items, request.query.get("limit"), request.query.get("continue"))
        rv = str(result.resource_version)
        if as_table:
            full = (
                (lambda obj: render(target, obj))
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
                "items": [render(target, item) for item in items],
            }
        )


def _page(items: list[Obj], limit_text: str | None, token: str | None) -> tuple[list[Obj], str]:
    """``limit``/``continue`` paging over items sorted by namespace and name."""
    start = 0
    if token:
        position = _position(token)
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


def _position(token: str) -> tuple[str, str]:
    """The (namespace, name) a ``continue`` token resumes after (base64 of a JSON pair)."""
    try:
        after = orjson.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError:  # not base64 (binascii.Error), not JSON (orjson.JSONDecodeError)
        after = None
    if not isinstance(after, list) or len(after) != 2:
        raise ValidationError.single("continue", "invalid continue token")
    return str(after[0]), str(after[1])
