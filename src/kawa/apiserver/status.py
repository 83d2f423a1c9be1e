"""Kubernetes ``Status`` objects, and the one table that picks them for every error.

The API's handlers raise kawa errors; :data:`ERRORS` maps each error class to the HTTP
status code and the Kubernetes reason (``StatusReason``) kubectl and the clients read. A
class is looked up along its MRO, so a subclass without a row of its own
(:class:`kawa.errors.TemporaryError`) answers as its parent (:class:`kawa.errors.KawaError`,
503). One rule refines the table: a :class:`kawa.errors.ValidationError` none of whose
errors names a field is a malformed request (a body that is not JSON, a bad query
parameter), ``400 BadRequest``; with field paths it is ``422 Invalid`` with one
``details.causes[]`` entry per field.

The errors only the API raises (415, 413, 408, 504) are declared here with their rows. A
:class:`kawa.errors.TemporaryError` with a ``delay`` is answered with ``Retry-After``.
:class:`kawa.apiserver.server.ApiServer` answers every failed request with
:func:`error_response`, the watch stream (:mod:`kawa.apiserver.watch`) sends
:func:`status_of` in its ``ERROR`` events, and the token check (:mod:`kawa.apiserver.access`)
answers 401 with it. Pure except for building the aiohttp response.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from aiohttp import web

from kawa.errors import (
    AlreadyExistsError,
    BadGatewayError,
    ConflictError,
    ForbiddenError,
    GoneError,
    InsufficientStorageError,
    KawaError,
    MethodNotAllowedError,
    NotFoundError,
    TemporaryError,
    UnauthorizedError,
    ValidationError,
)


class UnsupportedMediaTypeError(KawaError):
    """A body of a content type kawa does not accept, or a patch type it does not apply."""


class RequestEntityTooLargeError(KawaError):
    """A body over the server's size limit."""


class RequestTimeoutError(KawaError):
    """A body that did not arrive within the server's body timeout."""


class TooLargeResourceVersionError(KawaError):
    """A watch from a resourceVersion the store has not reached (Kubernetes' watch cache
    answers ``504 Timeout`` with the cause ``ResourceVersionTooLarge`` after waiting a few
    seconds for it; clients retry after ``retryAfterSeconds``)."""

    RETRY_AFTER_SECONDS: Final = 1

    def __init__(self, requested: int, current: int) -> None:
        self.requested = requested
        self.current = current
        super().__init__(f"Timeout: Too large resource version: {requested}, current: {current}")


class ApplyConflictError(ConflictError):
    """A server-side apply that would change fields other managers own (``409 Conflict``
    with one ``FieldManagerConflict`` cause per field)."""

    def __init__(self, message: str, causes: list[dict[str, str]]) -> None:
        self.causes = causes
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Reason:
    """How an error is reported: the HTTP status ``code`` and Kubernetes' ``reason``."""

    code: int
    reason: str


ERRORS: Final[Mapping[type[KawaError], Reason]] = MappingProxyType(
    {
        ValidationError: Reason(422, "Invalid"),
        UnauthorizedError: Reason(401, "Unauthorized"),
        ForbiddenError: Reason(403, "Forbidden"),
        NotFoundError: Reason(404, "NotFound"),
        MethodNotAllowedError: Reason(405, "MethodNotAllowed"),
        AlreadyExistsError: Reason(409, "AlreadyExists"),
        ConflictError: Reason(409, "Conflict"),
        GoneError: Reason(410, "Expired"),
        RequestEntityTooLargeError: Reason(413, "RequestEntityTooLarge"),
        RequestTimeoutError: Reason(408, "Timeout"),
        UnsupportedMediaTypeError: Reason(415, "UnsupportedMediaType"),
        InsufficientStorageError: Reason(507, "InsufficientStorage"),
        BadGatewayError: Reason(502, "InternalError"),
        TooLargeResourceVersionError: Reason(504, "Timeout"),
        KawaError: Reason(503, "ServiceUnavailable"),
    }
)
"""Error class -> how the API reports it (every error the API returns comes from here)."""

BAD_REQUEST: Final = Reason(400, "BadRequest")
"""A :class:`~kawa.errors.ValidationError` whose errors name no field (see the module)."""


def reason_of(err: KawaError) -> Reason:
    """The row of :data:`ERRORS` for ``err`` (its class, else its nearest listed ancestor)."""
    if isinstance(err, ValidationError) and not any(e.path for e in err.errors):
        return BAD_REQUEST
    for cls in type(err).__mro__:
        reason = ERRORS.get(cls)
        if reason is not None:
            return reason
    return ERRORS[KawaError]


def status_of(err: KawaError, *, kind: str = "", group: str = "", name: str = "") -> dict[str, Any]:
    """The ``Status`` object reporting ``err``. ``kind``, ``group`` and ``name`` (the object
    an invalid write was about) go into ``details`` of a ``422 Invalid``."""
    row = reason_of(err)
    out: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": str(err),
        "reason": row.reason,
        "code": row.code,
    }
    if isinstance(err, ValidationError) and row == ERRORS[ValidationError]:
        details: dict[str, Any] = {}
        if name:
            details["name"] = name
        if group:
            details["group"] = group
        if kind:
            details["kind"] = kind
        details["causes"] = [
            {"reason": "FieldValueInvalid", "message": e.message, "field": e.path}
            for e in err.errors
        ]
        out["details"] = details
    elif isinstance(err, ApplyConflictError):
        out["details"] = {"causes": err.causes}
    elif isinstance(err, TooLargeResourceVersionError):
        out["details"] = {
            "causes": [
                {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
            ],
            "retryAfterSeconds": err.RETRY_AFTER_SECONDS,
        }
    return out


def error_response(
    err: KawaError, *, kind: str = "", group: str = "", name: str = ""
) -> web.Response:
    """The HTTP response reporting ``err`` (see :func:`status_of`)."""
    status = status_of(err, kind=kind, group=group, name=name)
    response = web.json_response(status, status=status["code"])
    if isinstance(err, TemporaryError) and err.delay is not None:
        response.headers["Retry-After"] = str(max(1, math.ceil(err.delay)))
    return response
