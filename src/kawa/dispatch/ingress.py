"""Event ingress over HTTP, shared by brokers and channels: 202 once durably in the event log.

The contract (Knative's broker and channel data planes): POST only (405 otherwise; OPTIONS
answered with the allowed methods), 400 for a message that is not a valid CloudEvent (and
for an event a publisher refuses, such as an exhausted ``knativebrokerttl``), 404 for an
unknown broker or channel, 413 above the configured size, 507 when the log is full (with
what to do in the message; kawa trims delivered events and accepts events again without a
restart), 503 when the log cannot store the event for another reason, and 202 only after
the event is committed. The body is read within the server's bounds
(:func:`kawa.transport.bodies.read`): 408 for a body that does not arrive in time, 503 with
``Retry-After`` while the server holds all the body bytes it may. A publisher that pushes
back (:meth:`Publisher.retry_after`) gets 429 with ``Retry-After`` before the request is
read.

An :class:`IngressHandler` serves one kind of target at ``/<plural>/{namespace}/{name}`` and,
by ``Host``, at Knative's own URLs (:class:`HostForm`, given by the kind:
:mod:`kawa.broker.ingress`, :mod:`kawa.channels.ingress`). With ``keep_mode`` an event that
came in structured mode is stored as such (:data:`kawa.dispatch.envelope.STRUCTURED_KEY`), so
that a channel's subscribers get it the way it was sent. Every answer of :meth:`publish_to`
goes to the :class:`~kawa.dispatch.stats.Reporter` (kind, target, event type, status, time).
With tracing on (:mod:`kawa.delivery.tracing`) a request is a ``<kind> ingress`` span, child of
the request's ``traceparent``, with an ``event log commit`` child; the event is stored with
the ingress span's context as its ``traceparent`` (and ``tracestate``).

The same accept logic serves two servers: aiohttp's routes and host handlers
(:meth:`IngressHandler.publish_to`), and the lean path of :mod:`kawa.transport.lean`
(:meth:`IngressHandler.accept`, picked by :func:`lean_pick`), which reads the body within the
server's bounds itself and hands every request it does not take to aiohttp. Both give the
answers above; on the lean path the 429 comes once the (small) body has arrived.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Final, Protocol

from aiohttp import web
from aiohttp.typedefs import Middleware

from kawa import memo
from kawa.cloudevents import http as ce_http
from kawa.cloudevents.event import CloudEvent
from kawa.delivery import headers as delivery_headers
from kawa.delivery import tracing
from kawa.dispatch import stats
from kawa.dispatch.envelope import STRUCTURED_KEY
from kawa.errors import InsufficientStorageError, KawaError, NotFoundError, ValidationError
from kawa.transport import bodies, lean
from kawa.transport.front import HostHandler, front_door

log = logging.getLogger(__name__)

DEFAULT_MAX_EVENT_SIZE: Final = 4 * 1024 * 1024
_ALLOW: Final = "POST, OPTIONS"
_STRUCTURED: Final = "application/cloudevents"


def full(what: str) -> str:
    """The 507 answer (the log's own error names files of the server: it goes to kawa's
    log)."""
    return (
        f"the event was not stored: the {what}'s event log is full; retry later (kawa trims "
        f"the events it delivered and accepts events again as soon as there is room)"
    )


Authorize = Callable[[str, str, Mapping[str, str], CloudEvent], Awaitable["lean.Answer | None"]]
"""Whether the sender of ``event`` (its request's ``headers``) may post to ``namespace/name``:
``None`` if so, else the answer (401 for a missing or invalid token, 403 for a sender no policy
allows). Called after the event is parsed and before it is stored (docs/security.md)."""


OVER_TLS: Final[contextvars.ContextVar[bool]] = contextvars.ContextVar(
    "kawa_ingress_over_tls", default=False
)
"""Whether the request being taken came over TLS (the lean path serves only plain HTTP):
what ``transport-encryption: strict`` refuses otherwise (:mod:`kawa.dispatch.senders`)."""


def refusal(status: int, message: str) -> lean.Answer:
    """A plain-text answer with ``status`` and ``message`` (for :data:`Authorize`)."""
    return _problem(status, message)


class Publisher(Protocol):
    """Puts events into a broker or channel (durably, when the call returns)."""

    async def publish(
        self,
        namespace: str,
        name: str,
        events: list[CloudEvent],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Raises NotFoundError (no such target), ValidationError (an event it refuses) or
        another KawaError when the log cannot store the events."""
        ...

    def retry_after(self, namespace: str, name: str) -> int | None:
        """Seconds to ask senders to wait (the target pushes back), or ``None``."""
        ...


HostForm = Callable[[str, str], tuple[str, str] | str | None]
"""Knative's URL of a target by Host: ``(host name without port, path)`` to ``(namespace,
name)``; a string: the host is the kind's but the path is not a target (a 404 with that
text); ``None``: not this kind's host."""


def _problem(status: int, message: str) -> lean.Answer:
    return lean.Answer(status, json.dumps({"error": message}).encode(), "application/json")


def _response(answer: lean.Answer) -> web.Response:
    """``answer`` as aiohttp's response."""
    headers = dict(answer.headers)
    if answer.content_type is not None:
        headers["Content-Type"] = answer.content_type
    response = web.Response(status=answer.status, body=answer.body or None, headers=headers)
    if answer.close:
        response.force_close()
    return response


def _text_of(answer: lean.Answer) -> str:
    return answer.body.decode(errors="replace") or f"HTTP {answer.status}"


ROUTE_KEY_MAX: Final = 512
"""Characters of a ``Host`` (or a Host and path) whose routing is remembered; a longer one
is worked out every time, so a sender's huge headers never stay in memory."""


@memo.short_keys(1024, ROUTE_KEY_MAX)  # few hosts, every request
def host_of(value: str) -> str:
    """A ``Host`` header's host name in lowercase, without port or trailing dot."""
    host = value.lower().rpartition(":")
    return (host[0] if host[1] and host[2].isdigit() else "".join(host)).rstrip(".")


def host_name(request: web.Request) -> str:
    """The request's Host in lowercase, without port or trailing dot."""
    return host_of(request.headers.get("Host", ""))


BodyOf = Callable[[], AbstractAsyncContextManager[bytes]] | bytes
"""How a request's body is read within the server's bounds (aiohttp:
:func:`kawa.transport.bodies.read`), or the body itself (the lean path read it already)."""
Claim = Callable[[Mapping[str, str]], bool]
"""Whether a request (by its headers: ``Host``, a relay header) is another handler's, one the
front door tries before the ingress routes (a Knative Route's or a Service's host)."""


class IngressHandler:
    """The handlers of one kind's ingress, on aiohttp and on the lean path (see the module
    docstring)."""

    def __init__(
        self,
        publisher: Publisher,
        *,
        max_event_size: int,
        what: str,
        route: str,
        host_form: HostForm,
        keep_mode: bool = False,
        reporter: stats.Reporter = stats.NO_REPORTER,
        tracer: tracing.Tracer = tracing.NO_TRACER,
        authorize: Authorize | None = None,
    ) -> None:
        self._publisher = publisher
        self._authorize = authorize
        self._reporter = reporter
        self._tracer = tracer if tracer.enabled else None
        self._span_name = tracing.ingress_name(what)
        self._max = max_event_size
        self._what = what
        self._route = route
        self._prefix = route.partition("{")[0]
        self.host_form = host_form
        self._keep_mode = keep_mode

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(self._route, self.post),
            web.options(self._route, self.options),
            web.route("*", self._route, self.other),
        ]

    def route_target(self, path: str) -> tuple[str, str] | None:
        """``(namespace, name)`` of a path the route matches (no percent-encoding in it)."""
        if not path.startswith(self._prefix):
            return None
        namespace, slash, name = path[len(self._prefix) :].partition("/")
        if not (namespace and slash and name) or "/" in name:
            return None
        return namespace, name

    async def options(self, request: web.Request) -> web.Response:
        return web.Response(status=200, headers={"Allow": _ALLOW})

    async def other(self, request: web.Request) -> web.Response:
        return web.Response(
            status=405,
            headers={"Allow": _ALLOW},
            text=f"method {request.method} is not allowed; send events with POST\n",
        )

    def host_middleware(self) -> Middleware:
        """:meth:`host_handler` as the one middleware of an application (tests)."""
        return front_door([self.host_handler()])

    def host_handler(self) -> HostHandler:
        """Knative's URLs of this kind, by ``Host`` (any port): a request the kind's
        :data:`HostForm` maps to a target is taken as the route would; other hosts go on
        untouched."""

        def by_host(request: web.Request) -> Awaitable[web.StreamResponse] | None:
            target = self.host_form(host_name(request), request.path)
            if target is None:
                return None
            if isinstance(target, str):
                return _answer(web.Response(status=404, text=target))
            if request.method == "POST":
                return self.publish_to(request, *target)
            if request.method == "OPTIONS":
                return self.options(request)
            return self.other(request)

        return by_host

    async def post(self, request: web.Request) -> web.Response:
        return await self.publish_to(
            request, request.match_info["namespace"], request.match_info["name"]
        )

    async def publish_to(self, request: web.Request, namespace: str, name: str) -> web.Response:
        """Take the event of ``request`` into ``namespace/name`` (and report the answer)."""
        over_tls = OVER_TLS.set(request.secure)
        try:
            answer = await self._measured(
                namespace, name, request.headers, lambda: bodies.read(request, self._max)
            )
        finally:
            OVER_TLS.reset(over_tls)
        return _response(answer)

    async def accept(
        self, namespace: str, name: str, headers: Mapping[str, str], body: bytes
    ) -> lean.Answer:
        """The lean path's :data:`~kawa.transport.lean.Accept`: a POST of ``body`` (read
        within the server's bounds) into ``namespace/name``."""
        return await self._measured(namespace, name, headers, body)

    async def _measured(
        self, namespace: str, name: str, headers: Mapping[str, str], body_of: BodyOf
    ) -> lean.Answer:
        start = time.perf_counter()
        if self._tracer is None:
            answer, event_type = await self._take(namespace, name, headers, body_of, None)
        else:
            answer, event_type = await self._traced(namespace, name, headers, body_of, self._tracer)
        self._reporter.ingress(
            self._what,
            namespace,
            name,
            event_type,
            answer.status,
            time.perf_counter() - start,
        )
        return answer

    async def _traced(
        self,
        namespace: str,
        name: str,
        headers: Mapping[str, str],
        body_of: BodyOf,
        tracer: tracing.Tracer,
    ) -> tuple[lean.Answer, str]:
        """:meth:`_take` in an ingress span, child of the request's trace context."""
        span = tracer.start(
            self._span_name,
            headers,
            "server",
            {tracing.NAMESPACE: namespace, f"kawa.{self._what}": name},
        )
        try:
            answer, event_type = await self._take(namespace, name, headers, body_of, span)
            span.set(tracing.STATUS, answer.status)
            if answer.status >= 500:
                span.fail(_text_of(answer))
            return answer, event_type
        except BaseException as err:
            span.fail(repr(err))
            raise
        finally:
            span.end()

    async def _take(
        self,
        namespace: str,
        name: str,
        headers: Mapping[str, str],
        body_of: BodyOf,
        span: tracing.Span | None,
    ) -> tuple[lean.Answer, str]:
        """The answer to a request and the type of the event it held ("" if none)."""
        retry_after = self._publisher.retry_after(namespace, name)
        if retry_after is not None:
            message = f"{self._what} {namespace}/{name} is behind with its deliveries; retry later"
            answer = _problem(429, message)
            return lean.Answer(
                429, answer.body, answer.content_type, {"Retry-After": str(retry_after)}
            ), ""
        if isinstance(body_of, bytes):  # the lean path's, read already
            return await self._publish(namespace, name, headers, body_of, span)
        try:
            async with body_of() as body:
                return await self._publish(namespace, name, headers, body, span)
        except bodies.BodyError as err:
            answer = _problem(err.status, str(err))
            return lean.Answer(
                err.status, answer.body, answer.content_type, dict(err.headers), err.close
            ), ""

    async def _publish(
        self,
        namespace: str,
        name: str,
        headers: Mapping[str, str],
        body: bytes,
        span: tracing.Span | None,
    ) -> tuple[lean.Answer, str]:
        try:  # one pass over the headers: the event and what its deliveries carry on
            event, forwarded = ce_http.from_http_keeping(headers, body, *_FORWARDED)
        except ValidationError as err:
            return _problem(400, str(err)), ""
        if self._authorize is not None:
            refused = await self._authorize(namespace, name, headers, event)
            if refused is not None:  # before the event is stored: nothing of it is kept
                return refused, event.type
        if span is None:
            return await self._store(namespace, name, headers, event, forwarded), event.type
        span.set(tracing.EVENT_ID, event.id)
        span.set(tracing.EVENT_TYPE, event.type)
        span.set(tracing.EVENT_SOURCE, event.source)
        # the event is stored with the ingress span as its parent: its deliveries continue here
        span.inject(forwarded)
        commit = span.child(tracing.COMMIT)
        try:
            answer = await self._store(namespace, name, headers, event, forwarded)
            if answer.status != 202:
                commit.fail(_text_of(answer))
            return answer, event.type
        finally:
            commit.end()

    async def _store(
        self,
        namespace: str,
        name: str,
        headers: Mapping[str, str],
        event: CloudEvent,
        forwarded: dict[str, str],
    ) -> lean.Answer:
        if self._keep_mode and _structured(headers):
            forwarded[STRUCTURED_KEY] = "1"
        try:
            await self._publisher.publish(namespace, name, [event], forwarded)
        except NotFoundError as err:
            return _problem(404, str(err))
        except ValidationError as err:
            return _problem(400, str(err))
        except InsufficientStorageError:
            return _problem(507, full(self._what))
        except KawaError as err:
            log.warning("%s %s/%s could not store an event: %s", self._what, namespace, name, err)
            return _problem(503, f"the event could not be stored: {err}")
        return ACCEPTED


