"""The event log on NATS JetStream: one JetStream stream per kawa stream, cursors in a KV bucket.

:class:`JetStreamEventLog` implements :class:`~kawa.eventlog.base.EventLog` for ``kawa up
--nats``; several kawa processes may open it at once (the module docstring of
:mod:`kawa.eventlog.base` says what they share). The names it uses on the server come from
:mod:`kawa.eventlog._js_names`, the life of a stream (creation above its high-water mark,
deletion) from :mod:`kawa.eventlog._js_streams`; docs/decisions/0041-jetstream-event-log.md
explains the choices.

* **append** publishes every payload of the call back to back (under a lock, so one call's
  records get consecutive seqs among this object's appends) and returns once every PubAck
  came: the server stored each record (on a quorum of replicas for R>1). kawa's seq is the
  PubAck's stream sequence. A batch is not atomic: when some acks fail, the call fails and the
  records that were acked stay (at least once, as a client retrying a 5xx expects).
* **read** fetches records by seq with JetStream's message get (the direct get, answered by
  the stream's server without the JetStream API, on R1; the leader's get on R>1 so a lagging
  follower never hides a committed record), pipelined in chunks.
* **wait** listens to the ticks every stream republishes (headers only, one per stored
  record) on one core NATS subscription; this object's own appends wake waiters at once.
* **cursors** are KV entries ``c.<consumer>`` holding ``{"stream": ..., "seq": ...}``.
* **trim** purges, per stream, the prefix below the slowest cursor that is older than the
  stream's retention (a binary search on the records' times finds its end; times never decrease).

``appended_at`` is the time the stream's server stored the record. With a ``clock`` (the
contract tests' fake one) the log stamps records itself instead, in a ``Kawa-Appended-At``
header, never lower than the previous stamp of the stream through this object.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncGenerator, Callable, Coroutine, Mapping, Sequence
from typing import Any, Final

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js import errors as js_errors
from nats.js.kv import KeyValue

from kawa import jetstream
from kawa.errors import PermanentError, TemporaryError
from kawa.eventlog import _js_errors, _js_names, _js_streams, base
from kawa.eventlog._js_feed import ACK_WAIT, JetStreamFeed, durable_name
from kawa.eventlog._js_names import Names, StreamNames, check_prefix
from kawa.eventlog._js_publish import AckedPublisher, answers
from kawa.eventlog._js_ticks import Ticks
from kawa.eventlog.base import Record

ACK_TIMEOUT: Final = 10.0
"""Seconds an append waits for its PubAcks before failing (the records may still be stored)."""
READ_CHUNK: Final = 64
"""Message gets in flight at once for one read."""
STAMP: Final = "Kawa-Appended-At"
CONNECTION_NAME: Final = "kawa event log"
"""The name of the log's own connection (``/connz`` of the server lists it)."""
NO_STREAM_PATIENCE: Final = 5.0
"""Seconds an append keeps trying while JetStream answers "no response from stream"."""
MSG_ID: Final = "Nats-Msg-Id"
"""The header JetStream's duplicate window looks at."""
LATER_GRACE: Final = 3.0
"""Seconds :meth:`JetStreamEventLog.close` gives background work (the feeds' naks) to end."""


