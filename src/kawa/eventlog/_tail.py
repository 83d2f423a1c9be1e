"""The newest records of each stream, kept in memory so a tailing consumer never hits the disk.

:class:`kawa.eventlog.sqlite.SqliteEventLog` adds every record it committed (on its event
loop, in the commit callback) and answers :meth:`~kawa.eventlog.sqlite.SqliteEventLog.read`
from here when the wanted records are still held; older ones are read from the file. A
consumer that keeps up with its broker thus costs no thread hop, no SQL and no copy per event.

Per stream the records are contiguous (seq ``first``, ``first + 1``, ...) up to the stream's
high-water mark; at most about ``2 * capacity`` are held. Loop-thread only.
"""

from __future__ import annotations

from collections.abc import Sequence

from kawa.eventlog.base import Record

DEFAULT_CAPACITY = 8192


class _Tail:
    __slots__ = ("first", "records")

    def __init__(self, first: int) -> None:
        self.first = first
        self.records: list[Record] = []


class TailCache:
    """Recently committed records per stream (see the module docstring)."""

    __slots__ = ("_capacity", "_tails")

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._tails: dict[str, _Tail] = {}

    def add(self, stream: str, seqs: Sequence[int], payloads: Sequence[bytes], at: float) -> None:
        """Hold the records just committed as ``seqs`` (ascending, contiguous)."""
        if not seqs:
            return
        tail = self._tails.get(stream)
        if tail is None or tail.first + len(tail.records) != seqs[0]:
            tail = self._tails[stream] = _Tail(seqs[0])  # a gap: start again from here
        tail.records.extend(map(Record, seqs, payloads, [at] * len(seqs)))
        excess = len(tail.records) - 2 * self._capacity
        if excess > 0:
            drop = excess + self._capacity
            del tail.records[:drop]
            tail.first += drop

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
