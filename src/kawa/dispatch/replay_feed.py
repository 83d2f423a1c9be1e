"""A replay's feed: the records of a window of a broker's stream, handed to one consumer once.

A Replay (:mod:`kawa.broker.replays`) delivers archived events again through an ordinary
:class:`~kawa.dispatch.consumer.Consumer` (the trigger's filters, delivery settings, rate and
budget), fed by a :class:`WindowFeed` instead of the trigger's own durable feed: it reads the
stream with :meth:`~kawa.eventlog.base.EventLog.read` from the replay's position up to the
window's last seq, and keeps the position in memory (the Replay's status makes it durable;
the trigger's cursor is never touched).

:func:`find_window` turns a time window into seqs: a stream's ``appended_at`` never decreases
and a trim deletes only a prefix, so the records appended in ``[start, end]`` are one run of
consecutive seqs, found by two binary searches (a few one-record reads each).

A record trimmed before the feed reached it (the broker's retention passed meanwhile) is
counted in :attr:`WindowFeed.missed`, never waited for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

from kawa.eventlog.base import EventLog, Record

__all__ = ["NO_RECORDS", "WindowFeed", "find_window"]

NO_RECORDS: Final = (1, 0)
"""The window of a stream that holds nothing in the time window (first above last)."""


async def _at_or_after(log: EventLog, stream: str, seq: int) -> Record | None:
    records = await log.read(stream, seq - 1, 1)
    return records[0] if records else None


async def _lowest(
    log: EventLog, stream: str, low: int, high: int, holds: Callable[[float], bool]
) -> int:
    """The lowest seq in ``[low, high]`` whose record (or the next kept one) was appended at a
    time that ``holds``, ``high + 1`` when none: ``holds`` must be monotonic in time."""
    while low <= high:
        middle = (low + high) // 2
        record = await _at_or_after(log, stream, middle)
        if record is None or holds(record.appended_at):
            high = middle - 1
        else:
            low = middle + 1
    return low


async def find_window(log: EventLog, stream: str, start: float, end: float) -> tuple[int, int]:
    """``(first, last)``: the seqs of the records of ``stream`` appended in ``[start, end]``
    (unix times); ``first > last`` when there are none."""
    first_kept = await _at_or_after(log, stream, 1)
    last = await log.last_seq(stream)
    if first_kept is None or end < start:
        return NO_RECORDS
    low = first_kept.seq
    first = await _lowest(log, stream, low, last, lambda at: at >= start)
    after = await _lowest(log, stream, first, last, lambda at: at > end)
    if first > after - 1:
        return NO_RECORDS
    return first, after - 1


class WindowFeed:
    """A :class:`~kawa.eventlog.base.Feed` of the records ``first..last`` of ``stream`` after
    ``position`` (see the module docstring). :attr:`finished` is set once every record of the
    window is done (or was trimmed away)."""

    def __init__(self, log: EventLog, stream: str, first: int, last: int, position: int) -> None:
        self._log = log
        self._stream = stream
        self._last = last
        self._position = max(position, first - 1)
        self._fetched = self._position
        self._pending: set[int] = set()
        self.missed = 0
        """Records of the window trimmed before the feed reached them."""
        self.finished = asyncio.Event()
        self._check_finished()

    @property
    def fetched(self) -> int:
        return self._fetched

    @property
    def position(self) -> int:
        """Every record up to this seq is done (where a restart resumes)."""
        return (min(self._pending) - 1) if self._pending else self._fetched

    async def start(self, since: float | None, *, in_order: bool = False) -> None:
        # (again) after a consumer's restart: what was handed out and not done comes again
        self._fetched = self.position
        self._pending.clear()

    async def wait(self, timeout: float) -> bool:
        if self._fetched < self._last:
            return True
        if self.finished.is_set():  # nothing will ever come: wait to be stopped
            await asyncio.sleep(timeout)
            return False
        # everything is handed out: only the deliveries in flight are left (asyncio.wait, not
        # wait_for: on Python 3.11 wait_for loses a cancellation that meets the event)
        waiter = asyncio.ensure_future(self.finished.wait())
        try:
            await asyncio.wait([waiter], timeout=timeout)
        finally:
            waiter.cancel()
        return False

    async def read(self, limit: int, *, max_bytes: int | None = None) -> list[Record]:
        left = self._last - self._fetched
        if left <= 0:
            return []
        read = await self._log.read(
            self._stream, self._fetched, min(limit, left), max_bytes=max_bytes
        )
        records = [record for record in read if record.seq <= self._last]
        expected = self._fetched + 1
        if records:
            self.missed += records[0].seq - expected  # trimmed before the feed got there
            self._pending.update(record.seq for record in records)
            self._fetched = records[-1].seq
        elif not read or read[0].seq > self._last:
            self.missed += self._last - self._fetched  # the rest of the window is gone
            self._fetched = self._last
            self._check_finished()
        return records

    async def done(self, seq: int) -> None:
        self._pending.discard(seq)
        self._check_finished()

    async def stop(self) -> None:
        """Nothing to save here: the Replay's status keeps :attr:`position`."""

    def _check_finished(self) -> None:
        if self._fetched >= self._last and not self._pending:
            self.finished.set()
