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
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Final, Protocol

from aiohttp import web
from aiohttp.typedefs import Middleware

from kawa.cloudevents import http as ce_http
from kawa.cloudevents.event import CloudEvent
from kawa.delivery import headers as delivery_headers
from kawa.delivery import tracing
from kawa.dispatch import stats
from kawa.dispatch.envelope import STRUCTURED_KEY
from kawa.errors import InsufficientStorageError, KawaError, NotFoundError, ValidationError
from kawa.transport import bodies
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


def _problem(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def host_name(request: web.Request) -> str:
    """The request's Host in lowercase, without port or trailing dot."""
    host = request.headers.get("Host", "").lower().rpartition(":")
    return (host[0] if host[1] and host[2].isdigit() else "".join(host)).rstrip(".")


class IngressHandler:
    """aiohttp handlers of one kind's ingress (see the module docstring)."""

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
    ) -> None:
        self._publisher = publisher
        self._reporter = reporter
        self._tracer = tracer if tracer.enabled else None
        self._span_name = tracing.ingress_name(what)
        self._max = max_event_size
        self._what = what
        self._route = route
        self._host_form = host_form
        self._keep_mode = keep_mode

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(self._route, self.post),
            web.options(self._route, self.options),
            web.route("*", self._route, self.other),
        ]

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
            target = self._host_form(host_name(request), request.path)
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
        start = time.perf_counter()
        if self._tracer is None:
            response, event_type = await self._take(request, namespace, name, None)
        else:
            response, event_type = await self._traced(request, namespace, name, self._tracer)
        self._reporter.ingress(
            self._what,
            namespace,
            name,
            event_type,
            response.status,
            time.perf_counter() - start,
        )
        return response

    async def _traced(
        self, request: web.Request, namespace: str, name: str, tracer: tracing.Tracer
    ) -> tuple[web.Response, str]:
        """:meth:`_take` in an ingress span, child of the request's trace context."""
        span = tracer.start(
            self._span_name,
            request.headers,
            "server",
            {tracing.NAMESPACE: namespace, f"kawa.{self._what}": name},
        )
        try:
            response, event_type = await self._take(request, namespace, name, span)
            span.set(tracing.STATUS, response.status)
            if response.status >= 500:
                span.fail(response.text or f"HTTP {response.status}")
            return response, event_type
        except BaseException as err:
            span.fail(repr(err))
            raise
        finally:
            span.end()

    async def _take(
        self, request: web.Request, namespace: str, name: str, span: tracing.Span | None
    ) -> tuple[web.Response, str]:
        """The answer to ``request`` and the type of the event it held ("" if none)."""
        retry_after = self._publisher.retry_after(namespace, name)
        if retry_after is not None:
            return web.json_response(
                {
                    "error": f"{self._what} {namespace}/{name} is behind with its deliveries; "
                    "retry later"
                },
                status=429,
                headers={"Retry-After": str(retry_after)},
            ), ""
        try:
            async with bodies.read(request, self._max) as body:
                return await self._publish(request, namespace, name, body, span)
        except bodies.BodyError as err:
            response = _problem(err.status, str(err))
            response.headers.update(err.headers)
            if err.close:
                response.force_close()
            return response, ""

    async def _publish(
        self,
        request: web.Request,
        namespace: str,
        name: str,
        body: bytes,
        span: tracing.Span | None,
    ) -> tuple[web.Response, str]:
        try:
            event = ce_http.from_http(request.headers, body)
        except ValidationError as err:
            return _problem(400, str(err)), ""
        if span is None:
            return await self._store(request, namespace, name, event), event.type
        span.set(tracing.EVENT_ID, event.id)
        span.set(tracing.EVENT_TYPE, event.type)
        span.set(tracing.EVENT_SOURCE, event.source)
        # the event is stored with the ingress span as its parent: its deliveries continue here
        forwarded = delivery_headers.forwarded_headers(request.headers.items())
        span.inject(forwarded)
        commit = span.child(tracing.COMMIT)
        try:
            response = await self._store(request, namespace, name, event, forwarded)
            if response.status != 202:
                commit.fail(response.text or f"HTTP {response.status}")
            return response, event.type
        finally:
            commit.end()

    async def _store(
        self,
        request: web.Request,
        namespace: str,
        name: str,
        event: CloudEvent,
        forwarded: dict[str, str] | None = None,
    ) -> web.Response:
        if forwarded is None:
            forwarded = delivery_headers.forwarded_headers(request.headers.items())
        if self._keep_mode and request.content_type.startswith(_STRUCTURED):
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
        return web.Response(status=202)


async def _answer(response: web.StreamResponse) -> web.StreamResponse:
    return response
