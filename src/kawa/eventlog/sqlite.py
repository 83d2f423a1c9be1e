"""The default event log: one SQLite file in WAL mode, written with group commit.

:class:`SqliteEventLog` is what ``kawa up`` puts under the broker and channel ingress. The
event loop never touches the disk:

* one **writer thread** owns the write connection. ``append``, ``save_cursor``,
  ``delete_cursor``, ``delete_stream`` and ``trim`` queue a job and await a future; the writer
  takes *every* job queued while it was busy and commits them in one transaction (**group
  commit**: one fsync for many events), then resolves all their futures with a single
  ``loop.call_soon_threadsafe``. Seqs are assigned by the writer from per-stream counters kept
  in memory (loaded from the ``streams`` table at open) and rolled back if a commit fails.
* the newest committed records of each stream stay in memory (:mod:`kawa.eventlog._tail`), so a
  consumer that keeps up reads them without a thread hop; older records come from one
  **reader thread** that owns a second connection and, in WAL mode, reads committed data
  without ever waiting for the writer.
* ``last_seq``, ``load_cursor`` and ``wait`` are answered from memory on the loop; ``wait`` is
  woken by the commit callback (no polling).

``durability`` chooses what an acknowledged append survives:

``"full"`` (default)
    ``PRAGMA synchronous=FULL``: the WAL is fsynced at every group commit. Survives a process
    kill, an OS crash and power loss.
``"normal"``
    ``PRAGMA synchronous=NORMAL``: the WAL is written at every commit but only fsynced at
    checkpoints. Survives a process kill (the data is in the OS page cache); the last commits
    may be lost on an OS crash or power loss. The database never corrupts.
``"off"``
    ``PRAGMA synchronous=OFF``: never fsyncs. Survives a process kill; an OS crash or power
    loss may lose recent commits or, rarely, damage the file. For throwaway setups.

Schema: ``streams(id, name, last_seq)`` (``last_seq`` is the high-water mark as of the last
deletion of the stream's records, a trim or the stream's deletion, written in that
transaction; the mark is the larger of it and the stream's last record, so seqs are never
reused; ADR 0078),
``records(stream_id, seq, appended_at, payload)`` keyed by ``(stream_id, seq)`` and
``cursors(consumer, stream_id, seq)``. ``appended_at`` never decreases within a stream, so
:meth:`SqliteEventLog.trim` deletes a prefix of each stream, in bounded steps that interleave
with appends, then gives the freed pages back to the disk (incremental vacuum, also in
bounded steps; 4 MiB stay free for new appends). One process owns a log file at a time (a
``<path>.lock`` file lock says so).

A full log (the disk, or ``max_size`` bytes) fails appends with
:class:`~kawa.errors.InsufficientStorageError` and stores events again, without a restart,
once a trim or the disk made room; cursor saves and trims go on while it is full, helped on a
full disk by ``<path>.reserve``, ``reserve`` bytes held for that moment (see
:mod:`kawa.eventlog._sqlite_writer`). Every file of the log is created 0600.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Literal

from kawa.errors import FieldError, KawaError, PermanentError, TemporaryError, ValidationError
from kawa.eventlog import base
from kawa.eventlog._signals import StreamSignals
from kawa.eventlog._sqlite_writer import (
    APPEND,
    DELETE_CURSOR,
    DELETE_STREAM,
    SAVE_CURSOR,
    STOP,
    TRIM,
    VACUUM,
    Changes,
    Job,
    Writer,
)
from kawa.eventlog._tail import TailCache
from kawa.eventlog.feed import CursorFeed

Durability = Literal["full", "normal", "off"]
DURABILITIES: Final = ("full", "normal", "off")
DEFAULT_RESERVE: Final = 8 * 1024 * 1024
"""Bytes held in ``<path>.reserve`` for a full disk: room for a checkpoint of a WAL at its
automatic checkpoint size (4 MiB) and a trim."""

_READ_SQL: Final = (
    "SELECT seq, appended_at, payload FROM records WHERE stream_id = ? AND seq > ? "
    "ORDER BY seq LIMIT ?"
)
_ReadJob = tuple["asyncio.Future[list[base.Record]]", int, int, int, int | None]


class SqliteEventLog:
    """An :class:`~kawa.eventlog.base.EventLog` in one SQLite file (see the module docs).

    Build it with ``await SqliteEventLog.open(path, durability=...)`` and :meth:`close` it.
    ``clock`` gives ``appended_at`` and the "now" of :meth:`trim` (tests pass a fake one).
    ``max_size`` caps the file (0: the disk is the limit); ``reserve`` is the size of the
    reserve file (0: none).
    """

    keeps_ids: Final = False
    """No duplicate window: every payload is stored (see :class:`~kawa.eventlog.base.EventLog`)."""

    def __init__(
        self,
        path: str,
        *,
        durability: Durability = "full",
        clock: Callable[[], float] = time.time,
        max_size: int = 0,
        reserve: int = DEFAULT_RESERVE,
    ) -> None:
        errors: list[FieldError] = []
        if not path or path == ":memory:" or path.startswith("file:"):
            errors.append(FieldError("path", "expected the path of a database file"))
        if durability not in DURABILITIES:
            errors.append(FieldError("durability", f"expected one of {', '.join(DURABILITIES)}"))
        for name, value in (("maxSize", max_size), ("reserve", reserve)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                errors.append(FieldError(name, f"expected a number of bytes >= 0, got {value!r}"))
        if errors:
            raise ValidationError(errors, subject="SQLite event log")
        self.path = path
        self.durability: Durability = durability
        self.max_size = max_size
        self.reserve = reserve
        self._clock = clock
        self._writer: Writer | None = None
        self._reads: queue.SimpleQueue[_ReadJob | None] = queue.SimpleQueue()
        self._reader_thread: threading.Thread | None = None
        self._ids: dict[str, int] = {}
        self._last: dict[str, int] = {}
        self._cursors: dict[str, tuple[str, int]] = {}
        self._signals = StreamSignals()
        self._tail = TailCache()
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    async def open(
        cls,
        path: str,
        *,
        durability: Durability = "full",
        clock: Callable[[], float] = time.time,
        max_size: int = 0,
        reserve: int = DEFAULT_RESERVE,
    ) -> SqliteEventLog:
        """Open (creating if needed) the log at ``path`` and start its threads."""
        log = cls(path, durability=durability, clock=clock, max_size=max_size, reserve=reserve)
        await log._start()
        return log

    async def _start(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        writer = Writer(
            self.path,
            self.durability,
            self._clock,
            loop,
            self._committed,
            max_size=self.max_size,
            reserve=self.reserve,
        )
        try:
            state = await asyncio.wrap_future(writer.start())
        except BaseException:  # failed (the thread is gone) or cancelled (let it go)
            writer.jobs.put((STOP, loop.create_future(), None, None, None))
            raise
        self._writer = writer
        self._ids, self._last, self._cursors = state.ids, state.last, state.cursors
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._reader_thread = threading.Thread(
            target=self._read_loop, args=(loop, ready), name="kawa-eventlog-reader", daemon=True
        )
        self._reader_thread.start()
        try:
            await asyncio.wrap_future(ready)
        except BaseException:
            await self._stop_writer()
            raise

    # -- writes: queued to the writer thread ---------------------------------------------------

    def _submit(self, op: int, a: Any = None, b: Any = None, c: Any = None) -> asyncio.Future[Any]:
        if self._closed or self._writer is None or self._loop is None:
            raise PermanentError("the event log is closed")
        future: asyncio.Future[Any] = self._loop.create_future()
        self._writer.jobs.put((op, future, a, b, c))
        return future

    async def append(
        self, stream: str, payloads: Sequence[bytes], *, ids: Sequence[str] | None = None
    ) -> list[int]:
        base.check_ids(payloads, ids)  # no duplicate window: every payload is stored
        if not stream:
            base.check_stream(stream)
        if not payloads:
            return []
        seqs: list[int] = await self._submit(APPEND, stream, payloads)
        return seqs

    async def save_cursor(self, consumer: str, stream: str, seq: int) -> None:
        base.check_cursor(consumer, stream, seq)
        await self._submit(SAVE_CURSOR, consumer, stream, seq)

    async def delete_cursor(self, consumer: str) -> None:
        await self._submit(DELETE_CURSOR, consumer)

    def feed(self, consumer: str, stream: str) -> CursorFeed:
        return CursorFeed(self, consumer, stream)

    async def delete_stream(self, stream: str) -> None:
        await self._submit(DELETE_STREAM, stream)

    async def trim(self, retention: float, *, streams: Mapping[str, float] | None = None) -> int:
        base.check_retention(retention, streams)
        cutoff, cutoffs = base.cutoffs(self._clock(), retention, streams)
        deleted = 0
        while True:  # bounded steps, so appends get their turn in between
            step: tuple[int, bool] = await self._submit(TRIM, cutoff, cutoffs)
            deleted += step[0]
            if step[1]:
                break
        while await self._submit(VACUUM):  # the freed pages go back to the disk
            pass
        return deleted

    def _committed(
        self, jobs: list[Job], results: list[Any], error: BaseException | None, changes: Changes
    ) -> None:
        """Loop side of a group commit: publish the new state, wake waiters, resolve futures."""
        if error is None:
            tail = self._tail
            if changes.removed:
                tail.clear()
            else:
                # one add per stream: a batch's appends to a stream got contiguous seqs in
                # job order, and an add costs ~1 us whether it holds one record or many
                added: dict[str, tuple[list[int], list[bytes]]] = {}
                for job, result in zip(jobs, results, strict=True):
                    if job[0] == APPEND:
                        seqs, payloads = added.setdefault(job[2], ([], []))
                        seqs.extend(result)
                        payloads.extend(job[3])
                at = changes.appended_at
                for stream, (seqs, payloads) in added.items():
                    tail.add(stream, seqs, payloads, at)
            self._ids.update(changes.ids)
            self._last.update(changes.last)
            for consumer, saved in changes.cursors.items():
                if saved is None:
                    self._cursors.pop(consumer, None)
                else:
                    self._cursors[consumer] = saved
            for stream in changes.last:
                self._signals.notify(stream)
            for job, result in zip(jobs, results, strict=True):
                if not job[1].done():
                    job[1].set_result(result)
        else:
            if not isinstance(error, KawaError):
                error = TemporaryError(f"event log write failed: {error}")
            for job in jobs:
                if not job[1].done():  # a copy each: a raised error collects its traceback
                    job[1].set_exception(copy.copy(error))

    # -- reads ---------------------------------------------------------------------------------

    async def read(
        self, stream: str, after: int, limit: int, *, max_bytes: int | None = None
    ) -> list[base.Record]:
        base.check_read(stream, after, limit, max_bytes)
        if self._closed or self._loop is None:
            raise PermanentError("the event log is closed")
        sid = self._ids.get(stream)
        if sid is None or after >= self._last.get(stream, 0):
            return []
        held = self._tail.read(stream, after, limit)
        if held is not None:
            return base.within_bytes(held, max_bytes)
        future: asyncio.Future[list[base.Record]] = self._loop.create_future()
        self._reads.put((future, sid, after, limit, max_bytes))
        return await future

    def _read_loop(
        self, loop: asyncio.AbstractEventLoop, ready: concurrent.futures.Future[None]
    ) -> None:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA query_only = 1")
        except sqlite3.Error as exc:
            ready.set_exception(TemporaryError(f"cannot open the event log {self.path}: {exc}"))
            return
        ready.set_result(None)
        record = base.Record
        reads = self._reads
        try:
            while True:
                jobs = [reads.get()]
                while True:
                    try:
                        jobs.append(reads.get_nowait())
                    except queue.Empty:
                        break
                done: list[tuple[asyncio.Future[list[base.Record]], Any]] = []
                for job in jobs:
                    if job is None:
                        return
                    future, sid, after, limit, max_bytes = job
                    try:
                        rows = _fetch(conn.execute(_READ_SQL, (sid, after, limit)), max_bytes)
                        done.append((future, [record(s, p, at) for s, at, p in rows]))
                    except sqlite3.Error as exc:
                        done.append((future, TemporaryError(f"event log read failed: {exc}")))
                loop.call_soon_threadsafe(_resolve_reads, done)
        finally:
            conn.close()

    async def wait(self, stream: str, after: int, timeout: float) -> bool:
        return await self._signals.wait(stream, after, timeout, self._last_seq)

    def _last_seq(self, stream: str) -> int:
        return self._last.get(stream, 0)

    async def last_seq(self, stream: str) -> int:
        return self._last.get(stream, 0)

    async def size(self) -> base.LogSize:
        if self._closed:
            raise PermanentError("the event log is closed")
        return await asyncio.to_thread(_size, self.path, dict(self._ids))

    async def load_cursor(self, consumer: str) -> int | None:
        if self._closed:
            raise PermanentError("the event log is closed")
        saved = self._cursors.get(consumer)
        return None if saved is None else saved[1]

    # -- lifecycle -----------------------------------------------------------------------------

    async def _stop_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is None or self._loop is None:
            return
        future: asyncio.Future[Any] = self._loop.create_future()
        writer.jobs.put((STOP, future, None, None, None))
        try:
            await future  # the writer commits what was queued before it stops
        finally:
            await asyncio.to_thread(writer.join)

    async def close(self) -> None:
        """Commit what is queued, stop both threads and close the file."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._stop_writer()
        finally:
            self._signals.close()
            if self._reader_thread is not None:
                self._reads.put(None)
                await asyncio.to_thread(self._reader_thread.join)
                self._reader_thread = None


