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
and that are older than the retention period.

The broker codes against :class:`EventLog` only; the backends are
:class:`kawa.eventlog.memory.MemoryEventLog` and :class:`kawa.eventlog.sqlite.SqliteEventLog`.
The shared contract tests live in ``tests/eventlog/contract.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from kawa.errors import FieldError, ValidationError


@dataclass(frozen=True, slots=True)
class Record:
    """One record of a stream."""

    seq: int
    """Strictly increasing per stream, starting at 1; never reused."""
    payload: bytes
    """Opaque bytes (the broker stores an encoded CloudEvent)."""
    appended_at: float
    """Unix time of the commit that stored the record; never decreases within a stream."""


class EventLog(Protocol):
    """Durable, append-only streams of records plus consumer cursors."""

    async def append(self, stream: str, payloads: Sequence[bytes]) -> list[int]:
        """Durably append ``payloads`` in order; returns their seqs.

        Returns only once the records are committed (synced to disk as the backend's
        durability setting says). A cancelled call may still have been committed.
        """
        ...

    async def read(self, stream: str, after: int, limit: int) -> list[Record]:
        """Up to ``limit`` records with ``seq > after``, ascending (empty for unknown streams)."""
        ...

    async def wait(self, stream: str, after: int, timeout: float) -> bool:
        """Wait until a record with ``seq > after`` exists (``True``) or ``timeout`` passes.

        Wakes at once when an append in this process commits such a record.
        """
        ...

    async def last_seq(self, stream: str) -> int:
        """The highest seq ever committed to ``stream``; 0 when nothing ever was."""
        ...

    async def load_cursor(self, consumer: str) -> int | None:
        """The saved position of ``consumer`` (``None`` when it has none)."""
        ...

    async def save_cursor(self, consumer: str, stream: str, seq: int) -> None:
        """Durably remember that ``consumer`` (e.g. ``trigger:<uid>``) is done up to ``seq``."""
        ...

    async def delete_cursor(self, consumer: str) -> None:
        """Forget ``consumer``'s position (no error when it has none)."""
        ...

    async def delete_stream(self, stream: str) -> None:
        """Delete the records and cursors of ``stream`` (its seqs still never repeat)."""
        ...

    async def trim(self, retention: float) -> int:
        """Delete old records nobody needs; returns how many were deleted.

        A record goes when it is older than ``retention`` seconds and every cursor of its
        stream is at or past its seq (a stream without cursors: age alone decides).
        """
        ...

    async def close(self) -> None:
        """Finish pending writes and release files and threads; the log is unusable after."""
        ...


def check_stream(stream: str) -> None:
    """Reject an empty stream name (the one thing every backend cannot store)."""
    if not stream:
        raise ValidationError.single("stream", "a non-empty stream name is required")


def check_read(stream: str, after: int, limit: int) -> None:
    """Validate :meth:`EventLog.read` arguments, reporting every problem."""
    errors: list[FieldError] = []
    if not stream:
        errors.append(FieldError("stream", "a non-empty stream name is required"))
    if after < 0:
        errors.append(FieldError("after", f"expected a seq >= 0, got {after}"))
    if limit < 1:
        errors.append(FieldError("limit", f"expected a limit >= 1, got {limit}"))
    if errors:
        raise ValidationError(errors)


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


def check_retention(retention: float) -> None:
    if retention < 0:
        raise ValidationError.single("retention", f"expected seconds >= 0, got {retention}")
