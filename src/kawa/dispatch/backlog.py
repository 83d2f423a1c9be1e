"""How far a consumer is behind its stream: the backlog and the oldest undelivered age that
the metrics' gauges (:mod:`kawa.observability.measured`) and the console's trigger numbers
(:mod:`kawa.console.server`) report.

- **backlog**: records of the stream the consumer has not finished (not taken yet, plus
  taken and still in delivery or waiting for a delivery place);
- **oldest undelivered age**: seconds since the oldest of those was appended, 0 when there
  is none: the oldest record taken and not finished, else the first record not taken yet
  (one read of one record).
"""

from __future__ import annotations

from kawa.dispatch.consumer import Consumer
from kawa.eventlog.base import EventLog


async def behind(
    event_log: EventLog, consumer: Consumer, last_seq: int, now: float
) -> tuple[int, float]:
    """A consumer's backlog and its oldest undelivered age in seconds (0: caught up), given
    the last seq of its stream (at most one one-record read)."""
    fetched = consumer.fetched
    untaken = max(0, last_seq - fetched)
    oldest = consumer.oldest_unfinished()
    if oldest is None and untaken:
        first = await event_log.read(consumer.stream, fetched, 1, max_bytes=1)
        oldest = first[0].appended_at if first else None
    age = max(0.0, now - oldest) if oldest is not None else 0.0
    return untaken + consumer.unfinished, age
