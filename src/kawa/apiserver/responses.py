"""Successful answers of the resource handlers: an object in the client's apiVersion or as a
kubectl Table, with the warnings admission collected as ``Warning`` headers.

Used by :mod:`kawa.apiserver.reads`, :mod:`kawa.apiserver.writes` and
:mod:`kawa.apiserver.deletes`; errors are answered by :mod:`kawa.apiserver.status`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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
    for header in warning_headers(request.get(WARNINGS, ())):
        response.headers.add("Warning", header)
    return response


MAX_WARNINGS: Final = 50
"""``Warning`` headers one response carries at most (the last one says how many more there
were): a write with thousands of unknown fields must not answer thousands of headers (Python's
``http.client``, under the Kubernetes Python client, refuses a response with more than 100)."""
MAX_WARNING_CHARS: Final = 256
"""Characters of one warning's text kept once the warnings pass :data:`MAX_WARNINGS_TEXT`
(Kubernetes' ``truncateItemRunes``)."""
MAX_WARNINGS_TEXT: Final = 4 * 1024
"""Characters of warning text one response carries in full (Kubernetes' ``truncateAtTotalRunes``);
past it every warning is cut to :data:`MAX_WARNING_CHARS`."""


def warning_headers(texts: Iterable[str]) -> list[str]:
    """The ``Warning`` header values for ``texts``: each text once, in order, cut as Kubernetes
    cuts them past :data:`MAX_WARNINGS_TEXT` characters, and at most :data:`MAX_WARNINGS`
    headers (the last then counts the warnings left out)."""
    unique = list(dict.fromkeys(text for text in texts if text))
    if sum(len(text) for text in unique) > MAX_WARNINGS_TEXT:
        unique = [text[:MAX_WARNING_CHARS] for text in unique]
    if len(unique) > MAX_WARNINGS:
        left_out = len(unique) - (MAX_WARNINGS - 1)
        unique = [*unique[: MAX_WARNINGS - 1], f"and {left_out} more warnings"]
    return [warning_header(text) for text in unique]


_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


def warning_header(text: str) -> str:
    """The ``Warning`` header value carrying ``text`` (RFC 7234 section 5.5, as Kubernetes
    sends it: code 299, agent ``-``): a quoted string; control characters are written as
    ``\\xNN`` (a field named after user input may hold a newline, which no header may carry)."""
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{escaped}"'


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
