"""The EventLog contract against SQLite, plus what only a file can show: reopen and crash."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sqlite3
import sys
import threading
from pathlib import Path

import pytest

from kawa.errors import ConflictError, PermanentError, TemporaryError, ValidationError
from kawa.eventlog import EventLog, SqliteEventLog, _sqlite_writer

from .contract import EventLogContract, FakeClock, payloads

CHILD = Path(__file__).with_name("_crash_appender.py")


class TestSqliteEventLog(EventLogContract):
    async def open_log(self, tmp_path: Path, clock: FakeClock) -> EventLog:
        return await SqliteEventLog.open(str(tmp_path / "log.db"), clock=clock)


class TestSqliteEventLogDurabilityOff(EventLogContract):
    async def open_log(self, tmp_path: Path, clock: FakeClock) -> EventLog:
        return await SqliteEventLog.open(str(tmp_path / "log.db"), durability="off", clock=clock)


async def test_reopen_finds_records_cursors_and_continues_seqs(tmp_path: Path) -> None:
    path = str(tmp_path / "log.db")
    clock = FakeClock()
    log = await SqliteEventLog.open(path, clock=clock)
    await log.append("b1", payloads("e", 5))
    await log.append("b2", payloads("f", 2))
    await log.append("gone", payloads("g", 3))
    await log.save_cursor("trigger:1", "b1", 3)
    await log.save_cursor("trigger:2", "b2", 2)
    await log.delete_stream("gone")
    clock.advance(100)
    assert await log.trim(10) == 3 + 2  # b1 up to its cursor, all of b2
    await log.close()

    clock.advance(-50)  # the wall clock went back while we were down
    log = await SqliteEventLog.open(path, clock=clock)
    try:
        assert [r.payload for r in await log.read("b1", 0, 10)] == payloads("e", 5)[3:]
        assert await log.load_cursor("trigger:1") == 3
        assert await log.load_cursor("trigger:2") == 2
        assert (await log.last_seq("b1"), await log.last_seq("b2")) == (5, 2)
        assert await log.append("b1", [b"six"]) == [6]
        assert await log.append("b2", [b"three"]) == [3]  # high-water mark survived the trim
        assert await log.append("gone", [b"back"]) == [4]  # ... and the deletion
        records = await log.read("b1", 0, 10)
        assert records[-1].appended_at >= records[0].appended_at  # never goes back
    finally:
        await log.close()


async def test_concurrent_appends_are_group_committed(tmp_path: Path) -> None:
    ticks = itertools.count()  # the writer reads the clock once per transaction

    def clock() -> float:
        return float(next(ticks))

    log = await SqliteEventLog.open(str(tmp_path / "log.db"), clock=clock)
    try:
        await asyncio.gather(*(log.append("b1", [b"%d" % i]) for i in range(500)))
        records = await log.read("b1", 0, 1000)
        assert len(records) == 500
        transactions = len({r.appended_at for r in records})
        assert transactions < 100, f"{transactions} commits for 500 appends"
    finally:
        await log.close()


async def test_a_batch_larger_than_one_insert_statement_is_stored_whole_and_in_order(
    tmp_path: Path,
) -> None:
    # a transaction's rows go in with INSERTs of up to 128 rows each: sizes around that
    # bounds, several streams in one transaction, read back from the file (not the tail)
    path = str(tmp_path / "log.db")
    log = await SqliteEventLog.open(path)
    sizes = [1, 2, 3, 127, 128, 129, 255, 256, 300]
    try:
        seqs = await asyncio.gather(
            *(log.append(f"s{n}", payloads(f"p{n}-", n)) for n in sizes),
            log.append("s1", payloads("again-", 5)),
        )
        assert seqs[:-1] == [list(range(1, n + 1)) for n in sizes]
        assert seqs[-1] == [2, 3, 4, 5, 6]
    finally:
        await log.close()
    log = await SqliteEventLog.open(path)
    try:
        for n in sizes:
            records = await log.read(f"s{n}", 0, 1000)
            expected = payloads(f"p{n}-", n) + (payloads("again-", 5) if n == 1 else [])
            assert [r.payload for r in records] == expected
            assert [r.seq for r in records] == list(range(1, len(expected) + 1))
    finally:
        await log.close()


async def test_a_group_commit_of_appends_is_one_statement_and_its_own_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # each statement costs the writer GIL hand-overs with the busy event loop (issue 18): a
    # batch of appends to known streams is one INSERT in autocommit, with no BEGIN, COMMIT or
    # high-water-mark UPDATE; a new stream's batch still runs in an explicit transaction
    statements: list[str] = []
    connect = _sqlite_writer.Writer._connect

    def traced(self: _sqlite_writer.Writer) -> sqlite3.Connection:
        conn = connect(self)
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(_sqlite_writer.Writer, "_connect", traced)
    path = str(tmp_path / "log.db")
    log = await SqliteEventLog.open(path)
    statements.clear()  # opening reads what the file holds
    try:
        await log.append("b1", [b"first"])
        assert statements[0] == "BEGIN IMMEDIATE"
        assert statements[-1] == "COMMIT"
        await log.append("b2", [b"first"])
        statements.clear()
        await asyncio.gather(
            *(log.append(f"b{1 + i % 2}", payloads(f"p{i}-", 1 + i % 3)) for i in range(40))
        )
        assert statements
        assert all(s.startswith("INSERT INTO records ") for s in statements), statements
        assert len(statements) < 40  # grouped, one statement per group
    finally:
        await log.close()
    log = await SqliteEventLog.open(path)
    try:
        assert await log.last_seq("b1") == 1 + sum(1 + i % 3 for i in range(0, 40, 2))
        assert await log.last_seq("b2") == 1 + sum(1 + i % 3 for i in range(1, 40, 2))
    finally:
        await log.close()


async def test_a_failed_commit_fails_its_appends_and_leaves_no_trace(tmp_path: Path) -> None:
    log = await SqliteEventLog.open(str(tmp_path / "log.db"))
    try:
        await log.append("b1", [b"a"])
        with pytest.raises(TemporaryError):
            await log.append("b1", [object()])  # type: ignore[list-item]  # cannot be stored
        assert await log.last_seq("b1") == 1
        # a batch shares the fate of its transaction: all of it or nothing is stored
        good = log.append("b1", [b"b"])
        bad = log.append("b2", [object()])  # type: ignore[list-item]
        results = await asyncio.gather(good, bad, return_exceptions=True)
        assert isinstance(results[1], TemporaryError)
        stored = [b"a"] if isinstance(results[0], TemporaryError) else [b"a", b"b"]
        assert await log.last_seq("b2") == 0
        assert await log.append("b2", [b"x"]) == [1]
        assert await log.append("b1", [b"c"]) == [len(stored) + 1]
        assert [r.payload for r in await log.read("b1", 0, 10)] == [*stored, b"c"]
    finally:
        await log.close()


async def test_one_process_owns_the_file(tmp_path: Path) -> None:
    path = str(tmp_path / "log.db")
    log = await SqliteEventLog.open(path)
    try:
        with pytest.raises(ConflictError):
            await SqliteEventLog.open(path)
    finally:
        await log.close()
    again = await SqliteEventLog.open(path)
    await again.close()


async def test_a_closed_log_refuses_work(tmp_path: Path) -> None:
    log = await SqliteEventLog.open(str(tmp_path / "log.db"))
    await log.append("b1", [b"a"])
    waiter = asyncio.create_task(log.wait("b1", 1, 30))
    await asyncio.sleep(0)  # one turn of the loop: the waiter waits
    await log.close()
    assert await waiter is False
    assert not [t for t in threading.enumerate() if t.name.startswith("kawa-eventlog")]
    with pytest.raises(PermanentError):
        await log.append("b1", [b"b"])
    with pytest.raises(PermanentError):
        await log.read("b1", 0, 10)
    await log.close()  # closing twice is fine


def test_bad_settings_are_reported_together() -> None:
    with pytest.raises(ValidationError) as info:
        SqliteEventLog(":memory:", durability="sometimes")  # type: ignore[arg-type]
    assert [e.path for e in info.value.errors] == ["path", "durability"]


async def test_a_second_process_cannot_open_the_log_while_one_has_it(tmp_path: Path) -> None:
    # The embedded log serves one process, so its wait never has to notice another's appends.
    path = str(tmp_path / "log.db")
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(CHILD), path, "off", stdout=asyncio.subprocess.PIPE
    )
    assert child.stdout is not None
    try:
        async with asyncio.timeout(30):
            assert await child.stdout.readline() == b"ready\n"
            first = (await child.stdout.readline()).split()
            with pytest.raises(ConflictError):
                await SqliteEventLog.open(path)
            child.terminate()
            await child.stdout.read()
            await child.wait()
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    log = await SqliteEventLog.open(path)  # the lock went with the process
    try:
        assert [r.payload for r in await log.read("crash", int(first[0]) - 1, 1)] == [first[1]]
    finally:
        await log.close()


@pytest.mark.slow
@pytest.mark.parametrize("durability", ["full", "normal"])
async def test_no_acknowledged_event_is_lost_when_the_process_is_killed(
    tmp_path: Path, durability: str
) -> None:
    path = str(tmp_path / "log.db")
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(CHILD), path, durability, stdout=asyncio.subprocess.PIPE
    )
    assert child.stdout is not None
    acked: dict[int, bytes] = {}
    cursor = 0
    try:
        async with asyncio.timeout(60):
            assert await child.stdout.readline() == b"ready\n"
            while len(acked) < 3000 or cursor == 0:
                line = await child.stdout.readline()
                assert line, "the child died"
                word, value = line.split()
                if word == b"cursor":
                    cursor = int(value)
                else:
                    acked[int(word)] = value
            child.kill()  # SIGKILL, mid-flight: the child is appending as fast as it can
            rest = await child.stdout.read()
            await child.wait()
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    for line in rest.splitlines(keepends=True):
        if line.endswith(b"\n"):  # the last line may have been cut by the kill
            word, value = line.split()
            if word == b"cursor":
                cursor = int(value)
            else:
                acked[int(word)] = value

    log = await SqliteEventLog.open(path)
    try:
        last = await log.last_seq("crash")
        records = {r.seq: r.payload for r in await log.read("crash", 0, last + 1)}
        missing = [seq for seq, payload in acked.items() if records.get(seq) != payload]
        assert not missing, f"{len(missing)} acknowledged records lost, e.g. {missing[:5]}"
        assert sorted(records) == list(range(1, last + 1))
        loaded = await log.load_cursor("trigger:crash")
        assert loaded is not None
        assert loaded >= cursor
        assert await log.append("crash", [b"after"]) == [last + 1]
    finally:
        await log.close()


async def test_trim_works_in_bounded_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_sqlite_writer, "TRIM_STEP", 7)
    clock = FakeClock()
    log = await SqliteEventLog.open(str(tmp_path / "log.db"), clock=clock)
    try:
        await log.append("b1", payloads("e", 30))
        await log.append("b2", payloads("f", 12))
        await log.save_cursor("trigger:1", "b1", 25)
        clock.advance(10)
        await log.append("b2", [b"young"])
        assert await log.trim(5) == 25 + 12
        assert [r.seq for r in await log.read("b1", 0, 100)] == list(range(26, 31))
        assert [r.payload for r in await log.read("b2", 0, 100)] == [b"young"]
    finally:
        await log.close()


async def test_appends_interleave_with_a_large_trim(tmp_path: Path) -> None:
    clock = FakeClock()
    log = await SqliteEventLog.open(str(tmp_path / "log.db"), clock=clock)
    try:
        backlog = 5 * _sqlite_writer.TRIM_STEP
        await log.append("b", payloads("e", backlog))
        clock.advance(10)
        trim = asyncio.create_task(log.trim(5))
        await asyncio.sleep(0)  # the first step is queued
        assert await log.append("b", [b"during"]) == [backlog + 1]
        assert not trim.done()  # the append did not wait for the whole trim
        assert await trim == backlog
        assert [r.payload for r in await log.read("b", 0, 10)] == [b"during"]
    finally:
        await log.close()


async def test_a_trim_step_frees_a_bounded_number_of_bytes(tmp_path: Path) -> None:
    """Large records (a broker's lineage batches) are trimmed a few per step: an append
    queued behind the first step finds most of them still there, not one 145 ms step."""
    clock = FakeClock()
    log = await SqliteEventLog.open(str(tmp_path / "log.db"), clock=clock)
    try:
        big = 64 * 1024
        backlog = 3 * _sqlite_writer.TRIM_STEP_BYTES // big
        await log.append("b", [bytes([n]) * big for n in range(backlog)])
        clock.advance(10)
        # one step of what log.trim(5) runs, with an append queued behind it (a read after
        # a whole trim's first step could race its second step on a loaded machine)
        step = log._submit(_sqlite_writer.TRIM, clock() - 5, {})
        assert await log.append("b", [b"during"]) == [backlog + 1]
        deleted, finished = await step
        assert backlog // 2 < backlog - deleted < backlog  # the step took some, not all
        assert not finished
        assert await log.trim(5) == backlog - deleted
        assert [r.payload for r in await log.read("b", 0, 10)] == [b"during"]
    finally:
        await log.close()


async def test_a_file_from_a_newer_kawa_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(PermanentError, match="newer kawa"):
        await SqliteEventLog.open(str(path))
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA user_version = 0")
    log = await SqliteEventLog.open(str(path))  # the failed open released the file lock
    await log.close()
