"""Broker ingress: CloudEvents over HTTP in, 202 once durably in the broker's event log.

The contract (Knative data plane): POST only (405 otherwise; OPTIONS answered with the
allowed methods), 400 for a message that is not a valid CloudEvent (and for an exhausted
``knativebrokerttl``), 404 for an unknown broker, 413 above the configured size, 507 when
the log is full (with what to do in the message; kawa trims delivered events and accepts
events again without a restart), 503 when the log cannot store the event for another
reason, and 202 only after the event is committed. The body is read
within the server's bounds (:func:`kawa.transport.bodies.read`): 408 for a body that does not
arrive in time, 503 with ``Retry-After`` while the server holds all the body bytes it may. With
``kawa up --max-delivery-lag`` a broker whose events wait too long for delivery answers 429
with ``Retry-After`` before it reads the request (:mod:`kawa.broker.backpressure`).

The route is ``/brokers/{namespace}/{name}``; the broker controller publishes that URL as the
Broker's ``status.address.url``. Knative's own URL form,
``http://broker-ingress.knative-eventing.svc.cluster.local/<namespace>/<name>``, is served too,
by ``Host`` (:meth:`IngressHandler.host_middleware`). The handlers call
:meth:`Publisher.publish`, which the trigger consumers also use to put replies back into a broker.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Final, Protocol

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from kawa.cloudevents import http as ce_http
from kawa.cloudevents.event import CloudEvent
from kawa.delivery import headers as delivery_headers
from kawa.errors import InsufficientStorageError, KawaError, NotFoundError, ValidationError
from kawa.transport import bodies

log = logging.getLogger(__name__)

ROUTE: Final = "/brokers/{namespace}/{name}"
KNATIVE_HOSTS: Final = frozenset(
    {
        "broker-ingress.knative-eventing",
        "broker-ingress.knative-eventing.svc",
        "broker-ingress.knative-eventing.svc.cluster.local",
    }
)
"""Host names of Knative's broker ingress (its URLs are ``http://<host>/<namespace>/<broker>``)."""
DEFAULT_MAX_EVENT_SIZE: Final = 4 * 1024 * 1024
_ALLOW: Final = "POST, OPTIONS"
FULL: Final = (
    "the event was not stored: the broker's event log is full; retry later (kawa trims the "
    "events its triggers delivered and accepts events again as soon as there is room)"
)
"""The 507 answer (the log's own error names files of the server: it goes to kawa's log)."""


class Publisher(Protocol):
    """Puts events into a broker (durably, when the call returns)."""

    async def publish(
        self,
        namespace: str,
        name: str,
        events: list[CloudEvent],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Raises NotFoundError (no such broker), ValidationError (TTL exhausted) or
        another KawaError when the log cannot store the events."""
        ...

    def retry_after(self, namespace: str, name: str) -> int | None:
        """Seconds to ask senders to wait (the broker pushes back), or ``None``."""
        ...


def _problem(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class IngressHandler:
    """aiohttp handlers for the broker ingress route."""

    def __init__(self, publisher: Publisher, *, max_event_size: int) -> None:
        self._publisher = publisher
        self._max = max_event_size

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(ROUTE, self.post),
            web.options(ROUTE, self.options),
            web.route("*", ROUTE, self.other),
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
        """Knative's broker ingress URL: a request whose ``Host`` is
        ``broker-ingress.knative-eventing[.svc[.cluster.local]]`` (any port) and whose path is
        ``/<namespace>/<broker>`` goes to that broker, as the ``/brokers/...`` route does; any
        other path on that host is a 404 that says the form. Other hosts go on untouched."""

        @web.middleware
        async def by_host(request: web.Request, handler: Handler) -> web.StreamResponse:
            host = request.headers.get("Host", "").lower().rpartition(":")
            name = (host[0] if host[1] and host[2].isdigit() else "".join(host)).rstrip(".")
            if name not in KNATIVE_HOSTS:
                return await handler(request)
            parts = request.path.strip("/").split("/")
            if len(parts) != 2 or not all(parts):
                return web.Response(
                    status=404,
                    text=f"the broker ingress takes events at /<namespace>/<broker>, "
                    f"not {request.path[:100]}\n",
                )
            if request.method == "POST":
                return await self.publish_to(request, parts[0], parts[1])
            if request.method == "OPTIONS":
                return await self.options(request)
            return await self.other(request)

        return by_host

    async def post(self, request: web.Request) -> web.Response:
        return await self.publish_to(
            request, request.match_info["namespace"], request.match_info["name"]
        )

    async def publish_to(self, request: web.Request, namespace: str, name: str) -> web.Response:
        """Take the event of ``request`` into broker ``namespace/name``."""
        retry_after = self._publisher.retry_after(namespace, name)
        if retry_after is not None:
            return web.json_response(
                {"error": f"broker {namespace}/{name} is behind with its deliveries; retry later"},
                status=429,
                headers={"Retry-After": str(retry_after)},
            )
        try:
            async with bodies.read(request, self._max) as body:
                return await self._publish(request, namespace, name, body)
        except bodies.BodyError as err:
            response = _problem(err.status, str(err))
            response.headers.update(err.headers)
            if err.close:
                response.force_close()
            return response

    async def _publish(
        self, request: web.Request, namespace: str, name: str, body: bytes
    ) -> web.Response:
        try:
            event = ce_http.from_http(request.headers, body)
        except ValidationError as err:
            return _problem(400, str(err))
        forwarded = delivery_headers.forwarded_headers(request.headers.items())
        try:
            await self._publisher.publish(namespace, name, [event], forwarded)
        except NotFoundError as err:
            return _problem(404, str(err))
        except ValidationError as err:
            return _problem(400, str(err))
        except InsufficientStorageError:
            return _problem(507, FULL)
        except KawaError as err:
            log.warning("broker %s/%s could not store an event: %s", namespace, name, err)
            return _problem(503, f"the event could not be stored: {err}")
        return web.Response(status=202)
