"""Ingress backpressure: a broker whose events wait too long for delivery answers 429.

Off by default (``kawa up --max-delivery-lag 0``): the event log exists to absorb bursts, and
Knative's brokers accept whatever their storage accepts. When it is on, :class:`DeliveryLag`
estimates for every broker how long an event sent now would wait in the log before its
delivery starts (events in flight, retries included, do not count: a retried event is the
subscriber's trouble, not a backlog). For each trigger's consumer that is the larger of

* how long the oldest event it has not taken from the log yet has waited, and
* its backlog (events not taken yet) divided by the rate it has been taking them at:
  the time the events already queued need, which is what an event sent now waits behind.
  The first alone reacts late: by the time the oldest event has waited the bound, a fast
  sender has queued far more than the bound's worth of deliveries behind it.

Once the slowest trigger's wait passes ``max_delivery_lag`` seconds, the broker ingress
answers ``429 Too Many Requests`` with ``Retry-After`` (:data:`RETRY_AFTER` seconds) before it
reads the request, until the wait is back under the bound. Replies of subscribers are never
refused (they are part of a delivery in progress). Why this and not a fair share of the CPU
between ingress and delivery: docs/decisions/0026-ingress-backpressure.md.

The measure runs every :func:`interval` seconds on the loop, not per request: one look at
each consumer's read position and, for a broker that is behind, one read of its oldest waiting
record (usually from the log's in-memory tail). Run by :mod:`kawa.broker.dataplane`, which
answers :meth:`kawa.broker.ingress.Publisher.retry_after` from :meth:`DeliveryLag.retry_after`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, Protocol

from kawa.errors import KawaError
from kawa.eventlog.base import EventLog

log = logging.getLogger(__name__)

RETRY_AFTER: Final = 1
"""Seconds a refused sender is asked to wait (``Retry-After``)."""
MAX_INTERVAL: Final = 0.1
"""Seconds between two measures at most (a quarter of the bound when that is shorter)."""


class Reader(Protocol):
    """What the measure needs of a trigger consumer."""

    @property
    def stream(self) -> str:
        """The broker's stream it reads."""
        ...

    @property
    def fetched(self) -> int:
        """The seq of the last record it took from the log (to deliver or to skip)."""
        ...


def interval(max_lag: float) -> float:
    """How often the lag is measured for a bound of ``max_lag`` seconds."""
    return min(MAX_INTERVAL, max_lag / 4)


@dataclass(slots=True)
class _Pace:
    """A reader's position at the last measure and how fast it has been reading."""

    at: float
    fetched: int
    rate: float | None = None
    """Records per second (an average that halves the weight of older measures)."""


class DeliveryLag:
    """Which brokers push back (see the module docstring)."""

    def __init__(
        self,
        event_log: EventLog,
        max_lag: float,
        readers: Callable[[], Iterable[Reader]],
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = event_log
        self._max_lag = max_lag
        self._readers = readers
        self._clock = clock
        self._monotonic = monotonic
        self._paces: dict[int, _Pace] = {}
        self._waiting: dict[str, float] = {}
        """Streams whose events wait longer than the bound -> the wait (seconds)."""

    def retry_after(self, stream: str) -> int | None:
        """``Retry-After`` seconds when the broker of ``stream`` pushes back, else ``None``."""
        return RETRY_AFTER if stream in self._waiting else None

    def waited(self, stream: str) -> float:
        """The wait that made ``stream`` push back at the last measure (0: it does not)."""
        return self._waiting.get(stream, 0.0)

    async def run(self) -> None:
        """Measure every :func:`interval` seconds until cancelled."""
        every = interval(self._max_lag)
        while True:
            await asyncio.sleep(every)
            try:
                await self.measure()
            except KawaError as err:
                log.warning("could not measure the delivery lag: %s", err)

    async def measure(self) -> None:
        """Look at every broker with consumers once (see the module docstring)."""
        now = self._monotonic()
        paces: dict[int, _Pace] = {}
        slowest: dict[str, tuple[int, float]] = {}  # stream -> (position, expected wait)
        lasts: dict[str, int] = {}
        for reader in self._readers():
            stream, fetched = reader.stream, reader.fetched
            if stream not in lasts:
                lasts[stream] = await self._log.last_seq(stream)
            pace = paces[id(reader)] = self._pace(id(reader), now, fetched)
            backlog = lasts[stream] - fetched
            expected = backlog / pace.rate if backlog > 0 and pace.rate else 0.0
            position, wait = slowest.get(stream, (fetched, 0.0))
            slowest[stream] = (min(position, fetched), max(wait, expected))
        self._paces = paces
        waiting: dict[str, float] = {}
        for stream, (position, expected) in slowest.items():
            age = 0.0
            if position < lasts[stream]:
                oldest = await self._log.read(stream, position, 1, max_bytes=1)
                if oldest:
                    age = self._clock() - oldest[0].appended_at
            wait = max(age, expected)
            if wait > self._max_lag:
                waiting[stream] = wait
        for stream in waiting.keys() - self._waiting.keys():
            log.info(
                "broker %s: events wait %.1fs for delivery (bound %gs): ingress answers 429",
                stream,
                waiting[stream],
                self._max_lag,
            )
        for stream in self._waiting.keys() - waiting.keys():
            log.info("broker %s: delivery caught up: ingress accepts events again", stream)
        self._waiting = waiting

    def _pace(self, key: int, now: float, fetched: int) -> _Pace:
        before = self._paces.get(key)
        if before is None or now <= before.at or fetched < before.fetched:
            return _Pace(now, fetched)
        recent = (fetched - before.fetched) / (now - before.at)
        rate = recent if before.rate is None else (before.rate + recent) / 2
        return _Pace(now, fetched, rate)
