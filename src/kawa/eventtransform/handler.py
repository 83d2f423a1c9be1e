"""The EventTransform endpoint: ``POST /transforms/{namespace}/{name}`` on the data-plane port.

Each request carries one CloudEvent (binary or structured mode; a batch is refused with 400).
The transform's expression runs on it (:func:`kawa.transform.apply`), then:

* without a sink, the transformed event is the answer: 200, binary mode (a Trigger or a
  Subscription publishes it as its reply);
* with a sink, it is sent there once (:meth:`kawa.delivery.sender.Dispatcher.send`, binary
  mode, with the request's forwarded headers and, with authentication-oidc, no token of its
  own yet) and the sink's answer becomes the transform's, as Knative's transformation does:
  its status, and its reply event as it came (binary mode), transformed by
  ``spec.reply.jsonata``, or dropped with ``spec.reply.discard``. The caller's delivery does
  the retrying: an error of the sink is answered with its status (a body saying so), no
  answer at all (refused connection, timeout) or a reply that is not a CloudEvent with 502,
  a sink not resolved yet with 503.

Other answers, each a JSON body ``{"error": ..., "reason": ...}``: 404 for an unknown
transform, 400 for a request that is no CloudEvent, 413 above the size limit, 422 for an
event the expression fails on or turns into no valid CloudEvent (``reason``
``EvaluationFailed`` or ``NotACloudEvent``: not retried, as the same event fails again; the
caller's dead-letter sink gets it), 500 for a transform whose expression does not compile.
With authentication-oidc the sender is checked as at broker ingress (401, 403).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Final

from aiohttp import web

from kawa import transform
from kawa.cloudevents import http as ce_http
from kawa.cloudevents.event import CloudEvent
from kawa.delivery.policy import RetryPolicy
from kawa.delivery.sender import Dispatcher, Identity
from kawa.dispatch import endpoint
from kawa.dispatch.ingress import Authorize
from kawa.eventtransform.live import LiveTransforms, Transform

log = logging.getLogger(__name__)

ROUTE: Final = "/transforms/{namespace}/{name}"
_ONCE: Final = RetryPolicy()
"""One attempt to the sink: the caller's delivery retries."""
EVALUATION_THREADS: Final = 2
"""Expressions evaluated at once (each in a worker thread)."""
EVALUATION_TIMEOUT: Final = 2.0
"""Seconds an evaluation may take, its queueing for a thread included."""
_SINK_BODY_SHOWN: Final = 1024
"""Bytes of a failing sink's answer quoted in the transform's."""


def _event_response(status: int, event: CloudEvent) -> web.Response:
    headers, body = ce_http.to_binary(event)
    return web.Response(status=status, body=body, headers=headers)


class TransformHandler:
    """The endpoint's aiohttp handlers over :class:`LiveTransforms`."""

    def __init__(
        self,
        transforms: LiveTransforms,
        dispatcher: Dispatcher,
        *,
        max_event_size: int,
        authorize: Authorize | None = None,
    ) -> None:
        self._transforms = transforms
        self._dispatcher = dispatcher
        self._max = max_event_size
        self._authorize = authorize
        self._evaluations = asyncio.Semaphore(EVALUATION_THREADS)

    async def _apply(self, expression: transform.Expression, event: CloudEvent) -> CloudEvent:
        """``event`` transformed, in a worker thread: one built-in call of an expression can
        run far past its bounds (checked between steps), and must never hold the event loop
        (the API, the ingress, every delivery). At most :data:`EVALUATION_THREADS` at once;
        one not done within :data:`EVALUATION_TIMEOUT` seconds fails (its thread finishes in
        the background)."""
        async with self._evaluations:
            work = asyncio.to_thread(transform.apply, expression, event)
            try:
                return await asyncio.wait_for(work, EVALUATION_TIMEOUT)
            except TimeoutError:
                raise transform.TransformError(
                    "EvaluationTimeout",
                    f"the expression did not finish within {EVALUATION_TIMEOUT:g} s",
                ) from None

    def routes(self) -> list[web.RouteDef]:
        return endpoint.post_routes(ROUTE, self.post)

    async def post(self, request: web.Request) -> web.Response:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        found = self._transforms.get(namespace, name)
        if found is None:
            return endpoint.problem(
                404, f"EventTransform {namespace}/{name} does not exist", "NotFound"
            )
        event = await endpoint.read_event(request, self._max, "an EventTransform")
        if isinstance(event, web.Response):
            return event
        refused = await endpoint.check_sender(self._authorize, namespace, name, request, event)
        if refused is not None:
            return refused
        return await self._transform(found, request.headers, event)

    async def _transform(
        self, found: Transform, headers: Mapping[str, str], event: CloudEvent
    ) -> web.Response:
        what = f"EventTransform {found.namespace}/{found.name}"
        if found.expression is None:
            return endpoint.problem(
                500, f"{what} cannot run: {found.broken}", "TransformationNotReady"
            )
        try:
            out = await self._apply(found.expression, event)
        except transform.TransformError as err:
            return endpoint.problem(422, f"{what}: {err.message}", err.reason)
        if not found.has_sink:
            return _event_response(200, out)
        if found.sink_url is None:
            return endpoint.problem(
                503, f"{what}: its sink is not resolved yet (see its status)", "SinkNotResolved"
            )
        result = await self._dispatcher.send(
            out,
            found.sink_url,
            policy=_ONCE,
            headers=headers,
            namespace=found.namespace,
            audience=found.sink_audience,
            identity=Identity(found.namespace, found.identity) if found.identity else None,
            ca_certs=found.sink_ca_certs,
        )
        if result.status is None:
            return endpoint.problem(
                502,
                f"{what}: the sink {found.sink_url} did not answer: {result.error}",
                "SinkFailed",
            )
        if not result.ok and 200 <= result.status < 300:
            return endpoint.problem(
                502, f"{what}: the sink's reply is not valid: {result.error}", "BadReply"
            )
        if not result.ok:
            shown = result.response_body[:_SINK_BODY_SHOWN].decode(errors="replace")
            return endpoint.problem(
                result.status,
                f"{what}: the sink {found.sink_url} answered {result.status}: {shown}",
                "SinkFailed",
            )
        if result.reply is None or found.discard:
            return web.Response(status=result.status)
        if found.reply is None:
            return _event_response(result.status, result.reply)
        try:
            reply = await self._apply(found.reply, result.reply)
        except transform.TransformError as err:
            return endpoint.problem(
                422, f"{what}: the reply transformation: {err.message}", err.reason
            )
        return _event_response(result.status, reply)
