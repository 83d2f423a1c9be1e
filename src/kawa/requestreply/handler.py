"""The RequestReply endpoints on the data-plane port.

``POST /requestreplies/{namespace}/{name}`` -- a request: one CloudEvent (binary or
structured; a batch is refused with 400). It gets a signed correlation id
(:func:`kawa.requestreply.correlation.sign`) in the RequestReply's correlation attribute and
is published to its Broker (in process, as the Broker's ingress stores events: durably, with
the request's forwarded headers). The call is then held until the reply arrives, answered 200
with the reply event in binary mode, or until ``spec.timeout`` passes, answered 504. Other
answers, each a JSON body ``{"error": ..., "reason": ...}``: 404 for an unknown RequestReply,
400 for a request that is no CloudEvent, 413 above the size limit, 503 while the
RequestReply has no signing key yet or its Broker cannot take the event (the Broker's own
status for an event it refuses). With authentication-oidc the sender is checked as at broker
ingress (401, 403), and then against the Broker's EventPolicies (or the default mode) as if it
had posted to the Broker itself: the request does not pass the Broker's ingress, and a
RequestReply must let no sender into its Broker whom the Broker refuses (403, reason
``BrokerForbidden``, nothing published).

``POST /requestreplies/{namespace}/{name}/reply`` -- where the RequestReply's Trigger
delivers the events that carry its reply attribute. A reply whose id verifies under one of
the RequestReply's keys is answered 202 and handed to the request waiting for it (here, or
in the process its id names, through the relay); a reply to no waiting request (timed out,
answered already) is dropped. A reply without the attribute, or whose id does not verify
(forged, unsigned, another RequestReply's), is answered 400 and answers nothing, as
Knative's does.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from aiohttp import web

from kawa.cloudevents import http as ce_http
from kawa.cloudevents.event import CloudEvent
from kawa.delivery import headers as delivery_headers
from kawa.dispatch import endpoint
from kawa.dispatch.ingress import Publisher
from kawa.dispatch.senders import Admitted, SenderCheck, SubjectCheck
from kawa.errors import ForbiddenError, KawaError, NotFoundError, ValidationError
from kawa.requestreply import correlation
from kawa.requestreply.live import Endpoint, LiveRequestReplies
from kawa.requestreply.pending import Pending, Relay

log = logging.getLogger(__name__)

PREFIX: Final = "/requestreplies/"
ROUTE: Final = PREFIX + "{namespace}/{name}"
REPLY_ROUTE: Final = ROUTE + "/reply"


class RequestReplyHandler:
    """The two endpoints' aiohttp handlers."""

    def __init__(
        self,
        live: LiveRequestReplies,
        publisher: Publisher,
        pending: Pending,
        *,
        max_event_size: int,
        relay: Relay | None = None,
        sender_check: SenderCheck | None = None,
        broker_check: SubjectCheck | None = None,
    ) -> None:
        """``sender_check``: the RequestReply's own (authentication-oidc); ``broker_check``:
        what the sender it admits must pass for the Broker."""
        self._live = live
        self._publisher = publisher
        self._pending = pending
        self._max = max_event_size
        self._relay = relay
        self._sender_check = sender_check
        self._broker_check = broker_check

    def routes(self) -> list[web.RouteDef]:
        return [
            *endpoint.post_routes(ROUTE, self.request),
            *endpoint.post_routes(REPLY_ROUTE, self.reply),
        ]

    async def _read(self, request: web.Request) -> tuple[Endpoint, CloudEvent] | web.Response:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        found = self._live.get(namespace, name)
        if found is None:
            return endpoint.problem(
                404, f"RequestReply {namespace}/{name} does not exist", "NotFound"
            )
        event = await endpoint.read_event(request, self._max, "a RequestReply")
        if isinstance(event, web.Response):
            return event
        return found, event

    async def request(self, request: web.Request) -> web.Response:
        read = await self._read(request)
        if isinstance(read, web.Response):
            return read
        found, event = read
        what = f"RequestReply {found.namespace}/{found.name}"
        admitted = await endpoint.admit_sender(
            self._sender_check, found.namespace, found.name, request, event
        )
        if isinstance(admitted, web.Response):
            return admitted
        keys = self._live.keys(found.namespace, found.name)
        if not keys:
            return endpoint.problem(
                503, f"{what} has no signing key yet (see its status)", "RequestReplyNotReady"
            )
        signed = correlation.sign(event.id, keys[0], self._pending.index)
        outgoing = event.with_attributes({found.correlation_attribute: signed})
        refused = self._broker_refuses(found, admitted, outgoing)
        if refused is not None:
            return refused
        waiting = self._pending.hold(signed)
        try:
            forwarded = delivery_headers.forwarded_headers(request.headers.items())
            try:
                await self._publisher.publish(found.namespace, found.broker, [outgoing], forwarded)
            except NotFoundError as err:
                return endpoint.problem(503, f"{what}: {err}", "BrokerNotReady")
            except ValidationError as err:
                return endpoint.problem(
                    400, f"{what}: the Broker refused the event: {err}", "Refused"
                )
            except KawaError as err:
                return endpoint.problem(
                    503, f"{what}: the Broker could not store the event: {err}", "BrokerFailed"
                )
            try:
                reply = await asyncio.wait_for(waiting, found.timeout)
            except TimeoutError:
                return endpoint.problem(
                    504,
                    f"{what}: no reply to event {event.id!r} within {found.timeout:g} s",
                    "Timeout",
                )
        finally:
            self._pending.release(signed)
        headers, body = ce_http.to_binary(reply)
        return web.Response(status=200, body=body, headers=headers)

    def _broker_refuses(
        self, found: Endpoint, admitted: Admitted, event: CloudEvent
    ) -> web.Response | None:
        """The 403 when the Broker would refuse the admitted sender posting ``event`` (as
        the Broker gets it) there itself."""
        if self._broker_check is None:
            return None
        try:
            self._broker_check(admitted.subject, found.namespace, found.broker, event)
        except ForbiddenError as err:
            what = f"RequestReply {found.namespace}/{found.name}"
            return endpoint.problem(
                403, f"{what}: the sender may not post to its {err}", "BrokerForbidden"
            )
        return None

    async def reply(self, request: web.Request) -> web.Response:
        read = await self._read(request)
        if isinstance(read, web.Response):
            return read
        found, event = read
        what = f"RequestReply {found.namespace}/{found.name}"
        value = event.get(found.reply_attribute)
        if not isinstance(value, str) or not value:
            return endpoint.problem(
                400, f"{what}: the event has no {found.reply_attribute} attribute", "NotAReply"
            )
        verified = correlation.verify(value, self._live.keys(found.namespace, found.name))
        if verified is None:
            log.info("%s: dropped a reply whose %s does not verify", what, found.reply_attribute)
            return endpoint.problem(
                400,
                f"{what}: the event's {found.reply_attribute} is not a correlation id this "
                "RequestReply signed",
                "InvalidReplyId",
            )
        if verified.index == self._pending.index:
            if not self._pending.answer(verified.value, event):
                log.info("%s: no request waits for reply to %r", what, verified.event_id)
        elif self._relay is not None:
            await self._relay.send(verified.index, verified.value, event)
        return web.Response(status=202)