_SPAN_SQL: Final = (
    "SELECT (SELECT min(seq) FROM records WHERE stream_id = ?1),"
    " (SELECT max(seq) FROM records WHERE stream_id = ?1)"
)


def _size(path: str, ids: dict[str, int]) -> base.LogSize:
    """Records per stream from their first and last seq (trim deletes from the start, so a
    stream's seqs are contiguous: two index lookups each) and the pages in use; no stream's
    bytes (that would read every record)."""
    try:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("PRAGMA query_only = 1")
            streams: dict[str, base.StreamSize] = {}
            for name, sid in ids.items():
                first, last = conn.execute(_SPAN_SQL, (sid,)).fetchone()
                if first is not None:
                    streams[name] = base.StreamSize(last - first + 1, None)
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise TemporaryError(f"cannot measure the event log: {exc}") from exc
    return base.LogSize(streams, (pages - free) * page_size)


def _fetch(rows: sqlite3.Cursor, max_bytes: int | None) -> list[Any]:
    """The rows of a read, stopping before the row that would pass ``max_bytes`` (the first
    row always comes): rows past it are never read from the file."""
    if max_bytes is None:
        return rows.fetchall()
    kept: list[Any] = []
    total = 0
    for row in rows:
        total += len(row[2])
        if kept and total > max_bytes:
            break
        kept.append(row)
    rows.close()
    return kept


def _resolve_reads(done: list[tuple[asyncio.Future[list[base.Record]], Any]]) -> None:
    for future, result in done:
        if future.done():
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
