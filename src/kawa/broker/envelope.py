"""What the broker keeps in the event log for one event: the event plus forwarded headers.

Knative forwards a few headers of the request that brought an event (``x-request-id``,
``traceparent`` ...) to every subscriber; they are stored beside the event so a delivery
made after a restart carries them too. Layout: a 4-byte big-endian length, that many bytes of
JSON object (the headers; empty when there are none), then :func:`kawa.eventlog.codec.encode_event`.

:func:`on_ingress` is what an event becomes on its way into a broker (the TTL rule, then
:func:`wrap`); called by :meth:`kawa.broker.dataplane.BrokerDataPlane.publish` for the
ingress and for replies. The trigger consumers :func:`unwrap` what they read.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from kawa.broker import ttl
from kawa.cloudevents.event import CloudEvent
from kawa.eventlog import codec

_EMPTY = (0).to_bytes(4, "big")


def on_ingress(
    event: CloudEvent,
    headers: Mapping[str, str] | None = None,
    max_ttl: int = ttl.DEFAULT_MAX_TTL,
) -> bytes:
    """The record of an event entering a broker: TTL defaulted or decremented and capped at
    ``max_ttl`` (:func:`kawa.broker.ttl.on_ingress`; a ValidationError when exhausted), then
    wrapped with the forwarded ``headers``."""
    return wrap(ttl.on_ingress(event, max_ttl), dict(headers) if headers else None)


def wrap(event: CloudEvent, headers: dict[str, str] | None = None) -> bytes:
    if not headers:
        return _EMPTY + codec.encode_event(event)
    head = orjson.dumps(headers)
    return len(head).to_bytes(4, "big") + head + codec.encode_event(event)


def unwrap(payload: bytes) -> tuple[CloudEvent, dict[str, str]]:
    size = int.from_bytes(payload[:4], "big")
    headers: dict[str, str] = orjson.loads(payload[4 : 4 + size]) if size else {}
    return codec.decode_event(payload[4 + size :]), headers
