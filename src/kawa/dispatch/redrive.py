"""Redrive: one stored dead letter sent again, to its own trigger's subscriber or to a URL.

The data planes give the :class:`Route` of a trigger or subscriber as its consumer has it
(the subscriber's address, audience, certificates and identity, the broker's TTL rule, where
a reply goes); :func:`redeliver` sends the stored event there once (one attempt: the one who
redrives sees the answer and may redrive again) and hands a reply on as the consumer would.
Nothing is published to the broker: only that subscriber gets the event. Called by the
``deadletters`` subresource (:mod:`kawa.observability.deadletters`), which removes the entry
from the store once it is delivered.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from kawa.apis.duck import DeliveryFormat
from kawa.cloudevents.event import CloudEvent
from kawa.delivery.policy import RetryPolicy
from kawa.delivery.sender import DeliveryResult, Dispatcher, Identity
from kawa.dispatch import envelope
from kawa.dispatch.deadletters import DeadLetter
from kawa.dispatch.hooks import Prepare, ReplyPublisher
from kawa.dispatch.target import Target
from kawa.errors import KawaError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Route:
    """Where a trigger's or subscriber's events go, as its consumer sends them."""

    target: Target
    prepare: Prepare
    publish_reply: ReplyPublisher


@dataclass(frozen=True, slots=True)
class Redriven:
    """What became of one redrive: the delivery's result, and why a reply was not handed on
    (the event was delivered all the same)."""

    result: DeliveryResult
    reply_error: str | None = None


async def redeliver(
    dispatcher: Dispatcher, entry: DeadLetter, route: Route | None, to: str | None
) -> Redriven:
    """Send ``entry``'s event to ``to`` (any URL, as plain kawa: no identity) or else along
    ``route`` (its trigger's or subscriber's), one attempt."""
    event, headers = entry.event()
    structured = headers.pop(envelope.STRUCTURED_KEY, None) is not None
    json = entry.format == "json" or (entry.format is None and structured)
    format: DeliveryFormat = "json" if json else "binary"
    if to is not None or route is None:
        url = to or ""
        result = await dispatcher.send(
            event, url, policy=RetryPolicy(), format=format, headers=headers
        )
        return Redriven(result)
    target = route.target
    result = await dispatcher.send(
        route.prepare(event),
        target.subscriber_uri,
        policy=RetryPolicy(timeout=target.policy.timeout),
        format=format,
        headers=headers,
        namespace=target.namespace,
        identity=Identity(target.namespace, target.identity) if target.identity else None,
        audience=target.audience,
        ca_certs=target.ca_certs,
    )
    if not result.ok or result.reply is None:
        return Redriven(result)
    return Redriven(result, await _hand_on(route, result.reply, event, headers))


async def _hand_on(
    route: Route, reply: CloudEvent, event: CloudEvent, headers: dict[str, str]
) -> str | None:
    try:
        await route.publish_reply(reply, event, headers, None)
    except asyncio.CancelledError:
        raise
    except KawaError as err:
        log.warning("%s: the reply to redriven event %s: %s", route.target.label, event.id, err)
        return str(err)
    return None
