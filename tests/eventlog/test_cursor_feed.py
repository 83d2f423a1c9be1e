"""How often a :class:`~kawa.eventlog.feed.CursorFeed` saves its cursor.

A consumer that keeps catching up with a steady trickle of events (1,000 events/s from one
sender is such a trickle: each event is delivered before the next arrives) used to save its
cursor every time it caught up: a second write (and fsync) per event in the SQLite writer.
It saves at most once per commit interval while events keep coming, and soon after the
stream goes quiet.
"""

from __future__ import annotations

import asyncio
import functools
import time

from kawa.eventlog import MemoryEventLog
from kawa.eventlog.feed import CursorFeed

from ..waiting import eventually

INTERVAL = 0.05


class CountingLog(MemoryEventLog):
    """A memory log that counts cursor saves."""

    def __init__(self) -> None:
        super().__init__()
        self.saves = 0

    async def save_cursor(self, consumer: str, stream: str, seq: int) -> None:
        self.saves += 1
        await super().save_cursor(consumer, stream, seq)


async def consume(feed: CursorFeed, done: list[int]) -> None:
    """Take records one by one and finish each at once, as a fast subscriber would."""
    while True:
        if not await feed.wait(1.0):
            continue
        for record in await feed.read(100):
            await feed.done(record.seq)
            done.append(record.seq)


async def caught_up(done: list[int], sent: int) -> bool:
    return len(done) >= sent


async def test_a_caught_up_consumer_saves_once_per_interval_then_when_quiet() -> None:
    log = CountingLog()
    feed = CursorFeed(log, "trigger:t@s", "s", commit_interval=INTERVAL)
    await feed.start(None)
    start_saves = log.saves  # a new cursor is saved once, where it starts
    done: list[int] = []
    consumer = asyncio.create_task(consume(feed, done))
    try:
        started = time.monotonic()
        sent = 0
        while time.monotonic() - started < 0.6:
            await log.append("s", [b"x"])
            sent += 1
            await eventually(functools.partial(caught_up, done, sent), 10, "fell behind", 0.001)
            await asyncio.sleep(0.002)
        elapsed = time.monotonic() - started
        saves = log.saves - start_saves
        # it caught up after every one of them (each was done before the next was sent) ...
        assert sent >= 20, sent
        # ... and saved its cursor at most once per interval, not once per event
        assert saves <= elapsed / INTERVAL + 2, (saves, sent, elapsed)

        # quiet now: the cursor reaches the last event within about one interval
        async def saved() -> bool:
            return await log.load_cursor("trigger:t@s") == done[-1]

        await eventually(saved, 5, "the cursor was not saved once the stream went quiet")
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
        await feed.stop()
        await log.close()
