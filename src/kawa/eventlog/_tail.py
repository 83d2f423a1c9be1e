"""The newest records of each stream, kept in memory so a tailing consumer never hits the disk.

:class:`kawa.eventlog.sqlite.SqliteEventLog` adds every record it committed (on its event
loop, in the commit callback) and answers :meth:`~kawa.eventlog.sqlite.SqliteEventLog.read`
from here when the wanted records are still held; older ones are read from the file. A
consumer that keeps up with its broker thus costs no thread hop, no SQL and no copy per event.

Per stream the records are contiguous (seq ``first``, ``first + 1``, ...) up to the stream's
high-water mark; at most about ``2 * capacity`` are held per stream, and at most ``max_bytes``
of payload across all streams (past it, the stream whose held records are the oldest gives
them up first): a burst of large events costs the tail a bounded amount of memory, and a
record larger than the whole bound is simply read from the file. Loop-thread only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from kawa.eventlog.base import Record

DEFAULT_CAPACITY: Final = 8192
"""Records held per stream (about twice as many at most)."""
DEFAULT_MAX_BYTES: Final = 32 * 1024 * 1024
"""Payload bytes held across all streams."""


class _Tail:
    __slots__ = ("first", "records", "size")

    def __init__(self, first: int) -> None:
        self.first = first
        self.records: list[Record] = []
        self.size = 0


class TailCache:
    """Recently committed records per stream (see the module docstring)."""

    __slots__ = ("_capacity", "_max_bytes", "_size", "_tails")

    def __init__(
        self, capacity: int = DEFAULT_CAPACITY, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self._capacity = capacity
        self._max_bytes = max_bytes
        self._tails: dict[str, _Tail] = {}
        self._size = 0

    @property
    def size(self) -> int:
        """Payload bytes held."""
        return self._size

    def add(self, stream: str, seqs: Sequence[int], payloads: Sequence[bytes], at: float) -> None:
        """Hold the records just committed as ``seqs`` (ascending, contiguous)."""
        if not seqs:
            return
        tail = self._tails.get(stream)
        if tail is None or tail.first + len(tail.records) != seqs[0]:
            if tail is not None:
                self._size -= tail.size
            tail = self._tails[stream] = _Tail(seqs[0])  # a gap: start again from here
        tail.records.extend(map(Record, seqs, payloads, [at] * len(seqs)))
        added = sum(map(len, payloads))
        tail.size += added
        self._size += added
        excess = len(tail.records) - 2 * self._capacity
        if excess > 0:
            self._drop(tail, excess + self._capacity)
        while self._size > self._max_bytes:
            oldest = min(
                (t for t in self._tails.values() if t.records),
                key=lambda t: t.records[0].appended_at,
            )
            self._shrink(oldest)

    def _shrink(self, tail: _Tail) -> None:
        """Drop ``tail``'s oldest records until the bytes held fit (or it holds none)."""
        over = self._size - self._max_bytes
        freed = count = 0
        for record in tail.records:
            if freed >= over:
                break
            freed += len(record.payload)
            count += 1
        self._drop(tail, count)

    def _drop(self, tail: _Tail, count: int) -> None:
        dropped = tail.records[:count]
        del tail.records[:count]
        tail.first += len(dropped)
        freed = sum(len(record.payload) for record in dropped)
        tail.size -= freed
        self._size -= freed

    def read(self, stream: str, after: int, limit: int) -> list[Record] | None:
        """Up to ``limit`` records after ``after``; ``None`` when they are not all held."""
        tail = self._tails.get(stream)
        if tail is None or after + 1 < tail.first:
            return None
        start = after + 1 - tail.first
        return tail.records[start : start + limit]

    def clear(self) -> None:
        """Forget everything (records were deleted from the file)."""
        self._tails.clear()
        self._size = 0
