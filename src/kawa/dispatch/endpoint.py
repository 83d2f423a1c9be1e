"""What the data-plane endpoints of kawa's other addressables share: EventTransform, JobSink,
IntegrationSink and RequestReply each take one CloudEvent per POST at
``<prefix>{namespace}/{name}``.

- :func:`post_routes`: the POST route, ``OPTIONS`` (answering the allowed methods) and 405 for
  every other method;
- :func:`read_event`: the request's body read within the server's bounds
  (:func:`kawa.transport.bodies.read`: 408/413/503 as the broker ingress answers them) and
  parsed as one CloudEvent (400 for one that is not, and for a batch: these kinds take one
  event);
- :func:`check_sender`: the kind's sender check (authentication-oidc, EventPolicies:
  :data:`kawa.dispatch.ingress.Authorize`), its refusal as the response; :func:`admit_sender`
  the same, saying whom it let through;
- :func:`problem`: a JSON error answer (``{"error": ..., "reason": ...}``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from aiohttp import web

from kawa.cloudevents import http as ce_http
from kawa.cloudevents.event import CloudEvent
from kawa.dispatch.ingress import Authorize
from kawa.dispatch.senders import Admitted, SenderCheck
from kawa.errors import FieldError, ValidationError
from kawa.transport import bodies, lean

ALLOW: Final = "POST, OPTIONS"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def problem(status: int, message: str, reason: str = "") -> web.Response:
    """A JSON error answer with ``status``, saying ``message`` (and ``reason``)."""
    body = {"error": message, **({"reason": reason} if reason else {})}
    return web.Response(status=status, body=json.dumps(body), content_type="application/json")


def from_answer(answer: lean.Answer) -> web.Response:
    """A :class:`~kawa.transport.lean.Answer` (a sender check's refusal) as aiohttp's."""
    headers = dict(answer.headers)
    if answer.content_type is not None:
        headers["Content-Type"] = answer.content_type
    return web.Response(status=answer.status, body=answer.body or None, headers=headers)


async def _options(request: web.Request) -> web.Response:
    return web.Response(status=200, headers={"Allow": ALLOW})


async def _other(request: web.Request) -> web.Response:
    return web.Response(
        status=405,
        headers={"Allow": ALLOW},
        text=f"method {request.method} is not allowed; send events with POST\n",
    )


def post_routes(route: str, post: Handler) -> list[web.RouteDef]:
    """``post`` at ``route``, ``OPTIONS`` and 405 for any other method."""
    return [web.post(route, post), web.options(route, _options), web.route("*", route, _other)]


def one_event(headers: Mapping[str, str], body: bytes, what: str) -> CloudEvent:
    """The one CloudEvent of a request (``what`` takes one: a batch is refused)."""
    content_type = headers.get("Content-Type", "").lstrip().lower()
    if content_type.startswith("application/cloudevents-batch"):
        message = f"batched mode is not supported: {what} takes one event"
        raise ValidationError([FieldError("", message)])
    return ce_http.from_http(headers, body)


async def read_event(request: web.Request, max_size: int, what: str) -> CloudEvent | web.Response:
    """The request's one CloudEvent, or the answer saying why there is none."""
    try:
        async with bodies.read(request, max_size) as body:
            return one_event(request.headers, body, what)
    except bodies.BodyError as err:
        return web.Response(status=err.status, text=f"{err}\n", headers=dict(err.headers))
    except ValidationError as err:
        return problem(400, str(err), "NotACloudEvent")


async def check_sender(
    authorize: Authorize | None,
    namespace: str,
    name: str,
    request: web.Request,
    event: CloudEvent,
) -> web.Response | None:
    """``None`` when the sender may post ``event`` to ``namespace/name``, else the refusal."""
    if authorize is None:
        return None
    refused = await authorize(namespace, name, request.headers, event)
    return None if refused is None else from_answer(refused)


async def admit_sender(
    check: SenderCheck | None,
    namespace: str,
    name: str,
    request: web.Request,
    event: CloudEvent,
) -> web.Response | Admitted:
    """Whom ``check`` lets post ``event`` to ``namespace/name`` (anyone without a check), or
    the refusal."""
    if check is None:
        return Admitted()
    admitted = await check.admit(namespace, name, request.headers, event)
    return from_answer(admitted) if isinstance(admitted, lean.Answer) else admitted
