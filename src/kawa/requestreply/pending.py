"""The requests a process holds open, waiting for their replies, and how replies reach them.

A request waits in this process's memory (:class:`Pending`), keyed by its whole correlation
id (the nonce makes it unique, even for two requests with one event id), until its reply is
handed over or its timeout passes. Nothing is stored: a request lives as long as its HTTP
call, and a kawa that stops ends both.

A reply can reach another process than its request's: with several kawa processes
(``--workers``, several nodes) the Trigger's delivery goes to whichever one the shared port
or the load balancer picks. Each process has an :attr:`Pending.index`, written into the
correlation ids it signs; a process that gets a verified reply whose index is not its own
hands it to a :class:`Relay`, which carries it to that process (over core NATS:
:mod:`kawa.requestreply.relay_nats`). Alone (SQLite), there is no relay and the index is 0.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Protocol

from kawa.cloudevents.event import CloudEvent

log = logging.getLogger(__name__)


class Relay(Protocol):
    """Carries a verified reply to the process with index ``index``."""

    async def send(self, index: int, correlation: str, event: CloudEvent) -> None: ...


def process_index(shared: bool) -> int:
    """This process's index: 0 alone; with others (``shared``), a random one of 31 bits (a
    clash of two processes' indexes costs a relay hop to the wrong one, and the reply)."""
    return 1 + secrets.randbelow(2**31 - 1) if shared else 0


class Pending:
    """The open requests of this process, by correlation id."""

    def __init__(self, index: int = 0) -> None:
        self.index = index
        self._waiting: dict[str, asyncio.Future[CloudEvent]] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def hold(self, correlation: str) -> asyncio.Future[CloudEvent]:
        """A future the reply to ``correlation`` will complete; :meth:`release` it after."""
        future: asyncio.Future[CloudEvent] = asyncio.get_running_loop().create_future()
        self._waiting[correlation] = future
        return future

    def release(self, correlation: str) -> None:
        self._waiting.pop(correlation, None)

    def answer(self, correlation: str, event: CloudEvent) -> bool:
        """Hand ``event`` to the request waiting for ``correlation``; ``False`` if none does
        (gone, timed out, or answered already: the first reply wins)."""
        future = self._waiting.get(correlation)
        if future is None or future.done():
            return False
        future.set_result(event)
        return True
