"""Per-stream wake-ups behind :meth:`EventLog.wait`, shared by the in-process backends.

A backend calls :meth:`StreamSignals.notify` on its event loop right after records of a stream
are committed; :meth:`StreamSignals.wait` sleeps on an :class:`asyncio.Event` until then, so a
tailing consumer wakes without polling. Used by :mod:`kawa.eventlog.memory` and
:mod:`kawa.eventlog.sqlite`; loop-thread only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class StreamSignals:
    """One :class:`asyncio.Event` per stream that has waiters, replaced after every notify."""

    __slots__ = ("_closed", "_events")

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self._closed = False

    def notify(self, stream: str) -> None:
        """Wake every waiter of ``stream`` (cheap when nobody waits)."""
        event = self._events.pop(stream, None)
        if event is not None:
            event.set()

    def close(self) -> None:
        """Wake every waiter of every stream and make later waits return at once."""
        self._closed = True
        events, self._events = self._events, {}
        for event in events.values():
            event.set()

    async def wait(
        self,
        stream: str,
        after: int,
        timeout: float,
        last_seq: Callable[[str], int],
    ) -> bool:
        """Wait until ``last_seq(stream) > after`` (``True``) or ``timeout`` seconds pass."""
        if last_seq(stream) > after:
            return True
        if timeout <= 0 or self._closed:
            return False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._events.get(stream)
            if event is None:
                event = self._events[stream] = asyncio.Event()
            try:
                async with asyncio.timeout_at(deadline):
                    await event.wait()
            except TimeoutError:
                return last_seq(stream) > after
            if last_seq(stream) > after:
                return True
            if self._closed or loop.time() >= deadline:
                return False
