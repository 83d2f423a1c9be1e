"""Replies carried between kawa processes over core NATS.

Each process subscribes to ``kawa.requestreply.<index>`` (:data:`SUBJECT`, its
:attr:`~kawa.requestreply.pending.Pending.index`); a process that verified a reply for
another index publishes it there: the correlation id on one line, then the event in the
structured JSON format. Nothing is stored: a reply published while its process is gone is
lost with the request that waited for it (whose caller then gets 504 or a closed connection).

One connection per process (:func:`kawa.jetstream.connect`, the servers and credentials of
the JetStream backends). Made by :class:`kawa.requestreply.RequestReplyPlane` on NATS.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Final

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from kawa import jetstream
from kawa.cloudevents import jsonformat
from kawa.cloudevents.event import CloudEvent
from kawa.errors import ValidationError
from kawa.requestreply.pending import Pending

log = logging.getLogger(__name__)

SUBJECT: Final = "kawa.requestreply.{index}"


def encode(correlation: str, event: CloudEvent) -> bytes:
    return correlation.encode() + b"\n" + jsonformat.encode_structured(event)


def decode(payload: bytes) -> tuple[str, CloudEvent] | None:
    head, sep, body = payload.partition(b"\n")
    if not sep:
        return None
    try:
        return head.decode(), jsonformat.decode_structured(body)
    except (UnicodeDecodeError, ValidationError):
        return None


class NatsRelay:
    """Sends replies to other processes and, inside :meth:`receiving`, takes this one's."""

    def __init__(self, options: jetstream.NatsOptions, name: str) -> None:
        self._options = options
        self._name = name
        self._client: Client | None = None

    async def send(self, index: int, correlation: str, event: CloudEvent) -> None:
        client = self._client
        if client is None:
            return
        try:
            await client.publish(SUBJECT.format(index=index), encode(correlation, event))
        except nats.errors.Error as exc:
            log.warning("cannot relay a reply to process %d: %s", index, exc)

    @contextlib.asynccontextmanager
    async def receiving(self, pending: Pending) -> AsyncIterator[None]:
        """Connected, and handing the replies sent to ``pending``'s index to it."""
        self._client, _ = await jetstream.connect(self._options, f"kawa-requestreply {self._name}")

        async def handle(msg: Msg) -> None:
            decoded = decode(msg.data)
            if decoded is None:
                log.warning("ignored a malformed relayed reply on %s", msg.subject)
            elif not pending.answer(*decoded):
                log.info("no request waits for a relayed reply any more")

        try:
            subscription = await self._client.subscribe(
                SUBJECT.format(index=pending.index), cb=handle
            )
            try:
                yield
            finally:
                with contextlib.suppress(nats.errors.Error):
                    await subscription.unsubscribe()
        finally:
            client, self._client = self._client, None
            await jetstream.close(client)
