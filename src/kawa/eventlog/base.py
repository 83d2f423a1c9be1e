"""The event log protocol: the durable storage under the broker and channel data plane.

An event log holds named *streams* (one per broker or channel). :meth:`EventLog.append` puts
opaque payloads (the broker stores :func:`kawa.eventlog.codec.encode_event` bytes) at the end of
a stream and returns only once they are committed, so ingress may answer 202. Each record gets
a ``seq``: strictly increasing per stream, starting at 1 and never reused, not even after
:meth:`EventLog.trim` or :meth:`EventLog.delete_stream` (a stream's high-water mark survives
both, so a consumer that still remembers an old position can never skip new events).

Consumers (one per trigger or subscription) tail a stream with :meth:`EventLog.read` and
:meth:`EventLog.wait`, and keep their progress as a durable *cursor*: the seq of the last record
they are done with. :meth:`EventLog.trim` deletes records every cursor of their stream is past
and that are older than the retention period (one for the whole log, or one of a stream's
own).

Across processes (a backend such as NATS JetStream is opened by several kawa processes at
once; the embedded backends are not):

* **Streams and seqs are shared.** Every process appends to the same sequence of a stream;
  once ``append`` returns, ``read`` and ``last_seq`` of every process see the records.
* **wait is a hint.** It wakes at once for an append committed through the same
  :class:`EventLog` object; for another process's append, within the backend's notification
  delay (a backend that cannot be notified polls at a bounded interval, it never leaves a
  waiter until its timeout). ``True`` does not promise that ``read`` returns records (a trim
  or a ``delete_stream`` may come in between); ``False`` only says the timeout passed.
  Callers read again after every return and bound their waits (the broker's consumer waits at
  most 1 s at a time), so a missed wake-up costs latency, never an event.
* **A cursor** is a named durable position: ``consumer`` (the broker names a trigger's
  ``trigger:<uid>@<stream>``, so it never applies to another stream) -> ``(stream, seq)``, the
  consumer's watermark: every record at or below ``seq`` is finished. It has **one writer**,
  the consumer that owns it (one task in one process); ``save_cursor`` is last-writer-wins and
  orders nothing between writers, so two processes must not advance one cursor. Any process
  may ``load_cursor`` it and sees the last save committed.
* **At least once.** A consumer saves its cursor behind what it delivered (the broker: at most
  every commit interval, and when it stops). After a crash, or when another process takes the
  consumer over, delivery resumes after the saved cursor: records past it are delivered again,
  none is lost (``trim`` never deletes what a cursor still needs).

The embedded backends serve one process: :class:`kawa.eventlog.sqlite.SqliteEventLog` holds a
lock file that refuses a second opener (another process, or another object in this one), and
:class:`kawa.eventlog.memory.MemoryEventLog` lives in its process; so their ``wait`` sees every
append there is.

Consumers do not call ``read`` and ``save_cursor`` themselves: they take records through a
:meth:`EventLog.feed` (:mod:`kawa.eventlog.feed`) and finish them one by one. The embedded
backends build it on ``read`` and a cursor; the JetStream backend on a durable JetStream
consumer with one ack per record, which several processes can share.

The broker codes against :class:`EventLog` only; the backends are
:class:`kawa.eventlog.memory.MemoryEventLog` and :class:`kawa.eventlog.sqlite.SqliteEventLog`,
chosen by name in :mod:`kawa.runtime`. The shared contract tests live in
``tests/eventlog/contract.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from kawa.errors import FieldError, ValidationError


# not frozen: made for every event, and a frozen dataclass's __init__ costs ~5x (one
# object.__setattr__ per field); never changed after it is made (ADR 0077)
@dataclass(slots=True)
class Record:
    """One record of a stream."""

    seq: int
    """Strictly increasing per stream, starting at 1; never reused."""
    payload: bytes
    """Opaque bytes (the broker stores an encoded CloudEvent)."""
    appended_at: float
    """Unix time of the commit that stored the record; never decreases within a stream."""


@dataclass(frozen=True, slots=True)
class StreamSize:
    """What one stream holds (:meth:`EventLog.size`)."""

    records: int
    bytes: int | None
    """The payloads' bytes; ``None`` where the backend cannot tell without reading them all
    (SQLite)."""


@dataclass(frozen=True, slots=True)
class LogSize:
    """What the whole log holds (:meth:`EventLog.size`)."""

    streams: dict[str, StreamSize]
    """Streams holding records, by name."""
    bytes: int
    """The storage the log takes: SQLite's pages in use, JetStream's streams' bytes, the
    payloads in memory."""


class Feed(Protocol):
    """One consumer's view of one stream (see the module docstring)."""

    @property
    def fetched(self) -> int:
        """The highest seq handed out so far (0 before the first; for backpressure)."""
        ...

    async def start(self, since: float | None, *, in_order: bool = False) -> None:
        """Find (or make) the consumer's durable position; call once before anything else.

        With ``in_order`` (an ordered trigger's one puller), records that another process
        took and did not finish (it died) are handed out before any later record, even if
        that makes the start wait for them."""
        ...

    async def wait(self, timeout: float) -> bool:
        """Wait until :meth:`read` probably has records (``True``) or ``timeout`` passes.

        A hint, as :meth:`kawa.eventlog.base.EventLog.wait`: read after it returns ``True``.
        A feed that has nothing may make its progress durable before waiting.
        """
        ...

    async def read(self, limit: int, *, max_bytes: int | None = None) -> list[Record]:
        """Up to ``limit`` records not yet handed out, in seq order, without waiting; with
        ``max_bytes`` as :meth:`kawa.eventlog.base.EventLog.read` (the first always comes)."""
        ...

    async def done(self, seq: int) -> None:
        """Record ``seq`` (handed out by :meth:`read`) is finished: never hand it out again."""
        ...

    async def stop(self) -> None:
        """Make what is done durable; what was handed out and is not done will be handed out
        again. The feed is unusable after."""
        ...


