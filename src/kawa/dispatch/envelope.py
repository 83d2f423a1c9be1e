"""What the data plane keeps in the event log for one event: the event plus request facts.

Knative forwards a few headers of the request that brought an event (``x-request-id``,
``traceparent`` ...) to every subscriber; they are stored beside the event so a delivery
made after a restart carries them too. A channel also remembers whether the event came in
structured mode, so its subscribers get it the way it was sent. Layout: a 4-byte big-endian
length, that many bytes of JSON object (the headers, plus :data:`STRUCTURED_KEY` for a
structured event; empty when there is nothing), then :func:`kawa.eventlog.codec.encode_event`.

Written by the broker (:mod:`kawa.broker.envelope` adds the TTL rule) and channel
(:mod:`kawa.channels.dataplane`) ingress; read by the consumers (:mod:`kawa.dispatch.consumer`).
"""

from __future__ import annotations

import hashlib
from typing import Final

import orjson

from kawa.cloudevents.event import CloudEvent
from kawa.eventlog import codec

_EMPTY = (0).to_bytes(4, "big")
STRUCTURED_KEY: Final = ":structured"
"""The key of the stored headers that marks an event received in structured mode (a colon
cannot start an HTTP header name, so it never meets a real one)."""


def wrap(event: CloudEvent, headers: dict[str, str] | None = None) -> bytes:
    if not headers:
        return _EMPTY + codec.encode_event(event)
    head = orjson.dumps(headers)
    return len(head).to_bytes(4, "big") + head + codec.encode_event(event)


def sender_id(event: CloudEvent) -> str:
    """What identifies ``event`` for the log's duplicate window: CloudEvents says ``source``
    and ``id`` together identify an event, so a sender's retry of one it got no answer for is
    stored once (on a backend that has the window; :meth:`kawa.eventlog.base.EventLog.append`).
    A digest, so any source and id fit a header."""
    key = f"{event.source}\x00{event.id}".encode()
    return hashlib.blake2b(key, digest_size=16).hexdigest()


def unwrap(payload: bytes) -> tuple[CloudEvent, dict[str, str]]:
    size = int.from_bytes(payload[:4], "big")
    headers: dict[str, str] = orjson.loads(payload[4 : 4 + size]) if size else {}
    return codec.decode_event(payload[4 + size :]), headers
