"""The writer thread of :class:`kawa.eventlog.sqlite.SqliteEventLog`: group commit.

:class:`Writer` owns the write connection and the authoritative in-memory state (stream ids,
per-stream high-water marks, cursors). Its thread blocks on :attr:`Writer.jobs`, takes every
job queued meanwhile, runs them all in one transaction, commits (one fsync under
``synchronous=FULL``) and hands ``(jobs, results, error, changes)`` to the loop through one
``call_soon_threadsafe``. Working state of a batch lives in a :class:`Changes` and is merged
into the writer's state only after the commit succeeded, so a failed commit leaves no trace.
A batch whose appends fail runs again without them: a failed append never takes a cursor
save or a trim down with it.

A full log (``database or disk is full``: the disk, or ``max_size``) fails appends with
:class:`~kawa.errors.InsufficientStorageError` and enters *full* mode: the reserve file is
given back to the disk (:mod:`kawa.eventlog._reserve`) and appends are refused without
touching the file, so that the room goes to what frees space (trims, stream deletions,
cursor saves), until the next trim has run; then appends are tried again. The database is in
``auto_vacuum = INCREMENTAL`` mode: after a trim, :data:`VACUUM` jobs give free pages beyond
:data:`VACUUM_KEEP` back to the disk. The thread opens the file with
:mod:`kawa.eventlog._sqlite_file` (lock, settings, schema, what it holds). Only
:mod:`kawa.eventlog.sqlite` uses this module.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain, repeat
from pathlib import Path
from typing import Any, Final

from kawa.errors import InsufficientStorageError, KawaError, TemporaryError
from kawa.eventlog._reserve import Reserve
from kawa.eventlog._sqlite_file import State, connect, load, lock

APPEND: Final = 0
SAVE_CURSOR: Final = 1
DELETE_CURSOR: Final = 2
DELETE_STREAM: Final = 3
TRIM: Final = 4
STOP: Final = 5
VACUUM: Final = 6

log = logging.getLogger(__name__)

TRIM_STEP: Final = 1_000
"""Most records one trim job deletes. Appends queued meanwhile wait for the step's commit, so
a step must be short: 1,000 records take ~2 ms here (10,000 took ~18 ms, and appends during a
large trim waited 15 ms at the median; see docs/performance.md)."""
TRIM_STEP_BYTES: Final = 512 * 1024
"""Most payload bytes one trim job deletes (one record at least): freeing large records (a
broker's lineage records batch 200 ms of notes) touches a page per 4 KiB, and 1,000 of them
made one step take 145 ms, stalling every append queued behind it (docs/performance.md)."""

VACUUM_STEP: Final = 128
"""Most free pages (of 4 KiB) one vacuum job gives back; ~4 ms here, so appends queued
meanwhile wait about as long as behind a trim step."""
VACUUM_KEEP: Final = 1024
"""Free pages kept for new appends (4 MiB): a log that is trimmed and refilled in turn does
not shrink and grow its file every time."""

Job = tuple[int, "asyncio.Future[Any]", Any, Any, Any]
"""``(op, future, a, b, c)``; the meaning of ``a``, ``b``, ``c`` depends on ``op``."""

_MOST_ROWS: Final = 128
"""Rows of one INSERT statement at most (512 parameters: under every SQLite's limit)."""
_INSERTS: Final = [""] + [
    "INSERT INTO records (stream_id, seq, appended_at, payload) VALUES "
    + ", ".join(["(?, ?, ?, ?)"] * n)
    for n in range(1, _MOST_ROWS + 1)
]
"""The INSERT of ``n`` rows at index ``n``: a batch is stored with one statement of its size
(more for a batch of more than :data:`_MOST_ROWS`), not a statement per row. Python's sqlite3
lets go of the GIL and takes it back around each step of a statement (and around its
preparation and reset); with the event loop thread busy, each take waits for the loop to give
the GIL up, a context switch each way, so the writer's cost and its commit's latency grow with
the statements it runs, not with the rows (``executemany`` is a step per row: a batch of 64
rows took a commit's time many times over; issue 18)."""
_CACHED_STATEMENTS: Final = _MOST_ROWS + 64
"""The write connection's statement cache: every INSERT size and the rest (default 128)."""

Committed = Callable[[list[Job], list[Any], BaseException | None, "Changes"], None]


@dataclass(slots=True)
class Changes:
    """What one batch changed (a cursor mapped to ``None`` was deleted)."""

    ids: dict[str, int] = field(default_factory=dict)
    last: dict[str, int] = field(default_factory=dict)
    cursors: dict[str, tuple[str, int] | None] = field(default_factory=dict)
    appended_at: float = 0.0
    """The ``appended_at`` of every record this batch appended."""
    removed: bool = False
    """Whether the batch deleted records (a trim step that found some, a stream deletion)."""
    trimmed: bool = False
    """Whether the batch ran a trim step, whatever it deleted (full mode ends: module docs)."""
    vacuumed: bool = False
    """Whether the batch ended a vacuum (a checkpoint then writes the smaller file)."""


class Writer:
    """The thread that owns the write connection (see the module docs)."""

    def __init__(
        self,
        path: str,
        durability: str,
        clock: Callable[[], float],
        loop: asyncio.AbstractEventLoop,
        committed: Committed,
        *,
        max_size: int = 0,
        reserve: int = 0,
    ) -> None:
        self.path = path
        self.jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._durability = durability
        self._clock = clock
        self._loop = loop
        self._committed = committed
        self._max_size = max_size
        self._reserve = Reserve(Path(path + ".reserve"), reserve)
        self._full: InsufficientStorageError | None = None
        """Set in full mode: what refused appends fail with."""
        self._was_full = False
        """Full since the last append that succeeded (a full log says so once)."""
        self._state = State()
        self._now = 0.0  # latest appended_at: appended_at never goes back
        self._ready: concurrent.futures.Future[State] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, name="kawa-eventlog-writer", daemon=True)

    def start(self) -> concurrent.futures.Future[State]:
        """Start the thread; the future gives a copy of the loaded state once it is ready."""
        self._thread.start()
        return self._ready

    def join(self) -> None:
        self._thread.join()

    # -- thread --------------------------------------------------------------------------------

    def _run(self) -> None:
        lock_fd = -1
        conn: sqlite3.Connection | None = None
        try:
            lock_fd = lock(self.path)
            conn = self._connect()
            self._state, self._now = load(conn)
        except Exception as exc:
            if conn is not None:
                conn.close()
            if lock_fd >= 0:
                os.close(lock_fd)
            self._ready.set_exception(
                exc
                if isinstance(exc, KawaError)
                else TemporaryError(f"cannot open the event log {self.path}: {exc}")
            )
            return
        self._reserve.keep()
        s = self._state
        self._ready.set_result(State(dict(s.ids), dict(s.last), dict(s.cursors)))
        try:
            self._serve(conn)
        finally:
            conn.close()
            self._reserve.release()  # held while the log is open: a stopped kawa keeps none
            os.close(lock_fd)

    def _connect(self) -> sqlite3.Connection:
        return connect(self.path, self._durability, self._max_size, _CACHED_STATEMENTS)

    def _serve(self, conn: sqlite3.Connection) -> None:
        jobs_queue = self.jobs
        while True:
            jobs = [jobs_queue.get()]
            while True:
                try:
                    jobs.append(jobs_queue.get_nowait())
                except queue.Empty:
                    break
            if self._full is not None:  # full mode: appends wait for a trim (module docs)
                refused = [job for job in jobs if job[0] == APPEND]
                if refused:
                    jobs = [job for job in jobs if job[0] != APPEND]
                    self._deliver(refused, [], self._full, Changes())
            if jobs:
                self._commit(conn, jobs)
            if any(job[0] == STOP for job in jobs):
                return

    def _commit(self, conn: sqlite3.Connection, jobs: list[Job]) -> None:
        """Run ``jobs`` in one transaction and hand the outcome to the loop."""
        changes = Changes()
        try:
            results = self._batch(conn, jobs, changes)
            if conn.in_transaction:  # else the batch was one statement, committed as it ran
                conn.execute("COMMIT")
        except Exception as exc:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            error = self._full_mode(exc) if _is_full(exc) else exc
            appends = [job for job in jobs if job[0] == APPEND]
            if appends and len(appends) < len(jobs):  # the others may well succeed alone
                self._deliver(appends, [], error, Changes())
                self._commit(conn, [job for job in jobs if job[0] != APPEND])
            else:
                self._deliver(jobs, [], error, changes)
            return
        s = self._state
        s.ids.update(changes.ids)
        s.last.update(changes.last)
        for consumer, saved in changes.cursors.items():
            if saved is None:
                s.cursors.pop(consumer, None)
            else:
                s.cursors[consumer] = saved
        if changes.removed or changes.trimmed:
            self._full = None  # appends may try again (see the module docs)
        if self._was_full and changes.last:
            self._was_full = False
            log.info("event log %s stores events again", self.path)
        if changes.vacuumed:  # a checkpoint writes the smaller file back (and truncates it)
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if (changes.removed or changes.trimmed or changes.vacuumed) and not self._reserve.held:
            self._reserve.keep()
        self._deliver(jobs, results, None, changes)

    def _full_mode(self, cause: BaseException) -> InsufficientStorageError:
        """Enter full mode (module docs); the error refused appends fail with."""
        limit = f"; its limit is {self._max_size} bytes" if self._max_size > 0 else ""
        error = InsufficientStorageError(
            f"the event log {self.path} is full ({cause}{limit}): nothing was written. "
            "Delivered events are trimmed; events are accepted again as soon as there is "
            "room, without a restart"
        )
        self._full = error
        freed = self._reserve.held and self._reserve.release()
        if freed or not self._was_full:
            self._was_full = True
            note = f"; gave its {self._reserve.size} bytes reserve back" if freed else ""
            log.warning(
                "event log %s is full (%s)%s; appends are refused until a trim makes room",
                self.path,
                cause,
                note,
            )
        return error

    def _deliver(
        self, jobs: list[Job], results: list[Any], error: BaseException | None, ch: Changes
    ) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            self._loop.call_soon_threadsafe(self._committed, jobs, results, error, ch)

    # -- one transaction -----------------------------------------------------------------------

    def _batch(self, conn: sqlite3.Connection, jobs: list[Job], ch: Changes) -> list[Any]:
        s = self._state
        now = self._now = ch.appended_at = max(self._clock(), self._now)
        rows: list[tuple[int, int, float, bytes]] = []
        results: list[Any] = []
        # (a transaction left open by a failed ROLLBACK is not committed by a lone INSERT)
        if not conn.in_transaction and self._one_statement(jobs, now, rows, results, ch):
            _insert(conn, rows)
            return results
        conn.execute("BEGIN IMMEDIATE")
        for op, _, a, b, c in jobs:
            if op == APPEND:
                sid = self._stream_id(conn, a, ch)
                first = (ch.last.get(a) or s.last.get(a, 0)) + 1
                end = first + len(b)
                rows.extend(zip(repeat(sid), range(first, end), repeat(now), b))
                ch.last[a] = end - 1
                results.append(list(range(first, end)))
                continue
            if rows:
                self._flush(conn, rows)
            if op == SAVE_CURSOR:
                sid = self._stream_id(conn, b, ch)
                conn.execute(
                    "INSERT INTO cursors (consumer, stream_id, seq) VALUES (?, ?, ?)"
                    " ON CONFLICT (consumer) DO UPDATE SET stream_id = excluded.stream_id,"
                    " seq = excluded.seq",
                    (a, sid, c),
                )
                ch.cursors[a] = (b, c)
                results.append(None)
            elif op == DELETE_CURSOR:
                conn.execute("DELETE FROM cursors WHERE consumer = ?", (a,))
                ch.cursors[a] = None
                results.append(None)
            elif op == DELETE_STREAM:
                sid_or_none = ch.ids.get(a, s.ids.get(a))
                if sid_or_none is not None:  # a stream the log never had: nothing to drop
                    ch.removed = True
                    self._keep_last(conn, a, sid_or_none, ch)
                    conn.execute("DELETE FROM records WHERE stream_id = ?", (sid_or_none,))
                    conn.execute("DELETE FROM cursors WHERE stream_id = ?", (sid_or_none,))
                    for consumer, saved in self._cursors(ch).items():
                        if saved[0] == a:
                            ch.cursors[consumer] = None
                results.append(None)
            elif op == TRIM:
                ch.trimmed = True
                step = self._trim(conn, a, b, ch)
                ch.removed = ch.removed or step[0] > 0
                results.append(step)
            elif op == VACUUM:
                more = self._vacuum(conn)
                ch.vacuumed = not more
                results.append(more)
            else:  # STOP
                results.append(None)
        if rows:
            self._flush(conn, rows)
        return results

    def _one_statement(
        self,
        jobs: list[Job],
        now: float,
        rows: list[tuple[int, int, float, bytes]],
        results: list[Any],
        ch: Changes,
    ) -> bool:
        """Fill ``rows``, ``results`` and ``ch`` for a batch that one INSERT stores, in
        autocommit (its own transaction: no BEGIN and COMMIT statements, each a few GIL
        hand-overs; see :data:`_INSERTS`), and say so; ``False``, having changed nothing, for
        any other batch: one with another job, a new stream, or too many rows."""
        ids = self._state.ids
        count = 0
        for op, _, a, b, _ in jobs:
            if op != APPEND or a not in ids:
                return False
            count += len(b)
        if count > _MOST_ROWS:
            return False
        last = self._state.last
        for _, _, a, b, _ in jobs:
            first = ch.last.get(a, last.get(a, 0)) + 1
            end = first + len(b)
            rows.extend(zip(repeat(ids[a]), range(first, end), repeat(now), b))
            ch.last[a] = end - 1
            results.append(list(range(first, end)))
        return True

    def _stream_id(self, conn: sqlite3.Connection, name: str, ch: Changes) -> int:
        sid = self._state.ids.get(name)
        if sid is None:
            sid = ch.ids.get(name)
            if sid is None:
                cur = conn.execute("INSERT INTO streams (name, last_seq) VALUES (?, 0)", (name,))
                sid = ch.ids[name] = int(cur.lastrowid or 0)
        return sid

    def _flush(self, conn: sqlite3.Connection, rows: list[tuple[int, int, float, bytes]]) -> None:
        for start in range(0, len(rows), _MOST_ROWS):
            _insert(conn, rows[start : start + _MOST_ROWS])
        rows.clear()

    def _keep_last(self, conn: sqlite3.Connection, name: str, sid: int, ch: Changes) -> None:
        """Write ``name``'s high-water mark to its ``streams`` row before records of it are
        deleted. It is written only then: while a stream's records are there, the last of
        them is its mark (opening the log takes the larger of the two), so an append needs
        no second statement to keep it."""
        last = ch.last.get(name, self._state.last.get(name, 0))
        conn.execute("UPDATE streams SET last_seq = ? WHERE id = ?", (last, sid))

    def _cursors(self, ch: Changes) -> dict[str, tuple[str, int]]:
        """The cursors as this batch has left them so far."""
        merged = dict(self._state.cursors)
        for consumer, saved in ch.cursors.items():
            if saved is None:
                merged.pop(consumer, None)
            else:
                merged[consumer] = saved
        return merged

    def _trim(
        self, conn: sqlite3.Connection, default: float, cutoffs: dict[str, float], ch: Changes
    ) -> tuple[int, bool]:
        """Delete up to :data:`TRIM_STEP` records older than their stream's cutoff (in
        ``cutoffs``, else ``default``); returns ``(deleted, finished)``."""
        s = self._state
        floors: dict[str, int] = {}
        for stream, seq in self._cursors(ch).values():
            floors[stream] = min(seq, floors.get(stream, seq))
        budget = TRIM_STEP
        room = TRIM_STEP_BYTES
        deleted = 0
        for name, sid in (s.ids | ch.ids).items():
            floor = floors.get(name, ch.last.get(name, s.last.get(name, 0)))
            cutoff = cutoffs.get(name, default)
            boundary = 0
            full = False
            scan = conn.execute(  # length() reads a record's header, not its payload
                "SELECT seq, appended_at, length(payload) FROM records"
                " WHERE stream_id = ? AND seq <= ? ORDER BY seq LIMIT ?",
                (sid, floor, budget),
            )
            for seq, appended_at, size in scan:  # appended_at never decreases: stop at a young
                if appended_at >= cutoff:
                    break
                if room <= 0 and (boundary or deleted):  # the step is full (one record at least)
                    full = True
                    break
                boundary = seq
                room -= size or 0
            scan.close()
            if boundary:
                self._keep_last(conn, name, sid, ch)
                cur = conn.execute(
                    "DELETE FROM records WHERE stream_id = ? AND seq <= ?", (sid, boundary)
                )
                deleted += cur.rowcount
                budget -= cur.rowcount
            if budget <= 0 or full:
                return deleted, False
        return deleted, True

    def _vacuum(self, conn: sqlite3.Connection) -> bool:
        """Give up to :data:`VACUUM_STEP` free pages back; whether more should go (there are
        more than :data:`VACUUM_KEEP` and this step gave some: a log whose conversion to the
        incremental mode failed gives none, and ends at once)."""
        free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
        for _ in range(min(VACUUM_STEP, free - VACUUM_KEEP)):
            conn.execute("PRAGMA incremental_vacuum")  # Python's sqlite3: one page per call
        left = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
        return VACUUM_KEEP < left < free


def _insert(conn: sqlite3.Connection, rows: list[tuple[int, int, float, bytes]]) -> None:
    """Store ``rows`` (at most :data:`_MOST_ROWS`) with one statement. ``executemany`` with
    the one parameter set: ``execute`` also asks SQLite for the last row id, one more GIL
    hand-over (five instead of four per statement in Python 3.11's sqlite3)."""
    conn.executemany(_INSERTS[len(rows)], (list(chain.from_iterable(rows)),))


def _is_full(exc: BaseException) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