class EventLog(Protocol):
    """Durable, append-only streams of records plus consumer cursors."""

    @property
    def keeps_ids(self) -> bool:
        """Whether :meth:`append` looks at its ``ids`` (the backend has a duplicate window): a
        caller may pass ``None`` when not, and save working them out (a digest per event)."""
        ...

    async def append(
        self, stream: str, payloads: Sequence[bytes], *, ids: Sequence[str] | None = None
    ) -> list[int]:
        """Durably append ``payloads`` in order; returns their seqs.

        ``ids`` (one per payload) name what the records are for the sender (the broker passes
        a digest of the CloudEvent's ``source`` and ``id``). A backend with a duplicate window
        (JetStream) stores a payload whose id it stored on this stream within the window only
        once and returns the earlier record's seq; the embedded backends store every payload.

        Returns only once the records are committed (synced to disk as the backend's
        durability setting says). A cancelled call may still have been committed.
        """
        ...

    async def read(
        self, stream: str, after: int, limit: int, *, max_bytes: int | None = None
    ) -> list[Record]:
        """Up to ``limit`` records with ``seq > after``, ascending (empty for unknown streams).

        With ``max_bytes`` the records' payloads together stay within that many bytes, except
        that the first record is returned whatever its size (as JetStream's and Kafka's fetches
        do), so a reader always makes progress. The broker's consumers pass their share of the
        delivery memory budget (:mod:`kawa.dispatch.budget`).
        """
        ...

    async def wait(self, stream: str, after: int, timeout: float) -> bool:
        """Wait until a record with ``seq > after`` exists (``True``) or ``timeout`` passes.

        Wakes at once when an append through this object commits such a record, within the
        backend's notification delay for another process's append; a hint (see the module
        docstring): read again after it returns. Closing the log ends every wait at once.
        """
        ...

    async def last_seq(self, stream: str) -> int:
        """The highest seq ever committed to ``stream``; 0 when nothing ever was."""
        ...

    async def size(self) -> LogSize:
        """Records and bytes per stream and in all (metrics). Bounded cost whatever the log
        holds: no backend reads the records to answer."""
        ...

    async def load_cursor(self, consumer: str) -> int | None:
        """The last saved position of ``consumer`` (``None`` when it has none)."""
        ...

    async def save_cursor(self, consumer: str, stream: str, seq: int) -> None:
        """Durably remember that ``consumer`` (e.g. ``trigger:<uid>@<stream>``) is done up to
        ``seq`` of ``stream``. One writer per cursor (see the module docstring)."""
        ...

    async def delete_cursor(self, consumer: str) -> None:
        """Forget ``consumer``'s position (no error when it has none)."""
        ...

    def feed(self, consumer: str, stream: str) -> Feed:
        """The :class:`Feed` of ``consumer`` (a cursor name, as
        :meth:`save_cursor`'s) on ``stream``: how a trigger or subscription consumer takes
        records and finishes them one by one. :meth:`load_cursor` tells how far it is done
        and :meth:`delete_cursor` forgets it, whatever the backend keeps behind it."""
        ...

    async def delete_stream(self, stream: str) -> None:
        """Delete the records and cursors of ``stream`` (its seqs still never repeat)."""
        ...

    async def trim(self, retention: float, *, streams: Mapping[str, float] | None = None) -> int:
        """Delete old records nobody needs; returns how many were deleted.

        A record goes when it is older than its stream's retention and every cursor of its
        stream is at or past its seq (a stream without cursors: age alone decides). A stream
        named in ``streams`` keeps its records that many seconds (a Broker's
        ``kawa.dev/retention``); every other stream ``retention`` seconds.
        """
        ...

    async def close(self) -> None:
        """Finish pending writes and release files and threads; the log is unusable after."""
        ...


