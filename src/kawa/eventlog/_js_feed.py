"""A consumer's feed on JetStream: a durable pull consumer, one ack per record.

:class:`JetStreamFeed` implements :class:`~kawa.eventlog.feed.Feed` for
:class:`~kawa.eventlog.jetstream.JetStreamEventLog`. Each kawa consumer (``trigger:<uid>@<stream>``)
is a **durable JetStream consumer** on its stream, named by the consumer's token
(:func:`kawa.eventlog._js_names.token`): explicit acks, no subject filter (the stream has one
subject), unlimited deliveries. Several kawa processes may pull from it at once; JetStream
gives each message to one of them.

* **start**: the first start makes the consumer at the position :func:`start_after` finds
  (or after the KV cursor an earlier kawa saved for it), after writing the cursor entry
  ``c.<token>`` (``{"stream", "seq"}``) that tells :meth:`JetStreamEventLog.delete_cursor`
  which stream the consumer is on. Later starts bind to the existing consumer.
* **wait** keeps one pull request outstanding (``batch`` :data:`PREFETCH`, ``expires``
  :data:`PULL_EXPIRES`) on the feed's own inbox: messages land in a buffer as the server
  sends them, with no request per record; a new pull goes out when the last one ended
  (filled, expired, or ended by the server with a status).
* **read** hands out buffered messages in order (a redelivery of a record still being
  delivered here is ignored: that delivery acks it).
* **done** acks the record (``+ACK``, no round trip: a lost ack is a redelivery, at least once).
  Until then, :data:`PROGRESS_PER_ACK_WAIT` times per AckWait the feed tells the server the
  records it holds are being worked on (``+WPI``), so the AckWait (``--nats-ack-wait``,
  :data:`ACK_WAIT` by default) is the time the server waits before
  it gives a dead process's records to another puller (or to this consumer when kawa
  restarts), not a bound on how long a delivery with all its retries may take.
* **stop** naks what was handed out or buffered and not done, so it comes again soon (once
  the feed's last pull request expired, see :meth:`JetStreamFeed.stop`).

The dead-letter send happens before the ack (the consumer calls ``done`` once the delivery,
its retries and its dead letter are over), so a failed dead-letter send never loses an event.
docs/decisions/0043-jetstream-consumers.md explains the choices.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import time
from collections.abc import Coroutine
from typing import Any, Final, Protocol

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext, api
from nats.js import errors as js_errors
from nats.js.kv import KeyValue

from kawa.errors import TemporaryError
from kawa.eventlog import _js_errors
from kawa.eventlog._js_names import Names, token
from kawa.eventlog.base import EventLog, Record
from kawa.eventlog.feed import start_after

log = logging.getLogger(__name__)

ACK_WAIT: Final = 10.0
"""Seconds JetStream waits for an ack or a progress note before it redelivers a record
(the default of ``--nats-ack-wait``; the feeds take their owner's)."""
PROGRESS_PER_ACK_WAIT: Final = 3
"""Progress notes a feed sends per AckWait for the records it holds."""
PREFETCH: Final = 128
"""Records one pull request asks for (held in the feed's buffer, outside the delivery budget)."""
REDELIVERY_SLACK: Final = 0.5
"""Seconds an in-order start waits beyond the AckWait for the server to give out again what a
dead process held."""
PULL_EXPIRES: Final = 2.0
"""Seconds one pull request stays open on the server."""
STAMP: Final = "Kawa-Appended-At"
_ENDS_PULL: Final = frozenset({"404", "408", "409"})
"""Status codes that end a pull request (no messages, expired, refused or consumer gone)."""


class Owner(EventLog, Protocol):
    """What a feed uses of its :class:`~kawa.eventlog.jetstream.JetStreamEventLog`."""

    @property
    def names(self) -> Names: ...
    @property
    def client(self) -> Client: ...
    @property
    def js(self) -> JetStreamContext: ...
    @property
    def kv(self) -> KeyValue: ...
    @property
    def ack_wait(self) -> float: ...
    async def ensure_stream(self, stream: str) -> None: ...
    async def cursor_entry(self, consumer: str) -> tuple[str, int] | None: ...
    def later(self, work: Coroutine[Any, Any, None], what: str) -> None: ...


def durable_name(consumer: str) -> str:
    """The JetStream consumer name of kawa consumer ``consumer``."""
    return token(consumer)


class JetStreamFeed:
    """A :class:`~kawa.eventlog.feed.Feed` on a durable JetStream consumer (see the module
    docstring)."""

    def __init__(self, owner: Owner, consumer: str, stream: str) -> None:
        self._owner = owner
        self._consumer = consumer
        self._stream = stream
        self._names = owner.names.of(stream)
        self._durable = durable_name(consumer)
        self._inbox = ""
        self._sub: Subscription | None = None
        self._buffer: collections.deque[Msg] = collections.deque()
        self._held: dict[int, Msg] = {}
        self._arrived = asyncio.Event()
        self._pull_left = 0
        self._pull_until = 0.0
        self._failure = ""
        self._fetched = 0
        self._progress: asyncio.Task[None] | None = None

    @property
    def fetched(self) -> int:
        return self._fetched

    async def start(self, since: float | None, *, in_order: bool = False) -> None:
        owner = self._owner
        js = owner.js
        stream_name = self._names.stream
        async with _js_errors.failures(f"starting consumer {self._consumer!r}"):
            await owner.ensure_stream(self._stream)
            try:
                found = await js.consumer_info(stream_name, self._durable)
            except js_errors.NotFoundError:
                found = None
            if found is None:
                saved = await owner.cursor_entry(self._consumer)
                if saved is not None and saved[0] == self._stream:
                    start = saved[1]
                else:
                    start = await start_after(owner, self._stream, since)
                value = json.dumps({"stream": self._stream, "seq": start}).encode()
                await owner.kv.put(Names.cursor_key(self._consumer), value)
                await js.add_consumer(
                    stream_name,
                    api.ConsumerConfig(
                        durable_name=self._durable,
                        description=f"kawa consumer {self._consumer}"[:4000],
                        deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
                        opt_start_seq=start + 1,
                        ack_policy=api.AckPolicy.EXPLICIT,
                        ack_wait=owner.ack_wait,
                        max_deliver=-1,
                    ),
                )
                self._fetched = start
            else:
                self._fetched = found.ack_floor.stream_seq if found.ack_floor else 0
                held_for = max(found.config.ack_wait or 0.0, owner.ack_wait)
                if found.config.ack_wait != owner.ack_wait:  # --nats-ack-wait changed
                    found.config.ack_wait = owner.ack_wait
                    await js.add_consumer(stream_name, found.config)
                if in_order and found.num_ack_pending:
                    # Taken by a process that died (or stopped: then they come back sooner).
                    # A pull made now would get later records first: wait until the server
                    # gives them out again (it serves redeliveries before new records).
                    wait = max(held_for, PULL_EXPIRES) + REDELIVERY_SLACK
                    log.info(
                        "consumer %s: waiting %.1fs for %d records another process held",
                        self._consumer,
                        wait,
                        found.num_ack_pending,
                    )
                    await asyncio.sleep(wait)
            client = owner.client
            self._inbox = client.new_inbox()
            self._sub = await client.subscribe(self._inbox, cb=self._on_message)
        self._progress = asyncio.create_task(self._keep_in_progress())

    async def _on_message(self, message: Msg) -> None:
        headers = message.headers or {}
        status = headers.get(api.Header.STATUS, "") if not message.data else ""
        if status:
            if status in _ENDS_PULL:
                self._pull_left = 0
                if status == "409":
                    description = headers.get(api.Header.DESCRIPTION, "")
                    if "deleted" in description.lower():
                        self._failure = f"consumer {self._consumer!r}: {description}"
                self._arrived.set()
            return  # heartbeats and the like
        if message.reply and message.reply.startswith("$JS.ACK."):
            self._pull_left -= 1
            self._buffer.append(message)
            self._arrived.set()

    async def wait(self, timeout: float) -> bool:
        if self._buffer:
            return True
        if timeout <= 0:
            return False
        deadline = time.monotonic() + timeout
        while not self._buffer:
            self._check_failure()
            now = time.monotonic()
            if self._pull_left <= 0 or now >= self._pull_until:
                await self._pull(now)
            remaining = deadline - now
            if remaining <= 0:
                return False
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(remaining, max(0.01, self._pull_until - now))):
                    await self._arrived.wait()
        return True

    async def _pull(self, now: float) -> None:
        request = {"batch": PREFETCH, "expires": int(PULL_EXPIRES * 1e9)}
        subject = f"$JS.API.CONSUMER.MSG.NEXT.{self._names.stream}.{self._durable}"
        async with _js_errors.failures(f"pulling for consumer {self._consumer!r}"):
            await self._owner.client.publish(subject, json.dumps(request).encode(), self._inbox)
        self._pull_left = PREFETCH
        self._pull_until = now + PULL_EXPIRES

    def _check_failure(self) -> None:
        if self._failure:
            failure, self._failure = self._failure, ""
            raise TemporaryError(failure)

    async def read(self, limit: int, *, max_bytes: int | None = None) -> list[Record]:
        records: list[Record] = []
        size = 0
        while self._buffer and len(records) < limit:
            message = self._buffer[0]
            if records and max_bytes is not None and size + len(message.data) > max_bytes:
                break
            self._buffer.popleft()
            seq, stamp = _position(message)
            if seq in self._held:  # redelivered while its delivery runs here: that one acks
                self._held[seq] = message
                continue
            self._held[seq] = message
            records.append(self._record(message, seq, stamp))
            size += len(message.data)
            self._fetched = max(self._fetched, seq)
        return records

    @staticmethod
    def _record(message: Msg, seq: int, stamp: float) -> Record:
        headers = message.headers
        if headers and STAMP in headers:
            stamp = float(headers[STAMP])
        return Record(seq, message.data or b"", stamp)

    async def done(self, seq: int) -> None:
        message = self._held.pop(seq, None)
        if message is None:
            return
        try:
            await message.ack()
        except nats.errors.Error as err:  # delivered again later: at least once
            log.warning("%s: could not ack record %d: %s", self._consumer, seq, err)

    async def stop(self) -> None:
        if self._progress is not None:
            self._progress.cancel()
            await asyncio.gather(self._progress, return_exceptions=True)
        left = [*self._held.values(), *self._buffer]
        self._held.clear()
        self._buffer.clear()
        with contextlib.suppress(nats.errors.Error):
            if self._sub is not None:
                await self._sub.unsubscribe()
        if not left:
            return
        # A nak'd record is redelivered at once, to the oldest pull request waiting: while this
        # feed's last one may still be open on the server (nobody listening any more, and
        # nats-server 2.9 then counts a redelivered record as never delivered, which makes a
        # later record come twice), the naks wait for it to expire. Until then, and if the
        # process dies, the ack wait brings them back.
        delay = self._pull_until - time.monotonic() if self._pull_left > 0 else 0.0
        self._owner.later(_nak_all(left, max(0.0, delay) + 0.05), f"{self._consumer}: naks")

    async def _keep_in_progress(self) -> None:
        while True:
            await asyncio.sleep(self._owner.ack_wait / PROGRESS_PER_ACK_WAIT)
            with contextlib.suppress(nats.errors.Error):
                for message in [*self._held.values(), *self._buffer]:
                    await message.in_progress()


def _position(message: Msg) -> tuple[int, float]:
    """The stream sequence of a message a consumer delivered and when the stream stored it,
    from its reply subject. The common form, ``$JS.ACK.<stream>.<consumer>.<delivered>.<stream
    seq>.<consumer seq>.<nanoseconds>.<pending>``, is read here (nats-py's ``metadata`` builds
    dataclasses and a datetime per message: a tenth of a delivery's cost); the other forms
    (with a domain and an account) through ``metadata``."""
    tokens = (message.reply or "").split(".")
    if len(tokens) == 9 and tokens[0] == "$JS" and tokens[1] == "ACK":
        return int(tokens[5]), int(tokens[7]) / 1e9
    metadata = message.metadata
    return metadata.sequence.stream, metadata.timestamp.timestamp()


async def _nak_all(messages: list[Msg], after: float) -> None:
    """Give ``messages`` back to JetStream after ``after`` seconds."""
    await asyncio.sleep(after)
    with contextlib.suppress(nats.errors.Error):
        for message in messages:
            await message.nak()
