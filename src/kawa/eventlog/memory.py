"""An event log in process memory: fast, not durable.

:class:`MemoryEventLog` keeps every stream as a list of :class:`~kawa.eventlog.base.Record` and
loses everything when the process ends. It serves the test suite and ``kawa up --ephemeral``;
the broker sees the same :class:`~kawa.eventlog.base.EventLog` behaviour as with SQLite.
"""

from __future__ import annotations

import bisect
import operator
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from kawa.errors import PermanentError
from kawa.eventlog import base
from kawa.eventlog._signals import StreamSignals
from kawa.eventlog.feed import CursorFeed

_seq_of: Callable[[base.Record], int] = operator.attrgetter("seq")


class MemoryEventLog:
    """An :class:`~kawa.eventlog.base.EventLog` held in dicts and lists.

    ``clock`` gives the ``appended_at`` of records and the "now" of :meth:`trim`.
    """

    keeps_ids: Final = False
    """No duplicate window: every payload is stored."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._now = 0.0  # latest appended_at: appended_at never goes back
        self._records: dict[str, list[base.Record]] = {}
        self._last: dict[str, int] = {}
        self._cursors: dict[str, tuple[str, int]] = {}
        self._signals = StreamSignals()
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise PermanentError("the event log is closed")

    def _last_seq(self, stream: str) -> int:
        return self._last.get(stream, 0)

    async def append(
        self, stream: str, payloads: Sequence[bytes], *, ids: Sequence[str] | None = None
    ) -> list[int]:
        base.check_ids(payloads, ids)  # no duplicate window: every payload is stored
        self._check_open()
        base.check_stream(stream)
        if not payloads:
            return []
        first = self._last.get(stream, 0) + 1
        now = self._now = max(self._clock(), self._now)
        records = self._records.setdefault(stream, [])
        records.extend(
            base.Record(seq, bytes(payload), now)
            for seq, payload in enumerate(payloads, start=first)
        )
        self._last[stream] = first + len(payloads) - 1
        self._signals.notify(stream)
        return list(range(first, first + len(payloads)))

    async def read(
        self, stream: str, after: int, limit: int, *, max_bytes: int | None = None
    ) -> list[base.Record]:
        self._check_open()
        base.check_read(stream, after, limit, max_bytes)
        records = self._records.get(stream)
        if not records:
            return []
        start = bisect.bisect_right(records, after, key=_seq_of)
        return base.within_bytes(records[start : start + limit], max_bytes)

    async def wait(self, stream: str, after: int, timeout: float) -> bool:
        return await self._signals.wait(stream, after, timeout, self._last_seq)

    async def last_seq(self, stream: str) -> int:
        return self._last.get(stream, 0)

    async def size(self) -> base.LogSize:
        self._check_open()
        streams = {
            stream: base.StreamSize(len(records), sum(len(r.payload) for r in records))
            for stream, records in self._records.items()
            if records
        }
        return base.LogSize(streams, sum(size.bytes or 0 for size in streams.values()))

    async def load_cursor(self, consumer: str) -> int | None:
        self._check_open()
        saved = self._cursors.get(consumer)
        return None if saved is None else saved[1]

    async def save_cursor(self, consumer: str, stream: str, seq: int) -> None:
        self._check_open()
        base.check_cursor(consumer, stream, seq)
        self._cursors[consumer] = (stream, seq)

    async def delete_cursor(self, consumer: str) -> None:
        self._check_open()
        self._cursors.pop(consumer, None)

    def feed(self, consumer: str, stream: str) -> CursorFeed:
        return CursorFeed(self, consumer, stream)

    async def delete_stream(self, stream: str) -> None:
        self._check_open()
        self._records.pop(stream, None)
        for consumer in [c for c, (s, _) in self._cursors.items() if s == stream]:
            del self._cursors[consumer]

    async def trim(self, retention: float, *, streams: Mapping[str, float] | None = None) -> int:
        self._check_open()
        base.check_retention(retention, streams)
        default, cutoffs = base.cutoffs(self._clock(), retention, streams)
        floors: dict[str, int] = {}
        for stream, seq in self._cursors.values():
            floors[stream] = min(seq, floors.get(stream, seq))
        deleted = 0
        for stream, records in self._records.items():
            floor = floors.get(stream)
            cutoff = cutoffs.get(stream, default)
            kept = [
                r
                for r in records
                if r.appended_at >= cutoff or (floor is not None and r.seq > floor)
            ]
            deleted += len(records) - len(kept)
            records[:] = kept
        return deleted

    async def close(self) -> None:
        self._closed = True
        self._signals.close()
