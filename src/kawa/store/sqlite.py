"""SQLite backend of the resource store: one file, nothing to install.

Resources change rarely (people and controllers write them, events do not), so every
operation runs on one connection in one worker thread, serialised, and each write is its own
transaction committed with ``synchronous=FULL``. Each change is also appended to a
``changes`` table so that a watch can resume from a resourceVersion after a restart; changes
are fanned out to live watchers in-process. The history is capped twice: by count (at least
the last ``history`` changes are kept; older ones are deleted in steps of a tenth of
``history``, at most 1000) and by bytes (beyond ``history_bytes`` of bodies the oldest
changes go, down to nine tenths of it; the newest change always stays). A watch resuming
from a change no longer kept gets :class:`~kawa.errors.GoneError` and lists again.

A full store (``database or disk is full``: the disk, or ``max_size`` bytes when given)
writes nothing and raises :class:`~kawa.errors.InsufficientStorageError` (the API answers
507). Before it gives up, a write drops the older half of the change history, the only thing
the store may free by itself, and tries once more; so deleting objects works on a full
store, and every write works again as soon as there is room, without a restart.

The file is created 0600 (:mod:`kawa.files`); SQLite gives its ``-wal`` and ``-shm`` the
same mode.

One process uses a file at a time: the resourceVersion counter and the watchers live in this
object, so a second process writing the same file would neither be seen by these watches nor
keep the counter (``kawa up`` opens the event log's file lock in the same data dir, which
refuses a second kawa).

Called by the API server, the controllers and the broker data plane through
:class:`kawa.store.base.ResourceStore`.
"""

from __future__ import annotations

import asyncio
import builtins
import concurrent.futures
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

import orjson

