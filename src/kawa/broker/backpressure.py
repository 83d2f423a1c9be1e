"""Ingress backpressure: a broker whose events wait too long for delivery answers 429.

Off by default (``kawa up --max-delivery-lag 0``): the event log exists to absorb bursts, and
Knative's brokers accept whatever their storage accepts. When it is on, :class:`DeliveryLag`
measures for every broker how long its oldest *waiting* event has been in the log: the first
event that some trigger's consumer has not started to deliver yet (events in flight, retries
included, do not count: a retried event is the subscriber's trouble, not a backlog). Once
that wait passes ``max_delivery_lag`` seconds, the broker ingress answers ``429 Too Many
Requests`` with ``Retry-After`` (:data:`RETRY_AFTER` seconds) before it reads the request,
until the wait is back under the bound. Replies of subscribers are never refused (they are
part of a delivery in progress). Why this and not a fair share of the CPU between ingress and
delivery: docs/decisions/XXXX-ingress-backpressure.md.

The measure runs every :func:`interval` seconds on the loop, not per request: one look at
each consumer's read position and, for a broker that is behind, one read of the oldest waiting
record (usually from the log's in-memory tail). Run by :mod:`kawa.broker.dataplane`, which
answers :meth:`kawa.broker.ingress.Publisher.retry_after` from :meth:`DeliveryLag.retry_after`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Final, Protocol

from kawa.errors import KawaError
from kawa.eventlog.base import EventLog

log = logging.getLogger(__name__)

RETRY_AFTER: Final = 1
"""Seconds a refused sender is asked to wait (``Retry-After``)."""
MAX_INTERVAL: Final = 0.25
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


class DeliveryLag:
    """Which brokers push back (see the module docstring)."""

    def __init__(
        self,
        event_log: EventLog,
        max_lag: float,
        readers: Callable[[], Iterable[Reader]],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._log = event_log
        self._max_lag = max_lag
        self._readers = readers
        self._clock = clock
        self._waiting: dict[str, float] = {}
        """Streams whose oldest waiting event is older than the bound -> its age (seconds)."""

    def retry_after(self, stream: str) -> int | None:
        """``Retry-After`` seconds when the broker of ``stream`` pushes back, else ``None``."""
        return RETRY_AFTER if stream in self._waiting else None

    def waited(self, stream: str) -> float:
        """How long the oldest waiting event of ``stream`` had waited at the last measure,
        when that was past the bound (0 otherwise)."""
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
        behind: dict[str, int] = {}
        for reader in self._readers():
            position = behind.get(reader.stream)
            behind[reader.stream] = (
                reader.fetched if position is None else min(position, reader.fetched)
            )
        waiting: dict[str, float] = {}
        for stream, position in behind.items():
            if position >= await self._log.last_seq(stream):
                continue
            oldest = await self._log.read(stream, position, 1, max_bytes=1)
            if not oldest:
                continue
            age = self._clock() - oldest[0].appended_at
            if age > self._max_lag:
                waiting[stream] = age
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
