"""Concurrency reports over core NATS: every process publishes, the deciding one listens.

One connection per process (:func:`kawa.jetstream.connect`, the same servers and
credentials as the JetStream backends) and one plain subject, :data:`SUBJECT`: a report is
a few dozen bytes, sent at most once per tick per busy Revision (and at once for a request
waiting on a Revision at zero). Nothing is stored: a report missed while the leader changes
is replaced by the sender's next one a tick later, and the new leader holds scale-downs for
a stable window (:meth:`kawa.serving.concurrency.Scaling.holding`).

Created by :mod:`kawa.runtime` when kawa runs on NATS; used by
:class:`~kawa.serving.dataplane.ServingDataPlane` (publish from every scaler, subscribe while
leading).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Final

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from kawa import jetstream
from kawa.serving import concurrency

log = logging.getLogger(__name__)

SUBJECT: Final = "kawa.serving.concurrency"


class NatsReports:
    """Publishes this process's reports and, while leading, receives the others'."""

    def __init__(self, options: jetstream.NatsOptions, name: str) -> None:
        self._options = options
        self._name = name
        self._client: Client | None = None

    async def open(self) -> None:
        self._client, _ = await jetstream.connect(self._options, f"kawa-serving {self._name}")

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await jetstream.close(client)

    async def publish(self, report: concurrency.Report) -> None:
        client = self._client
        if client is None:
            return
        try:
            await client.publish(SUBJECT, concurrency.encode(report))
        except nats.errors.Error as exc:  # disconnected for a moment: the next tick sends again
            log.debug("cannot publish a concurrency report: %s", exc)

    @contextlib.asynccontextmanager
    async def receiving(
        self, on_report: Callable[[concurrency.Report], None]
    ) -> AsyncIterator[None]:
        """Call ``on_report`` with every report published (this process's too) inside."""
        client = self._client
        if client is None:
            raise RuntimeError("NatsReports used before open()")

        async def handle(msg: Msg) -> None:
            report = concurrency.decode(msg.data)
            if report is None:
                log.warning("ignored a malformed concurrency report on %s", SUBJECT)
            else:
                on_report(report)

        subscription = await client.subscribe(SUBJECT, cb=handle)
        try:
            yield
        finally:
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()
