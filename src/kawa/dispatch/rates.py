"""A consumer's rates over the last minute, from samples of its counters.

The consumer samples its counters (:class:`kawa.dispatch.consumer.ConsumerStats`) when it
finishes a record, and the console when it asks for the rates, but at most once every
:data:`EVERY` seconds: a burst of events costs one sample per second, not one per event. The
samples of the last :data:`WINDOW` seconds are kept (and the newest one older, the base of the
window), so the rate of a counter is its growth since the window's base divided by the seconds
since then: over the last minute (a little more when no sample fell near the window's start),
or since the consumer started when that was less than a minute ago. A consumer that changed
nothing for a whole window has rates of zero (the growth of its last second before going quiet
is not spread over the next minute).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Final

EVERY: Final = 1.0
"""Seconds between two samples at least."""
WINDOW: Final = 60.0
"""Seconds the rates are measured over (at most)."""

Counts = Mapping[str, int]


class Rates:
    """Samples of a consumer's counters, and the rates they give (see the module docstring)."""

    __slots__ = ("_clock", "_counts", "_every", "_last_change", "_samples", "_window")

    def __init__(
        self,
        counts: Callable[[], Counts],
        *,
        clock: Callable[[], float] = time.monotonic,
        window: float = WINDOW,
        every: float = EVERY,
    ) -> None:
        self._counts = counts
        """The counters now (called at most once every ``every`` seconds)."""
        self._clock = clock
        self._window = window
        self._every = every
        now = clock()
        self._samples: deque[tuple[float, dict[str, int]]] = deque([(now, dict(counts()))])
        self._last_change = now

    def changed(self) -> None:
        """Some counter grew: sample them when the last sample is :data:`EVERY` seconds old."""
        now = self._clock()
        self._last_change = now
        self._sample(now)

    def _sample(self, now: float) -> None:
        if now - self._samples[-1][0] < self._every:
            return
        self._samples.append((now, dict(self._counts())))
        start = now - self._window
        while len(self._samples) > 1 and self._samples[1][0] <= start:
            self._samples.popleft()

    def per_second(self) -> tuple[float, dict[str, float]]:
        """The seconds measured over (about :data:`WINDOW` at most) and each counter's growth
        per second over them, counted up to now."""
        now = self._clock()
        self._sample(now)
        counts = self._counts()
        base_at, base = self._samples[0]
        seconds = now - base_at
        if seconds <= 0 or self._last_change <= now - self._window:
            return min(max(seconds, 0.0), self._window), {name: 0.0 for name in counts}
        return seconds, {
            name: (value - base.get(name, 0)) / seconds for name, value in counts.items()
        }
