"""A consumer's feed: the records of one stream handed to one durable consumer, finished one
by one.

A trigger or subscription consumer (:mod:`kawa.dispatch.consumer`) does not track positions
itself: it asks its :class:`Feed` for records, and tells it when each one is **done**
(delivered, dead-lettered, dropped or filtered out). What a feed guarantees:

* **At least once.** A record handed out and not yet done is handed out again after a crash or
  a stop (to this consumer after a restart, or, on a backend shared by several processes, to
  another one). A done record is not handed out again, except after a crash before the feed
  made its completion durable (the window is the backend's: the cursor's commit interval, or
  the ack in flight).
* **Order.** One feed hands out the records of its stream in seq order; a record handed out
  again (after a stop) may come after later ones.
* **Where a new consumer starts.** The first :meth:`Feed.start` of a consumer (no durable
  position yet) starts after the last record appended before ``since`` (when the trigger
  became Ready), or at the stream's end when ``since`` is ``None``
  (:func:`start_after`).

The embedded backends (memory, SQLite) make a :class:`CursorFeed`: the consumer's position is
a cursor (:meth:`kawa.eventlog.base.EventLog.save_cursor`) holding the highest seq below which
every record is done, saved in the background at most every ``commit_interval`` (and on every
idle wait and on stop). The JetStream backend makes a feed on a durable JetStream consumer
instead, with one ack per record (:mod:`kawa.eventlog._js_feed`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Final

from kawa.errors import KawaError
from kawa.eventlog.base import EventLog, Feed, Record

__all__ = ["COMMIT_INTERVAL", "CursorFeed", "Feed", "start_after"]

log = logging.getLogger(__name__)

COMMIT_INTERVAL: Final = 0.05
"""Seconds between two cursor saves of a busy :class:`CursorFeed`."""


async def start_after(log_: EventLog, stream: str, since: float | None) -> int:
    """Where a new consumer starts: after the last record appended before ``since`` (when
    the trigger became Ready), so that an event sent the moment the trigger shows Ready is
    delivered however late the consumer starts; the stream's end when ``since`` is unknown.
    Reads back from the end in growing steps (usually one read)."""
    last = await log_.last_seq(stream)
    if since is None:
        return last
    position, step = last, 64
    while position > 0:
        lower = max(0, position - step)
        records = await log_.read(stream, lower, position - lower)
        if not records:
            return lower  # trimmed away: nothing older is left to skip
        older = [r.seq for r in records if r.appended_at < since]
        if older:
            return max(older)  # appended_at never decreases within a stream
        position, step = records[0].seq - 1, step * 2
    return 0


class CursorFeed:
    """A :class:`Feed` over :meth:`~kawa.eventlog.base.EventLog.read` and a cursor, for one
    consumer in one process (see the module docstring)."""

    def __init__(
        self,
        event_log: EventLog,
        consumer: str,
        stream: str,
        *,
        commit_interval: float = COMMIT_INTERVAL,
    ) -> None:
        self._log = event_log
        self._consumer = consumer
        self._stream = stream
        self._commit_interval = commit_interval
        self._pending: set[int] = set()
        self._fetched = 0
        self._committed = 0
        self._last_commit = 0.0
        self._saving: asyncio.Task[None] | None = None

    @property
    def fetched(self) -> int:
        return self._fetched

    async def start(self, since: float | None, *, in_order: bool = False) -> None:
        # in_order holds anyway: what is not done is after the cursor, read in order
        cursor = await self._log.load_cursor(self._consumer)
        if cursor is None:
            cursor = await start_after(self._log, self._stream, since)
            await self._log.save_cursor(self._consumer, self._stream, cursor)
        self._fetched = self._committed = cursor

    async def wait(self, timeout: float) -> bool:
        if await self._log.wait(self._stream, self._fetched, 0):
            return True
        # Caught up: the cursor is saved at most once per commit interval while events keep
        # coming (at 1,000 events/s a save each time the consumer caught up was a second
        # commit, and fsync, per event in the writer, ahead of the next appends), and at once
        # when the stream stays quiet for a whole interval.
        self._commit()
        quiet = min(timeout, self._commit_interval)
        if await self._log.wait(self._stream, self._fetched, quiet):
            return True
        self._commit(force=True)
        return await self._log.wait(self._stream, self._fetched, max(0.0, timeout - quiet))

    async def read(self, limit: int, *, max_bytes: int | None = None) -> list[Record]:
        records = await self._log.read(self._stream, self._fetched, limit, max_bytes=max_bytes)
        if records:
            # Pending from the moment they are handed out: the watermark never passes a record
            # that was read but never finished, whatever the consumer does with it.
            self._pending.update(record.seq for record in records)
            self._fetched = records[-1].seq
        return records

    async def done(self, seq: int) -> None:
        self._pending.discard(seq)
        self._commit()

    async def stop(self) -> None:
        if self._saving is not None and not self._saving.done():
            await asyncio.gather(self._saving, return_exceptions=True)
        self._commit(force=True)
        if self._saving is not None:
            await asyncio.gather(self._saving, return_exceptions=True)

    def _commit(self, *, force: bool = False) -> None:
        """Save the watermark in the background (at most one save in flight, at most one per
        ``commit_interval`` unless forced): reads never wait for the cursor's commit. A cursor
        that lags only means redelivery after a crash (at least once)."""
        if self._saving is not None and not self._saving.done():
            return
        now = time.monotonic()
        if not force and now - self._last_commit < self._commit_interval:
            return  # before the watermark: a min() over the events in flight, per event
        watermark = (min(self._pending) - 1) if self._pending else self._fetched
        if watermark <= self._committed:
            return
        self._last_commit = now
        self._saving = asyncio.create_task(self._save(watermark))

    async def _save(self, watermark: int) -> None:
        try:
            await self._log.save_cursor(self._consumer, self._stream, watermark)
        except KawaError as err:
            log.warning("%s: could not save its cursor: %s", self._consumer, err)
            return
        self._committed = max(self._committed, watermark)