ACCEPTED: Final = lean.Answer(202)
_FORWARDED: Final = (delivery_headers.FORWARDED_HEADERS, delivery_headers.FORWARDED_PREFIXES)


def _structured(headers: Mapping[str, str]) -> bool:
    return headers.get("Content-Type", "").lstrip().lower().startswith(_STRUCTURED)


def lean_pick(handlers: Sequence[IngressHandler], claims: Sequence[Claim] = ()) -> lean.Pick:
    """The lean path's :data:`~kawa.transport.lean.Pick` of ``handlers`` (brokers, channels):
    a POST whose host no claim takes, to a kind's Knative host form or route. Everything the
    front door would give another handler first goes to aiohttp."""
    kinds = tuple(handlers)
    claimed = tuple(claims)
    routed: dict[tuple[str, str], lean.Accept | None] = {}
    """What the host and path alone decide (no live state): asked once per pair."""

    def route(host: str, path: str) -> lean.Accept | None:
        for kind in kinds:
            by_host = kind.host_form(host, path)
            if isinstance(by_host, str):  # a 404: aiohttp's to answer
                return None
            if by_host is not None:
                return functools.partial(kind.accept, *by_host)
        for kind in kinds:
            target = kind.route_target(path)
            if target is not None:
                return functools.partial(kind.accept, *target)
        return None

    def pick(path: str, headers: lean.Headers) -> lean.Accept | None:
        for claim in claimed:  # live: a Service or Route made a moment ago takes its host
            if claim(headers):
                return None
        key = (headers.get("Host", ""), path)
        if len(key[0]) + len(path) > ROUTE_KEY_MAX:
            return route(host_of(key[0]), path)
        try:
            return routed[key]
        except KeyError:
            pass
        if len(routed) >= ROUTES_KEPT:
            routed.clear()
        found = routed[key] = route(host_of(key[0]), path)
        return found

    return pick


ROUTES_KEPT: Final = 4096
"""(Host, path) pairs whose lean route :func:`lean_pick` keeps (all are forgotten at once
when more come: a sender naming endless hosts or paths costs a re-parse, never memory)."""


async def _answer(response: web.StreamResponse) -> web.StreamResponse:
    return response
