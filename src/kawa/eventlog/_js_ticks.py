"""The newest seq of each stream as the JetStream event log has heard it: the appends' ticks.

Every append publishes a tick on core NATS (``<prefix>.tick.<token>``, its seq in the
``Nats-Sequence`` header); :class:`Ticks` subscribes to them once (:meth:`Ticks.hear`, by the
first wait), remembers the highest seq seen per stream token (:meth:`Ticks.saw`, also fed by
this process's own appends and reads of the last seq) and wakes the waiters of that stream
(:class:`~kawa.eventlog._signals.StreamSignals`). :attr:`Ticks.heard` tells whether the
subscription is up; :attr:`Ticks.generation` changes each time it is made, so that streams
are checked on the server once after it (what came before it is not in the ticks). Only
:mod:`kawa.eventlog.jetstream` uses this module.
"""

from __future__ import annotations

import asyncio
import contextlib

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from kawa.eventlog import _js_errors
from kawa.eventlog._js_names import Names
from kawa.eventlog._signals import StreamSignals


class Ticks:
    """See the module docstring."""

    def __init__(self, client: Client, names: Names) -> None:
        self._client = client
        self._names = names
        self._known: dict[str, int] = {}
        self.signals = StreamSignals()
        self._subscription: Subscription | None = None
        self._subscribing = asyncio.Lock()
        self.generation = 0

    @property
    def heard(self) -> bool:
        return self._subscription is not None

    def known(self, token: str) -> int:
        """The highest seq heard of the stream ``token`` (0: none)."""
        return self._known.get(token, 0)

    def saw(self, token: str, seq: int) -> None:
        """Stream ``token`` has records up to ``seq``: its waiters wake when that is news."""
        if seq > self._known.get(token, 0):
            self._known[token] = seq
            self.signals.notify(token)

    async def hear(self) -> None:
        """Subscribe to the ticks (once)."""
        async with self._subscribing:
            if self._subscription is None:
                async with _js_errors.failures("subscribing to the event log's ticks"):
                    subscription = await self._client.subscribe(self._names.ticks, cb=self._on_tick)
                    await self._client.flush()
                self._subscription = subscription
                self.generation += 1

    async def close(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(nats.errors.Error):  # the connection is already gone
                await self._subscription.unsubscribe()

    async def _on_tick(self, message: Msg) -> None:
        seq = (message.headers or {}).get("Nats-Sequence")
        if seq is not None:
            self.saw(self._names.tick_token(message.subject), int(seq))
