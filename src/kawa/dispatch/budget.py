"""The delivery memory budget: payload bytes in flight across every consumer.

Each trigger or subscription consumer (:mod:`kawa.dispatch.consumer`) holds the events it has
read from the log until their delivery ends: with slow subscribers and large events that is
where a broker's memory goes (100 deliveries in flight per trigger, times the triggers, times up
to 4 MiB per event). One :class:`DeliveryBudget`, made by the broker data plane from ``kawa up
--max-in-flight-bytes``, is shared by all consumers, of brokers and channels alike: a consumer
reserves bytes before it reads (and reads at most that much,
:meth:`kawa.eventlog.base.EventLog.read`'s ``max_bytes``), keeps what its records need and gives
each record's bytes back when that record's delivery is finished. When the budget is spent,
consumers wait before reading: events stay in the log (durably) instead of in memory.

Waiters are served in arrival order, so a consumer that needs much never starves behind many
that need little. An event larger than the whole budget is not refused: its consumer waits until
nothing else is held and then takes it alone (the budget is overrun by that one event, never
deadlocked). Loop-thread only; no I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass
from typing import Final

from kawa.errors import ValidationError

DEFAULT_MAX_IN_FLIGHT_BYTES: Final = 256 * 1024 * 1024
"""``kawa up --max-in-flight-bytes``: payload bytes held by deliveries, all triggers together."""


@dataclass(slots=True)
class _Waiter:
    future: asyncio.Future[int]
    wanted: int
    partial: bool
    """A reservation (takes what is free, at least one byte) rather than an exact amount."""


class DeliveryBudget:
    """A byte semaphore with first-come first-served waiters (see the module docstring)."""

    __slots__ = ("_waiters", "capacity", "in_use")

    def __init__(self, capacity: int = DEFAULT_MAX_IN_FLIGHT_BYTES) -> None:
        if isinstance(capacity, bool) or capacity < 1:
            raise ValidationError.single(
                "maxInFlightBytes", f"expected a number of bytes >= 1, got {capacity!r}"
            )
        self.capacity = capacity
        self.in_use = 0
        """Bytes taken and not given back yet (above ``capacity`` only for an event larger
        than the whole budget)."""
        self._waiters: deque[_Waiter] = deque()

    async def reserve(self, wanted: int) -> int:
        """Wait until some bytes are free, then take up to ``wanted`` of them (at least one);
        the number taken. Give back what is not needed with :meth:`release`."""
        return await self._take(max(1, wanted), partial=True)

    async def acquire(self, size: int) -> None:
        """Wait until ``size`` bytes fit, then take them. A ``size`` larger than the whole
        budget waits until nothing else is held and is then taken alone."""
        if size > 0:
            await self._take(size, partial=False)

    def release(self, size: int) -> None:
        """Give back ``size`` bytes taken before; wakes the waiters that now fit, in order."""
        if size <= 0:
            return
        self.in_use = max(0, self.in_use - size)
        self._wake()

    async def _take(self, wanted: int, *, partial: bool) -> int:
        if not self._waiters:
            granted = self._grant(wanted, partial)
            if granted:
                return granted
        waiter = _Waiter(asyncio.get_running_loop().create_future(), wanted, partial)
        self._waiters.append(waiter)
        try:
            return await waiter.future
        except asyncio.CancelledError:
            if waiter.future.done() and not waiter.future.cancelled():
                self.release(waiter.future.result())  # granted, but its taker is gone
            else:
                with contextlib.suppress(ValueError):  # _wake may have dropped it already
                    self._waiters.remove(waiter)
                self._wake()  # it may have been holding up the ones behind it
            raise

    def _grant(self, wanted: int, partial: bool) -> int:
        """Take ``wanted`` bytes (or what is free, for a reservation) if they fit now; the
        number taken, 0 when they do not fit."""
        free = self.capacity - self.in_use
        if partial:
            granted = min(wanted, free)
        elif wanted <= free or self.in_use == 0:
            granted = wanted
        else:
            granted = 0
        if granted > 0:
            self.in_use += granted
        return max(granted, 0)

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters[0]
            if waiter.future.done():  # cancelled; its taker removes it
                self._waiters.popleft()
                continue
            granted = self._grant(waiter.wanted, waiter.partial)
            if not granted:
                return
            self._waiters.popleft()
            waiter.future.set_result(granted)
