"""Kubernetes ``Status`` objects: how the API server reports every error.

kubectl and the Kubernetes clients read ``code``, ``reason``, ``message`` and, for invalid
objects, ``details.causes[]`` (one per field, ``field`` + ``message``). Pure helpers; the
server's handlers call them.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kawa.errors import FieldError

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "AlreadyExists",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    500: "InternalError",
}


def status_object(
    code: int,
    message: str,
    *,
    reason: str | None = None,
    kind: str = "",
    name: str = "",
    group: str = "",
    causes: list[FieldError] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if code < 400 else "Failure",
        "message": message,
        "reason": reason or _REASONS.get(code, ""),
        "code": code,
    }
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if kind:
        details["kind"] = kind
    if causes:
        details["causes"] = [
            {"reason": "FieldValueInvalid", "message": c.message, "field": c.path} for c in causes
        ]
    if details:
        out["details"] = details
    return out


def error_response(code: int, message: str, **kw: Any) -> web.Response:
    return web.json_response(status_object(code, message, **kw), status=code)
