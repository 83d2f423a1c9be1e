"""Per-stream wake-ups behind :meth:`EventLog.wait`, shared by the in-process backends.

A backend calls :meth:`StreamSignals.notify` on its event loop right after records of a stream
are committed; :meth:`StreamSignals.wait` sleeps on a future of the loop until then, so a
tailing consumer wakes without polling. Used by :mod:`kawa.eventlog.memory`,
:mod:`kawa.eventlog.sqlite` and the JetStream log's ticks; loop-thread only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable


class StreamSignals:
    """The waiters of each stream (futures of the loop), all woken and forgotten by a notify.

    A wait is a future of the running loop and a timer of that loop, not an
    :class:`asyncio.Event` under :func:`asyncio.timeout_at`: those ask for the running loop
    four times per wait, and Python 3.11 checks the loop's process id with a ``getpid``
    system call each time (issue 18: a consumer waits once per event at a low rate)."""

    __slots__ = ("_closed", "_waiters")

    def __init__(self) -> None:
        self._waiters: dict[str, list[asyncio.Future[bool]]] = {}
        self._closed = False

    def notify(self, stream: str) -> None:
        """Wake every waiter of ``stream`` (cheap when nobody waits)."""
        waiters = self._waiters.pop(stream, None)
        if waiters is not None:
            _wake(waiters)

    def close(self) -> None:
        """Wake every waiter of every stream and make later waits return at once."""
        self._closed = True
        waiters, self._waiters = self._waiters, {}
        for of_stream in waiters.values():
            _wake(of_stream)

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
            waiter: asyncio.Future[bool] = loop.create_future()
            of_stream = self._waiters.setdefault(stream, [])
            of_stream.append(waiter)
            timer = loop.call_at(deadline, _time_out, waiter)
            try:
                timed_out = await waiter
            finally:
                timer.cancel()
                if not waiter.done() or self._waiters.get(stream) is of_stream:
                    self._forget(stream, of_stream, waiter)  # timed out or cancelled
            if last_seq(stream) > after:
                return True
            # the timer's own word, not the clock: a loop may run a timer up to its clock's
            # resolution early (~16 ms on Windows), and waiting again would spin until then
            if self._closed or timed_out or loop.time() >= deadline:
                return False

    def _forget(
        self, stream: str, of_stream: list[asyncio.Future[bool]], waiter: asyncio.Future[bool]
    ) -> None:
        with contextlib.suppress(ValueError):
            of_stream.remove(waiter)
        if not of_stream and self._waiters.get(stream) is of_stream:
            del self._waiters[stream]


def _wake(waiters: list[asyncio.Future[bool]]) -> None:
    """Wake ``waiters`` with news (``False``: not timed out)."""
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(False)


def _time_out(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(True)