def check_stream(stream: str) -> None:
    """Reject an empty stream name (the one thing every backend cannot store)."""
    if not stream:
        raise ValidationError.single("stream", "a non-empty stream name is required")


def check_ids(payloads: Sequence[bytes], ids: Sequence[str] | None) -> None:
    """Validate :meth:`EventLog.append`'s ``ids``: one non-empty id per payload."""
    if ids is None:
        return
    if len(ids) != len(payloads):
        raise ValidationError.single(
            "ids", f"expected one id per payload ({len(payloads)}), got {len(ids)}"
        )
    if not all(ids):
        raise ValidationError.single("ids", "expected non-empty ids")


def check_read(stream: str, after: int, limit: int, max_bytes: int | None = None) -> None:
    """Validate :meth:`EventLog.read` arguments, reporting every problem."""
    errors: list[FieldError] = []
    if not stream:
        errors.append(FieldError("stream", "a non-empty stream name is required"))
    if after < 0:
        errors.append(FieldError("after", f"expected a seq >= 0, got {after}"))
    if limit < 1:
        errors.append(FieldError("limit", f"expected a limit >= 1, got {limit}"))
    if max_bytes is not None and max_bytes < 1:
        errors.append(FieldError("max_bytes", f"expected bytes >= 1, got {max_bytes}"))
    if errors:
        raise ValidationError(errors)


def within_bytes(records: list[Record], max_bytes: int | None) -> list[Record]:
    """The longest prefix of ``records`` whose payloads fit in ``max_bytes`` (at least one
    record): the ``max_bytes`` rule of :meth:`EventLog.read` for backends that read first."""
    if max_bytes is None:
        return records
    total = 0
    for index, record in enumerate(records):
        total += len(record.payload)
        if total > max_bytes and index > 0:
            return records[:index]
    return records


def check_cursor(consumer: str, stream: str, seq: int) -> None:
    """Validate :meth:`EventLog.save_cursor` arguments, reporting every problem."""
    errors: list[FieldError] = []
    if not consumer:
        errors.append(FieldError("consumer", "a non-empty consumer name is required"))
    if not stream:
        errors.append(FieldError("stream", "a non-empty stream name is required"))
    if seq < 0:
        errors.append(FieldError("seq", f"expected a seq >= 0, got {seq}"))
    if errors:
        raise ValidationError(errors)


def check_retention(retention: float, streams: Mapping[str, float] | None = None) -> None:
    """Validate :meth:`EventLog.trim` arguments, reporting every problem."""
    errors: list[FieldError] = []
    if retention < 0:
        errors.append(FieldError("retention", f"expected seconds >= 0, got {retention}"))
    for stream, seconds in (streams or {}).items():
        if seconds < 0:
            errors.append(FieldError(f"streams[{stream}]", f"expected seconds >= 0, got {seconds}"))
    if errors:
        raise ValidationError(errors)


def cutoffs(
    now: float, retention: float, streams: Mapping[str, float] | None
) -> tuple[float, dict[str, float]]:
    """The times before which :meth:`EventLog.trim` deletes: ``(every other stream's, the
    named streams')``."""
    return now - retention, {stream: now - seconds for stream, seconds in (streams or {}).items()}
