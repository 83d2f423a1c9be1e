"""A consumer's pace: how fast it starts deliveries, and when it holds them back.

:class:`Pacer` keeps at most ``rate`` deliveries started per second (kawa's ``kawa.dev/max-rate``
annotation, :mod:`kawa.apis.limits`). It spaces the starts evenly: the n-th start is never
before ``first + n / rate`` (counting from when the pace was last idle), so in any window of
``t`` seconds at most ``t * rate + 1`` deliveries start, whatever the backlog. A pause (no
events for a while) does not bank a burst.

:class:`Backpressure` is for a subscriber that scales (a Knative Service): its 429 or 503
("full for now": the activator's queue is full, the Revision is starting) closes the consumer
to new deliveries for the pause the answer asks for (``Retry-After``, between
:data:`PAUSE_MIN` and :data:`PAUSE_MAX`; :data:`PAUSE` without one), and the refused delivery
is sent again after it without counting an attempt: the deliveries in flight hold their places
while the Service scales, and the retry budget is kept for real failures. That lasts while the
Service keeps delivering: once :data:`HOLD_MAX` seconds pass since its first such answer with
no delivery succeeding since, its answers count again (a Service that cannot start is not
waited for forever). Both are used by :mod:`kawa.dispatch.consumer`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Final

from kawa.delivery.policy import parse_retry_after

PAUSE: Final = 1.0
"""Seconds the consumer pauses after a 429/503 without a readable ``Retry-After``."""
PAUSE_MIN: Final = 0.1
PAUSE_MAX: Final = 10.0
HOLD_MAX: Final = 60.0
"""Seconds of 429/503 answers, with no delivery succeeding, before they count as attempts."""


class Pacer:
    """Starts spaced 1/rate apart (see the module docstring)."""

    __slots__ = ("_clock", "_interval", "_next", "_sleep")

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("a rate must be positive")
        self._interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0

    async def take(self) -> None:
        """Wait until the next start is allowed, and count it."""
        now = self._clock()
        at = max(now, self._next)
        self._next = at + self._interval
        if at > now:
            await self._sleep(at - now)


class Backpressure:
    """A scaling subscriber's "full for now" (see the module docstring)."""

    __slots__ = ("_clock", "_hold_max", "_since", "_sleep", "_until", "_wall", "held")

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wall: Callable[[], float] = time.time,
        hold_max: float = HOLD_MAX,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._wall = wall
        self._hold_max = hold_max
        self._until = 0.0
        self._since: float | None = None
        self.held = 0
        """The answers waited out so far (metrics and tests)."""

    async def wait(self) -> None:
        """Return once the consumer may start a delivery (at once unless paused)."""
        while (delay := self._until - self._clock()) > 0:
            await self._sleep(delay)

    async def overloaded(self, status: int, retry_after: str | None) -> bool:
        """A delivery got 429 or 503: pause the consumer and return ``True`` once the pause
        is over (send again, the attempt not counted), or ``False`` at once when the
        subscriber has delivered nothing for :data:`HOLD_MAX` seconds of such answers."""
        now = self._clock()
        if self._since is None:
            self._since = now
        elif now - self._since > self._hold_max:
            return False
        pause = PAUSE
        asked = parse_retry_after(retry_after, self._wall()) if retry_after is not None else None
        if asked is not None:
            pause = min(max(asked, PAUSE_MIN), PAUSE_MAX)
        self._until = max(self._until, now + pause)
        self.held += 1
        await self.wait()
        return True

    def delivered(self) -> None:
        """A delivery succeeded: the subscriber takes events again."""
        self._since = None