from kawa import files
from kawa.errors import AlreadyExistsError, GoneError, InsufficientStorageError
from kawa.store import bookkeeping, finalizers
from kawa.store.base import ListResult, Obj, ResourceKey, WatchEvent, WatchType

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    rv INTEGER NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (resource, namespace, name)
);
CREATE TABLE IF NOT EXISTS changes (
    rv INTEGER PRIMARY KEY, resource TEXT NOT NULL, namespace TEXT NOT NULL,
    type TEXT NOT NULL, body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

DEFAULT_HISTORY: Final = 10_000
"""Changes kept at least for watches to resume from (unless the byte cap is reached first)."""
DEFAULT_HISTORY_BYTES: Final = 64 * 1024 * 1024
"""Bytes of change bodies kept at most: ten thousand changes of 6.5 KiB, or sixty-four of
1 MiB (a Secret or ConfigMap near Kubernetes' size limit)."""


class _Watcher:
    __slots__ = ("namespace", "queue", "resource")

    def __init__(self, resource: str, namespace: str | None) -> None:
        self.resource = resource
        self.namespace = namespace
        self.queue: asyncio.Queue[WatchEvent | None] = asyncio.Queue()

    def wants(self, resource: str, namespace: str) -> bool:
        return resource == self.resource and self.namespace in (None, namespace)


class SqliteResourceStore:
    """The embedded :class:`~kawa.store.base.ResourceStore` (``path`` may be ``:memory:``)."""

    def __init__(
        self,
        path: str,
        *,
        history: int = DEFAULT_HISTORY,
        history_bytes: int = DEFAULT_HISTORY_BYTES,
        max_size: int = 0,
    ) -> None:
        """``max_size``: the most bytes the file may take (0: as much as the disk has)."""
        self.path = path
        self._history = history
        self._history_bytes = history_bytes
        self._max_size = max_size
        self._trim_every = max(1, min(1000, history // 10))
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="kawa-store")
        self._conn = self._pool.submit(self._open, path, max_size).result()
        self._rv = self._pool.submit(self._load_rv).result()
        self._kept = self._pool.submit(self._load_kept).result()
        """Bytes of change bodies in the history (only the worker thread changes it)."""
        self._watchers: set[_Watcher] = set()
        self._lock = asyncio.Lock()

    @staticmethod
    def _open(path: str, max_size: int) -> sqlite3.Connection:
        if path != ":memory:":
            files.create_private(Path(path))
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        if max_size > 0:
            page_size = conn.execute("PRAGMA page_size").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {max(1, max_size // page_size)}")
        conn.executescript(_SCHEMA)
        return conn

    def _load_rv(self) -> int:
        row = self._conn.execute("SELECT value FROM meta WHERE key='rv'").fetchone()
        return int(row[0]) if row else 0

    def _load_kept(self) -> int:
        return int(self._conn.execute("SELECT TOTAL(LENGTH(body)) FROM changes").fetchone()[0])

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    # -- reads -----------------------------------------------------------------------------

    async def get(self, key: ResourceKey) -> Obj:
        row = await self._run(self._get_row, key)
        if row is None:
            raise bookkeeping.not_found(key)
        return orjson.loads(row)  # type: ignore[no-any-return]

    def _get_row(self, key: ResourceKey) -> bytes | None:
        row = self._conn.execute(
            "SELECT body FROM objects WHERE resource=? AND namespace=? AND name=?",
            (key.resource, key.namespace, key.name),
        ).fetchone()
        return None if row is None else bytes(row[0])

    async def list(self, resource: str, namespace: str | None = None) -> ListResult:
        rows, rv = await self._run(self._list_rows, resource, namespace)
        return ListResult([orjson.loads(r) for r in rows], rv)

    def _list_rows(self, resource: str, namespace: str | None) -> tuple[builtins.list[bytes], int]:
        if namespace is None:
            cur = self._conn.execute(
                "SELECT body FROM objects WHERE resource=? ORDER BY namespace, name", (resource,)
            )
        else:
            cur = self._conn.execute(
                "SELECT body FROM objects WHERE resource=? AND namespace=? ORDER BY name",
                (resource, namespace),
            )
        return [bytes(r[0]) for r in cur.fetchall()], self._rv

    # -- writes ----------------------------------------------------------------------------

    async def create(self, key: ResourceKey, obj: Obj, *, uid: str | None = None) -> Obj:
        async with self._lock:
            if await self._run(self._get_row, key) is not None:
                raise AlreadyExistsError(f"{key} already exists")
            return await self._commit(key, bookkeeping.for_create(key, obj, uid), "ADDED")

    async def update(
        self,
        key: ResourceKey,
        obj: Obj,
        *,
        status_only: bool = False,
        managed_fields: Sequence[Any] | None = None,
    ) -> Obj:
        async with self._lock:
            row = await self._run(self._get_row, key)
            if row is None:
                raise bookkeeping.not_found(key)
            old: Obj = orjson.loads(row)
            new = bookkeeping.for_update(
                key, old, obj, status_only=status_only, managed_fields=managed_fields
            )
            if new == old:
                return old
            if finalizers.finished(old, new):  # the last finalizer is gone: remove it
                removed = await self._commit(key, old, "DELETED")
                new["metadata"]["resourceVersion"] = removed["metadata"]["resourceVersion"]
                return new
            return await self._commit(key, new, "MODIFIED")

    async def delete(self, key: ResourceKey) -> Obj:
        async with self._lock:
            row = await self._run(self._get_row, key)
            if row is None:
                raise bookkeeping.not_found(key)
            old: Obj = orjson.loads(row)
            marked = bookkeeping.marked_for_deletion(old)
            if marked is None:
                return await self._commit(key, old, "DELETED")
            # kept, marked deleting, until its finalizers go
            return old if marked == old else await self._commit(key, marked, "MODIFIED")

    async def _commit(self, key: ResourceKey, obj: Obj, kind: WatchType) -> Obj:
        """Write, advance the resourceVersion and notify watchers, as one step that a cancelled
        caller cannot cut in half: once the row may be on disk, the version must advance (or
        every later write collides with it) and watchers must hear of it. A cancelled caller
        waits for that step to end (holding the lock), then sees its cancellation."""
        task = asyncio.ensure_future(self._commit_now(key, obj, kind))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            while not task.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait([task])
            raise

    async def _commit_now(self, key: ResourceKey, obj: Obj, kind: WatchType) -> Obj:
        rv = self._rv + 1
        obj["metadata"]["resourceVersion"] = str(rv)
        body = orjson.dumps(obj)
        await self._run(self._write, key, body, rv, kind)
        self._rv = rv
        event = WatchEvent(kind, obj, rv)
        for watcher in list(self._watchers):
            if watcher.wants(key.resource, key.namespace):
                watcher.queue.put_nowait(event)
        stored: Obj = orjson.loads(body)  # the object as stored; a copy faster than deepcopy
        return stored

    def _write(self, key: ResourceKey, body: bytes, rv: int, kind: WatchType) -> None:
        try:
            self._kept = self._transaction(self._write_change, key, body, rv, kind)
        except sqlite3.Error as err:
            if not _is_full(err):
                raise
            try:  # free what the store may, then try once more
                freed = self._transaction(self._shed_history)
                if freed is not None:
                    self._kept -= freed
                    self._kept = self._transaction(self._write_change, key, body, rv, kind)
                    return
            except sqlite3.Error as again:
                if not _is_full(again):
                    raise
            raise InsufficientStorageError(
                f"cannot store {key}: the resource store is full ({err}: {self._where()}); "
                "free disk space or delete objects: writes work again as soon as there is "
                "room, without a restart"
            ) from None

    def _transaction(self, step: Callable[..., T], *args: Any) -> T:
        """Run ``step`` in a write transaction; committed, or rolled back if it fails (after
        ``SQLITE_FULL`` SQLite has rolled it back already)."""
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        try:
            result = step(*args)
            c.execute("COMMIT")
        except BaseException:
            if c.in_transaction:
                c.execute("ROLLBACK")
            raise
        return result

    def _write_change(self, key: ResourceKey, body: bytes, rv: int, kind: WatchType) -> int:
        """Store one change; the bytes the history keeps after it."""
        c = self._conn
        if kind == "DELETED":
            c.execute(
                "DELETE FROM objects WHERE resource=? AND namespace=? AND name=?",
                (key.resource, key.namespace, key.name),
            )
        else:
            c.execute(
                "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?)",
                (key.resource, key.namespace, key.name, rv, body),
            )
        c.execute(
            "INSERT INTO changes VALUES (?, ?, ?, ?, ?)",
            (rv, key.resource, key.namespace, kind, body),
        )
        c.execute("INSERT OR REPLACE INTO meta VALUES ('rv', ?)", (rv,))
        kept = self._kept + len(body)
        if rv % self._trim_every == 0:
            kept -= self._drop_changes(rv - self._history)
        if kept > self._history_bytes:
            kept -= self._drop_changes(self._oldest_to_drop(kept - self._history_bytes * 9 // 10))
        return kept

    def _drop_changes(self, upto: int) -> int:
        """Delete the changes at or below ``upto``; the bytes of their bodies."""
        c = self._conn
        (size,) = c.execute(
            "SELECT TOTAL(LENGTH(body)) FROM changes WHERE rv <= ?", (upto,)
        ).fetchone()
        c.execute("DELETE FROM changes WHERE rv <= ?", (upto,))
        return int(size)

    def _oldest_to_drop(self, excess: int) -> int:
        """The rv up to which the oldest changes hold ``excess`` bytes (the newest stays)."""
        c = self._conn
        newest = c.execute("SELECT MAX(rv) FROM changes").fetchone()[0]
        upto, freed = 0, 0
        for rv, size in c.execute("SELECT rv, LENGTH(body) FROM changes ORDER BY rv"):
            if freed >= excess or rv == newest:
                break
            upto, freed = rv, freed + size
        return upto

    def _shed_history(self) -> int | None:
        """Delete the older half of the change history; the bytes freed (None: nothing to
        delete)."""
        c = self._conn
        (count,) = c.execute("SELECT COUNT(*) FROM changes").fetchone()
        if count < 2:
            return None
        (upto,) = c.execute(
            "SELECT rv FROM changes ORDER BY rv LIMIT 1 OFFSET ?", (count // 2 - 1,)
        ).fetchone()
        return self._drop_changes(upto)

    def _where(self) -> str:
        limit = f", at most {self._max_size} bytes" if self._max_size > 0 else ""
        return f"{self.path}{limit}"

    # -- watch -----------------------------------------------------------------------------

    async def watch(
        self, resource: str, namespace: str | None = None, since: int | None = None
    ) -> AsyncIterator[WatchEvent]:
        watcher = _Watcher(resource, namespace)
        self._watchers.add(watcher)
        try:
            if since is not None and since < self._rv:
                backlog = await self._run(self._changes_since, resource, namespace, since)
                last = since
                for event in backlog:
                    last = event.resource_version
                    yield event
                # Drop live events already replayed from the backlog.
                while True:
                    event_or_none = await watcher.queue.get()
                    if event_or_none is None:
                        return
                    if event_or_none.resource_version > last:
                        yield event_or_none
                        break
            while True:
                item = await watcher.queue.get()
                if item is None:
                    return
                yield item
        finally:
            self._watchers.discard(watcher)

    def _changes_since(
        self, resource: str, namespace: str | None, since: int
    ) -> builtins.list[WatchEvent]:
        oldest = self._conn.execute("SELECT MIN(rv) FROM changes").fetchone()[0]
        if oldest is not None and since + 1 < oldest:
            raise GoneError(
                f"resourceVersion {since} is too old (the oldest retained is {oldest - 1})"
            )
        rows = self._conn.execute(
            "SELECT rv, namespace, type, body FROM changes WHERE rv > ? AND resource = ? "
            "ORDER BY rv",
            (since, resource),
        ).fetchall()
        return [
            WatchEvent(kind, orjson.loads(body), rv)
            for rv, ns, kind, body in rows
            if namespace is None or ns == namespace
        ]

    async def close(self) -> None:
        for watcher in list(self._watchers):
            watcher.queue.put_nowait(None)
        await self._run(self._conn.close)
        self._pool.shutdown(wait=True)


def _is_full(err: sqlite3.Error) -> bool:
    return getattr(err, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
