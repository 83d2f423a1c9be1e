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
from itertools import repeat
from typing import Final

from kawa.eventlog.base import Record

DEFAULT_CAPACITY: Final = 8192
"""Records held per stream (about twice as many at most)."""
DEFAULT_MAX_BYTES: Final = 32 * 1024 * 1024
"""Payload bytes held across all streams."""


class _Tail:
    """One stream's held records, as parallel lists: ``payloads[i]`` and ``ats[i]`` are
    record ``first + i``'s. No object per record: bytes and floats are not tracked by the
    cyclic garbage collector, where 16,000 held :class:`Record` objects were (each young
    collection moved thousands of them on, 10-25 ms a time under load, the 1,000/s tail
    latency of issue 18); a :meth:`TailCache.read` makes the records it returns."""

    __slots__ = ("ats", "first", "payloads", "size")

    def __init__(self, first: int) -> None:
        self.first = first
        self.payloads: list[bytes] = []
        self.ats: list[float] = []
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
        if tail is None or tail.first + len(tail.payloads) != seqs[0]:
            if tail is not None:
                self._size -= tail.size
            tail = self._tails[stream] = _Tail(seqs[0])  # a gap: start again from here
        tail.payloads.extend(payloads)
        tail.ats.extend(repeat(at, len(seqs)))
        added = sum(map(len, payloads))
        tail.size += added
        self._size += added
        excess = len(tail.payloads) - 2 * self._capacity
        if excess > 0:
            self._drop(tail, excess + self._capacity)
        while self._size > self._max_bytes:
            oldest = min((t for t in self._tails.values() if t.ats), key=lambda t: t.ats[0])
            self._shrink(oldest)

    def _shrink(self, tail: _Tail) -> None:
        """Drop ``tail``'s oldest records until the bytes held fit (or it holds none)."""
        over = self._size - self._max_bytes
        freed = count = 0
        for payload in tail.payloads:
            if freed >= over:
                break
            freed += len(payload)
            count += 1
        self._drop(tail, count)

    def _drop(self, tail: _Tail, count: int) -> None:
        count = min(count, len(tail.payloads))
        freed = sum(map(len, tail.payloads[:count]))
        del tail.payloads[:count]
        del tail.ats[:count]
        tail.first += count
        tail.size -= freed
        self._size -= freed

    def read(self, stream: str, after: int, limit: int) -> list[Record] | None:
        """Up to ``limit`` records after ``after``; ``None`` when they are not all held."""
        tail = self._tails.get(stream)
        if tail is None or after + 1 < tail.first:
            return None
        start = after + 1 - tail.first
        end = start + limit
        payloads = tail.payloads[start:end]
        return list(
            map(Record, range(after + 1, after + 1 + len(payloads)), payloads, tail.ats[start:end])
        )

    def clear(self) -> None:
        """Forget everything (records were deleted from the file)."""
        self._tails.clear()
        self._size = 0
