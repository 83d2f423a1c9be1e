"""The SQLite event log when it is full, and the space it gives back.

A full log is made two ways: ``max_size`` (SQLite's ``max_page_count``: the very
``SQLITE_FULL`` a full disk gives, deterministically), and, where the tests run as root, a
real full disk (:mod:`tests.full_disk`), where only the reserve file lets a trim through.
Every test shows the whole cycle: full, refused with :class:`InsufficientStorageError`,
room made, and appends stored again by the same open log (no restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import pytest

from kawa.errors import InsufficientStorageError, ValidationError
from kawa.eventlog import SqliteEventLog, _sqlite_writer

from ..full_disk import free, small_disk

KIB = 1024
MIB = 1024 * KIB


def payload(i: int, size: int = 2 * KIB) -> bytes:
    return (b"%08d" % i) * (size // 8)


async def fill(log: SqliteEventLog, stream: str = "s", batch: int = 20) -> int:
    """Append batches until the log is full; the last seq stored."""
    for i in range(1_000_000):
        try:
            await log.append(stream, [payload(i * batch + j) for j in range(batch)])
        except InsufficientStorageError:
            return await log.last_seq(stream)
    raise AssertionError("the log never filled up")


def pragma(path: Path, name: str) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return int(conn.execute(f"PRAGMA {name}").fetchone()[0])


async def test_a_full_log_refuses_appends_then_stores_again_after_a_trim(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    log = await SqliteEventLog.open(str(path), durability="off", max_size=MIB, reserve=0)
    try:
        last = await fill(log)
        assert last > 100
        with pytest.raises(InsufficientStorageError) as refused:
            await log.append("s", [b"one more"])
        message = str(refused.value)
        assert f"the event log {path} is full (database or disk is full" in message
        assert f"its limit is {MIB} bytes" in message
        assert "accepted again as soon as there is room, without a restart" in message
        assert await log.last_seq("s") == last  # nothing of the refused appends is kept

        # what frees space still works while full: a consumer is done with half the stream
        await log.save_cursor("trigger", "s", last // 2)
        assert await log.load_cursor("trigger") == last // 2
        assert await log.trim(0) == last // 2

        seqs = await log.append("s", [b"after the trim"])
        assert seqs == [last + 1]  # seqs go on, the same open log
        records = await log.read("s", last // 2, 10)
        assert [r.seq for r in records] == list(range(last // 2 + 1, last // 2 + 11))
    finally:
        await log.close()


async def test_a_failed_append_does_not_take_a_cursor_save_with_it(tmp_path: Path) -> None:
    log = await SqliteEventLog.open(str(tmp_path / "events.db"), max_size=MIB, reserve=0)
    try:
        await log.append("s", [b"a", b"b"])
        # queued in the same turn of the loop: the writer takes both into one batch
        too_big = log.append("s", [payload(0, 2 * MIB)])
        save = log.save_cursor("trigger", "s", 2)
        results = await asyncio.gather(too_big, save, return_exceptions=True)
        assert isinstance(results[0], InsufficientStorageError)
        assert results[1] is None
        assert await log.load_cursor("trigger") == 2
    finally:
        await log.close()
    log = await SqliteEventLog.open(str(tmp_path / "events.db"), reserve=0)
    try:  # the cursor was committed, not only remembered
        assert await log.load_cursor("trigger") == 2
    finally:
        await log.close()


async def test_appends_are_tried_again_after_any_trim(tmp_path: Path) -> None:
    """Room may come from elsewhere (a larger disk, a deleted file): a trim that deletes
    nothing still lets appends try again. Here the room is a deleted stream."""
    log = await SqliteEventLog.open(str(tmp_path / "events.db"), max_size=MIB, reserve=0)
    try:
        await fill(log, "a")
        await log.delete_stream("a")
        assert await log.trim(0) == 0
        assert await log.append("b", [b"x"]) == [1]
    finally:
        await log.close()


async def test_the_log_gives_space_back_after_a_trim(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    log = await SqliteEventLog.open(str(path), durability="off", reserve=0)
    try:
        for i in range(40):  # 16 MiB
            await log.append("s", [payload(i * 200 + j) for j in range(200)])
        await log.save_cursor("trigger", "s", await log.last_seq("s") - 10)
        big = path.stat().st_size
        assert big > 16 * MIB

        assert await log.trim(0) == 40 * 200 - 10

        small = path.stat().st_size
        keep = _sqlite_writer.VACUUM_KEEP * pragma(path, "page_size")
        assert small < keep + MIB, f"{big} -> {small} bytes"
        assert pragma(path, "freelist_count") <= _sqlite_writer.VACUUM_KEEP
        records = await log.read("s", 0, 100)
        assert [r.payload for r in records] == [payload(40 * 200 - 10 + j) for j in range(10)]
    finally:
        await log.close()


async def test_a_log_written_by_an_older_kawa_is_converted_once(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    log = await SqliteEventLog.open(str(path), reserve=0)
    await log.append("s", [b"kept"])
    await log.close()
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA auto_vacuum = NONE")  # as kawa wrote it before
        conn.execute("VACUUM")
    assert pragma(path, "auto_vacuum") == 0

    log = await SqliteEventLog.open(str(path), reserve=0)
    try:
        assert pragma(path, "auto_vacuum") == 2  # incremental
        assert [r.payload for r in await log.read("s", 0, 10)] == [b"kept"]
    finally:
        await log.close()


async def test_the_reserve_is_held_while_the_log_is_open(tmp_path: Path) -> None:
    reserve = tmp_path / "events.db.reserve"
    log = await SqliteEventLog.open(str(tmp_path / "events.db"), reserve=MIB)
    try:
        assert reserve.stat().st_size == MIB
        assert reserve.stat().st_blocks * 512 >= MIB  # really allocated, not a sparse file
    finally:
        await log.close()
    assert not reserve.exists()  # a stopped kawa keeps no space


def test_sizes_are_checked() -> None:
    with pytest.raises(ValidationError) as info:
        SqliteEventLog("events.db", max_size=-1, reserve=True)
    assert [e.path for e in info.value.errors] == ["maxSize", "reserve"]


# -- a real full disk -----------------------------------------------------------------------


async def test_a_full_disk_is_recovered_with_the_reserve(tmp_path: Path) -> None:
    with small_disk(tmp_path) as disk:
        path = disk / "events.db"
        reserve = disk / "events.db.reserve"
        log = await SqliteEventLog.open(str(path), durability="normal", reserve=4 * MIB)
        try:
            assert reserve.stat().st_size == 4 * MIB
            last = await fill(log)
            assert not reserve.exists()  # given back to the disk for what follows
            with pytest.raises(InsufficientStorageError):
                await log.append("s", [b"refused"])

            await log.save_cursor("trigger", "s", last)
            assert await log.trim(0) == last  # room for the trim's own pages: the reserve

            assert await log.append("s", [b"stored again"]) == [last + 1]
            assert reserve.stat().st_size == 4 * MIB  # taken again, the disk has room
            assert free(disk) > 8 * MIB
        finally:
            await log.close()


async def test_a_log_too_big_to_convert_keeps_working(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Converting an older log needs as much free space again: without it the log keeps the
    old mode (and its size after trims), and trims still end."""
    with small_disk(tmp_path) as disk:
        path = disk / "events.db"
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("CREATE TABLE filler (x BLOB)")
            conn.execute("INSERT INTO filler VALUES (zeroblob(9 * 1024 * 1024))")
        log = await SqliteEventLog.open(str(path), durability="off", reserve=0)
        try:
            assert pragma(path, "auto_vacuum") == 0
            assert "not rewritten to give space back after trims (it needs" in caplog.text
            await log.append("s", [payload(i) for i in range(100)])
            await log.save_cursor("trigger", "s", 100)
            assert await asyncio.wait_for(log.trim(0), 30) == 100
            assert await log.append("s", [b"x"]) == [101]
        finally:
            await log.close()