class JetStreamEventLog:
    """kawa's streams and cursors on NATS JetStream (see the module docstring)."""

    keeps_ids: Final = True
    """The stream's duplicate window stores a payload whose id it saw within it once."""

    def __init__(
        self,
        client: Client,
        js: JetStreamContext,
        kv: KeyValue,
        names: Names,
        *,
        replicas: int,
        clock: Callable[[], float] | None,
        owns_client: bool,
        max_stream_bytes: int = 0,
        ack_wait: float = ACK_WAIT,
    ) -> None:
        self._client = client
        self._ack_wait = ack_wait
        self._js = js
        self._kv = kv
        self._names = names
        self._replicas = replicas
        self._max_stream_bytes = max_stream_bytes
        self._clock = clock
        self._owns_client = owns_client
        self._direct = replicas == 1
        self._ready: set[str] = set()
        self._checked: dict[str, tuple[int, int]] = {}
        self._stamps: dict[str, float] = {}
        self._publishing = asyncio.Lock()
        self._ticks = Ticks(client, names)
        self._publisher: AckedPublisher | None = None
        self._closed = False
        self._closing = asyncio.Event()
        self._later: set[asyncio.Task[None]] = set()

    @classmethod
    async def open(
        cls,
        nats_: jetstream.NatsOptions | tuple[Client, JetStreamContext],
        *,
        prefix: str = "kawa",
        replicas: int | None = None,
        clock: Callable[[], float] | None = None,
        max_stream_bytes: int = 0,
        ack_wait: float | None = None,
    ) -> JetStreamEventLog:
        """Connect (or use the given connection), make the KV bucket. The ticks are heard
        from the first :meth:`wait` on (feeds do not need them: every tick is a message this
        process would parse for nothing).

        ``max_stream_bytes`` (0: no limit) is the most each stream may hold; a full stream
        refuses appends (``InsufficientStorageError``) until a trim made room. ``ack_wait``
        (default: the options', else :data:`~kawa.eventlog._js_feed.ACK_WAIT`) is its feeds'
        AckWait."""
        check_prefix(prefix)
        names = Names(prefix)
        if isinstance(nats_, jetstream.NatsOptions):
            client, js = await jetstream.connect(nats_, CONNECTION_NAME)
            owns, replicas = True, replicas or nats_.replicas
            ack_wait = ack_wait or nats_.ack_wait
        else:
            (client, js), owns = nats_, False
        replicas = replicas or 1
        try:
            async with _js_errors.failures(f"opening the JetStream event log {prefix!r}"):
                kv = await js.create_key_value(_js_streams.bucket_config(names, replicas))
            log = cls(
                client,
                js,
                kv,
                names,
                replicas=replicas,
                clock=clock,
                owns_client=owns,
                max_stream_bytes=max_stream_bytes,
                ack_wait=ack_wait or ACK_WAIT,
            )
            log._publisher = await AckedPublisher.open(client, ACK_TIMEOUT)
            await client.flush()  # the server knows the subscription before any check
        except BaseException:
            if owns:
                await client.close()
            raise
        return log

    # -- appends -------------------------------------------------------------------------------

    async def append(
        self, stream: str, payloads: Sequence[bytes], *, ids: Sequence[str] | None = None
    ) -> list[int]:
        base.check_stream(stream)
        base.check_ids(payloads, ids)
        self._check_open()
        if not payloads:
            return []
        n = self._names.of(stream)
        deadline = time.monotonic() + NO_STREAM_PATIENCE
        for attempt in range(1, 1000):
            async with _js_errors.failures("appending to stream", stream):
                if n.stream not in self._ready:
                    await self.ensure_stream(stream)
                acks = await self._publish(n, payloads, ids)
            errors = [ack for ack in acks if isinstance(ack, BaseException)]
            gone = [e for e in errors if isinstance(e, js_errors.NoStreamResponseError)]
            if gone and len(gone) == len(acks) and time.monotonic() < deadline:
                # deleted by another process (make it again), or a replicated stream still
                # electing its leader: nothing was stored, so publishing again is safe
                self._ready.discard(n.stream)
                if attempt > 1:
                    await asyncio.sleep(min(0.5, 0.05 * attempt))
                continue
            if errors:
                stored = len(acks) - len(errors)
                raise _js_errors.failure(
                    errors[0],
                    f"appending to stream {stream!r} ({stored} of {len(acks)} records were stored)",
                )
            seqs = [ack for ack in acks if isinstance(ack, int)]
            self._ticks.saw(n.token, seqs[-1])
            return seqs
        raise TemporaryError(f"stream {stream!r} kept disappearing while appending")

    async def ensure_stream(self, stream: str) -> None:
        """Make the JetStream stream of ``stream`` unless this object already did."""
        n = self._names.of(stream)
        if n.stream not in self._ready:
            await _js_streams.ensure(
                self._client,
                self._js,
                self._kv,
                self._names,
                n,
                stream,
                self._replicas,
                self._max_stream_bytes,
            )
            self._ready.add(n.stream)

    async def _publish(
        self, n: StreamNames, payloads: Sequence[bytes], ids: Sequence[str] | None
    ) -> list[int | BaseException]:
        headers: dict[str, str] = {}
        if self._clock is not None:
            stamp = max(self._clock(), self._stamps.get(n.token, float("-inf")))
            self._stamps[n.token] = stamp
            headers[STAMP] = repr(stamp)
        publisher = self._publisher
        assert publisher is not None  # set by open
        async with self._publishing:
            sent = [
                await publisher.publish(
                    n.subject,
                    payload,
                    {**headers, MSG_ID: ids[index]} if ids else (headers or None),
                )
                for index, payload in enumerate(payloads)
            ]
        return await answers(sent)

    # -- reads ---------------------------------------------------------------------------------

    async def read(
        self, stream: str, after: int, limit: int, *, max_bytes: int | None = None
    ) -> list[Record]:
        base.check_read(stream, after, limit, max_bytes)
        self._check_open()
        n = self._names.of(stream)
        async with _js_errors.failures(f"reading stream {stream!r}"):
            first = await self._get(n.stream, n.subject, after + 1, following=True)
            if first is None:
                return []
            records, size = [first], len(first.payload)
            while len(records) < limit and (max_bytes is None or size <= max_bytes):
                start = records[-1].seq + 1
                count = min(limit - len(records), READ_CHUNK)
                chunk = await asyncio.gather(
                    *(self._get(n.stream, n.subject, s) for s in range(start, start + count))
                )
                for record in chunk:
                    if record is None:
                        return base.within_bytes(records, max_bytes)
                    records.append(record)
                    size += len(record.payload)
        return base.within_bytes(records, max_bytes)

    async def _get(
        self, name: str, subject: str, seq: int, *, following: bool = False
    ) -> Record | None:
        """The record ``seq`` of JetStream stream ``name`` (with ``following``: the first at or
        after it), or ``None``."""
        try:
            message = await self._js.get_msg(
                name,
                seq=seq,
                subject=subject if following else None,
                next=following,
                # The first get of a read asks the stream's leader: it knows whether the stream
                # exists (a direct get of a missing stream is never answered) and has every
                # committed record. The rest may go to any replica on R1.
                direct=self._direct and not following,
            )
        except (js_errors.NotFoundError, nats.errors.NoRespondersError):
            return None
        headers = message.headers or {}
        if STAMP in headers:
            appended_at = float(headers[STAMP])
        else:
            appended_at = message.time.timestamp() if message.time else 0.0
        return Record(int(message.seq or seq), message.data or b"", appended_at)

    async def last_seq(self, stream: str) -> int:
        base.check_stream(stream)
        self._check_open()
        n = self._names.of(stream)
        async with _js_errors.failures(f"reading the last seq of stream {stream!r}"):
            found = await _js_streams.info(self._js, n.stream)
            last = found.state.last_seq if found is not None else 0
            if found is None or list(found.config.subjects or []) != [n.subject]:
                last = max(last, await _js_streams.high_water(self._kv, n))
        self._ticks.saw(n.token, last)
        return last

    # -- wait ----------------------------------------------------------------------------------

    async def wait(self, stream: str, after: int, timeout: float) -> bool:
        base.check_stream(stream)
        if self._closed:
            return False
        if not self._ticks.heard:  # subscribed by the first wait
            hearing = asyncio.ensure_future(self._ticks.hear())
            closing = asyncio.ensure_future(self._closing.wait())
            await asyncio.wait((hearing, closing), return_when=asyncio.FIRST_COMPLETED)
            closing.cancel()
            if self._closed:  # closing ends a wait at once (nats-py's flush would not)
                hearing.cancel()
                await asyncio.gather(hearing, return_exceptions=True)
                return False
            hearing.result()
        n = self._names.of(stream)
        stamp = (self._ticks.generation, int(self._client.stats["reconnects"]))
        if self._ticks.known(n.token) <= after and self._checked.get(n.token) != stamp:
            # Ticks tell of every append since the tick subscription (re)started; what came
            # before is on the server. Closing the log ends the check too (nats-py leaves a
            # request of a closed connection waiting for its timeout).
            check = asyncio.ensure_future(self.last_seq(stream))
            closing = asyncio.ensure_future(self._closing.wait())
            await asyncio.wait((check, closing), return_when=asyncio.FIRST_COMPLETED)
            closing.cancel()
            if self._closed:
                if check.done():
                    check.cancelled() or check.exception()  # retrieved: nothing to report
                check.cancel()
                return False
            check.result()
            self._checked[n.token] = stamp
        return await self._ticks.signals.wait(n.token, after, timeout, self._ticks.known)

    # -- cursors -------------------------------------------------------------------------------

    async def size(self) -> base.LogSize:
        self._check_open()
        streams: dict[str, base.StreamSize] = {}
        total = 0
        async with _js_errors.failures("measuring the event log"):
            for found in await _js_streams.list_streams(self._client, self._names):
                state = found.state
                total += int(state.bytes or 0)
                prefix = f"{self._names.prefix}_"
                server_name = str(found.config.name)
                name = _js_names.name_of(server_name.removeprefix(prefix))
                if name is not None and state.messages:
                    streams[name] = base.StreamSize(int(state.messages), int(state.bytes or 0))
        return base.LogSize(streams, total)

    async def load_cursor(self, consumer: str) -> int | None:
        self._check_open()
        async with _js_errors.failures(f"loading cursor {consumer!r}"):
            saved = await self.cursor_entry(consumer)
            if saved is None:
                return None
            stream, seq = saved
            try:
                found = await self._js.consumer_info(
                    self._names.of(stream).stream, durable_name(consumer)
                )
            except js_errors.NotFoundError:
                return seq  # no feed made a JetStream consumer of it (yet)
            except TypeError:
                # nats-py cannot build the ConsumerInfo of an answer without the consumer's
                # name (seen while the consumer is being deleted): as good as not found yet
                return seq
        return found.ack_floor.stream_seq if found.ack_floor else seq

    async def cursor_entry(self, consumer: str) -> tuple[str, int] | None:
        """The KV entry of ``consumer``: its stream and the seq last saved (for a consumer
        with a feed: where the feed started)."""
        try:
            entry = await self._kv.get(Names.cursor_key(consumer))
        except js_errors.KeyNotFoundError:  # deleted keys too
            return None
        value = json.loads(entry.value or b"{}")
        return str(value["stream"]), int(value["seq"])

    def feed(self, consumer: str, stream: str) -> JetStreamFeed:
        base.check_stream(stream)
        self._check_open()
        return JetStreamFeed(self, consumer, stream)

    async def save_cursor(self, consumer: str, stream: str, seq: int) -> None:
        base.check_cursor(consumer, stream, seq)
        self._check_open()
        value = json.dumps({"stream": stream, "seq": seq}).encode()
        async with _js_errors.failures(f"saving cursor {consumer!r}"):
            await self._kv.put(Names.cursor_key(consumer), value)

    async def delete_cursor(self, consumer: str) -> None:
        self._check_open()
        async with _js_errors.failures(f"deleting cursor {consumer!r}"):
            saved = await self.cursor_entry(consumer)
            if saved is not None:
                with contextlib.suppress(js_errors.NotFoundError):
                    await self._js.delete_consumer(
                        self._names.of(saved[0]).stream, durable_name(consumer)
                    )
            await self._kv.delete(Names.cursor_key(consumer))

    async def _cursors(self) -> AsyncGenerator[tuple[str, str, int], None]:
        """Every cursor: ``(key, stream, seq)``. The keys come from the bucket's stream
        (every subject holding a message), then each is read. Not nats-py's key-value watch:
        it can mark "every value given" before it gave any (its consumer's info counts none
        pending while they are on their way, under load), and a trim that missed a cursor
        deleted records the cursor still needed."""
        bucket = self._names.bucket
        prefix = f"$KV.{bucket}."
        info = await self._js.stream_info(f"KV_{bucket}", subjects_filter=f"{prefix}c.>")
        for subject in sorted(info.state.subjects or {}):
            key = subject[len(prefix) :]
            try:
                entry = await self._kv.get(key)
            except (js_errors.KeyNotFoundError, js_errors.KeyDeletedError):
                continue  # deleted: its subject holds the delete marker
            if entry.value:
                cursor = json.loads(entry.value)
                yield key, str(cursor["stream"]), int(cursor["seq"])

    # -- deletion and trim ---------------------------------------------------------------------

    async def delete_stream(self, stream: str) -> None:
        base.check_stream(stream)
        self._check_open()
        n = self._names.of(stream)
        async with _js_errors.failures(f"deleting stream {stream!r}"):
            await _js_streams.delete(self._js, self._kv, n)
            self._ready.discard(n.stream)
            keys = [key async for key, of, _ in self._cursors() if of == stream]
            for key in keys:
                await self._kv.delete(key)

    async def trim(self, retention: float, *, streams: Mapping[str, float] | None = None) -> int:
        base.check_retention(retention, streams)
        self._check_open()
        default, named = base.cutoffs((self._clock or time.time)(), retention, streams)
        cutoffs = {self._names.of(stream).stream: at for stream, at in named.items()}
        deleted = 0
        async with _js_errors.failures("trimming the event log"):
            cursors: dict[str, dict[str, int]] = {}
            async for key, stream, seq in self._cursors():
                cursors.setdefault(self._names.of(stream).stream, {})[key[2:]] = seq
            floors: dict[str, int] = {}
            for found in await _js_streams.list_streams(self._client, self._names):
                state = found.state
                name = str(found.config.name)
                # A cursor with a feed is done up to its consumer's ack floor (its KV entry only
                # says where the feed started); a JetStream consumer counts even without one.
                positions = dict(cursors.get(name, {}))
                for consumer in await self._js.consumers_info(name):
                    acked = consumer.ack_floor.stream_seq if consumer.ack_floor else 0
                    positions[str(consumer.name)] = acked
                if positions:
                    floors[name] = min(positions.values())
                end = min(floors.get(name, state.last_seq), state.last_seq)
                if state.messages == 0 or end < state.first_seq:
                    continue
                cutoff = cutoffs.get(name, default)
                last_old = await self._last_older(name, state.first_seq, end, cutoff)
                if last_old is not None:
                    deleted += await _js_streams.purge_below(self._client, name, last_old + 1)
        return deleted

    async def _last_older(self, name: str, low: int, high: int, cutoff: float) -> int | None:
        """The highest seq of stream ``name`` in ``[low, high]`` stored before ``cutoff``
        (a binary search: times never decrease within a stream)."""
        found = None
        while low <= high:
            middle = (low + high) // 2
            record = await self._get(name, "", middle)
            if record is None:  # trimmed meanwhile: everything up to here is gone anyway
                low = middle + 1
            elif record.appended_at < cutoff:
                found, low = middle, middle + 1
            else:
                high = middle - 1
        return found

    # -- what the feeds use --------------------------------------------------------------------

    @property
    def names(self) -> Names:
        return self._names

    @property
    def client(self) -> Client:
        return self._client

    @property
    def js(self) -> JetStreamContext:
        return self._js

    @property
    def kv(self) -> KeyValue:
        return self._kv

    @property
    def ack_wait(self) -> float:
        return self._ack_wait

    def later(self, work: Coroutine[Any, Any, None], what: str) -> None:
        """Run ``work`` in the background until it ends or the log closes."""
        if self._closed:
            work.close()
            return
        task = asyncio.create_task(work, name=what)
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    # -- lifecycle -----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise PermanentError("the event log is closed")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        self._ticks.signals.close()
        if self._later:  # the feeds' naks: unfinished records come back at once on restart
            await asyncio.wait(list(self._later), timeout=LATER_GRACE)
        for task in list(self._later):
            task.cancel()
        await asyncio.gather(*self._later, return_exceptions=True)
        if self._publisher is not None:
            await self._publisher.close()
        await self._ticks.close()
        if self._owns_client:
            await jetstream.close(self._client)  # also when the server is gone
