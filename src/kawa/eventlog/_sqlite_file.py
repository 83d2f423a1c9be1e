"""Opening the file of :class:`kawa.eventlog.sqlite.SqliteEventLog` for its writer thread.

The lock that makes one process the log's owner, the write connection with kawa's settings
(WAL, the durability's ``synchronous``, ``auto_vacuum = INCREMENTAL``, the size limit), the
schema and its version, the one-time rewrite of a log from before incremental vacuum, and what
the file holds when it opens (:class:`State`). Only :mod:`kawa.eventlog._sqlite_writer` uses
this module.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from kawa import files
from kawa.errors import ConflictError, PermanentError, TemporaryError

if sys.platform != "win32":
    import fcntl

log = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 1
_SYNCHRONOUS: Final = {"full": "FULL", "normal": "NORMAL", "off": "OFF"}
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS streams (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    last_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    stream_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    appended_at REAL NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (stream_id, seq)
);
CREATE TABLE IF NOT EXISTS cursors (
    consumer TEXT PRIMARY KEY,
    stream_id INTEGER NOT NULL,
    seq INTEGER NOT NULL
) WITHOUT ROWID;
"""


@dataclass(slots=True)
class State:
    """What the log holds: stream ids and high-water marks by name, cursors by consumer."""

    ids: dict[str, int] = field(default_factory=dict)
    last: dict[str, int] = field(default_factory=dict)
    cursors: dict[str, tuple[str, int]] = field(default_factory=dict)


def lock(path: str) -> int:
    """Take ``<path>.lock`` for this process (its fd); ConflictError when another has it."""
    fd = files.private(path + ".lock", os.O_RDWR | os.O_CREAT)
    if sys.platform != "win32":
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ConflictError(f"the event log {path} is in use by another process") from None
    return fd


def connect(
    path: str, durability: str, max_size: int, cached_statements: int
) -> sqlite3.Connection:
    """The write connection to ``path``, set up, with the schema in place."""
    files.create_private(Path(path))  # SQLite gives its -wal and -shm the same mode
    conn = sqlite3.connect(
        path,
        isolation_level=None,
        check_same_thread=False,
        cached_statements=cached_statements,
    )
    try:
        fresh = conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0
        if fresh:  # only an empty database takes the mode without a VACUUM
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise TemporaryError(f"{path}: cannot switch to WAL mode (got {mode})")
        conn.execute(f"PRAGMA synchronous = {_SYNCHRONOUS[durability]}")
        conn.execute("PRAGMA journal_size_limit = 67108864")
        if max_size > 0:
            page_size = conn.execute("PRAGMA page_size").fetchone()[0]
            pages = max(1, max_size // page_size)
            conn.execute(f"PRAGMA max_page_count = {pages}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise PermanentError(f"{path} was written by a newer kawa (schema {version})")
        if not fresh and conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
            _convert_to_incremental(conn, path)
        conn.executescript(_SCHEMA)
        if version != SCHEMA_VERSION:  # a write: an existing log opens on a full disk
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.close()
        raise
    return conn


def load(conn: sqlite3.Connection) -> tuple[State, float]:
    """What the file holds, and the latest ``appended_at`` of its records (0.0 if none). A
    stream's high-water mark is the larger of its ``last_seq`` and its last record's seq
    (``last_seq`` is written only before records are deleted: ADR 0078)."""
    state = State()
    now = 0.0
    names: dict[int, str] = {}
    for sid, name, last in conn.execute("SELECT id, name, last_seq FROM streams"):
        names[sid] = name
        state.ids[name] = sid
        row = conn.execute(
            "SELECT seq, appended_at FROM records WHERE stream_id = ? ORDER BY seq DESC LIMIT 1",
            (sid,),
        ).fetchone()
        state.last[name] = max(last, row[0]) if row else last
        if row:
            now = max(now, row[1])
    for consumer, sid, seq in conn.execute("SELECT consumer, stream_id, seq FROM cursors"):
        state.cursors[consumer] = (names[sid], seq)
    return state, now


def _convert_to_incremental(conn: sqlite3.Connection, path: str) -> None:
    """Turn a log written by an older kawa into ``auto_vacuum = INCREMENTAL`` (a VACUUM,
    once: it rewrites the file through the WAL, so it needs twice its size free)."""
    size = os.stat(path).st_size
    free = _free_space(path)
    if free is not None and free < 2 * size:
        log.warning(
            "event log %s: not rewritten to give space back after trims (it needs %d bytes "
            "free, the disk has %d); it keeps its size after trims",
            path,
            2 * size,
            free,
        )
        return
    log.info("event log %s: rewriting it once so that it can give space back", path)
    try:
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("VACUUM")
    except sqlite3.Error as err:
        with contextlib.suppress(sqlite3.Error):  # the WAL it grew goes back to the disk
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        log.warning(
            "event log %s: could not rewrite it (%s); it keeps its size after trims", path, err
        )


def _free_space(path: str) -> int | None:
    """Bytes free on the disk of ``path`` (None where the OS does not say)."""
    try:
        disk = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except (OSError, AttributeError):
        return None
    return disk.f_bavail * disk.f_frsize
