"""Publishing to JetStream with every answer delivered: PubAcks and errors alike.

nats-py's ``publish_async`` leaves a publish's future unresolved when JetStream answers with
an error of code 503 (its ``APIError.from_error`` raises inside the reply callback instead of
returning the error), and a stream over its ``max_bytes`` answers exactly that
(``err_code`` 10077, "maximum bytes exceeded"): the append would wait for its timeout and the
ingress answer 503 instead of 507. :class:`AckedPublisher` does the same pipelining on
nats-py's core client (one wildcard inbox subscription, one reply subject per publish) and
resolves each future with the :class:`~nats.js.api.PubAck` or the error JetStream sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any, Final

import nats
import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import api
from nats.js import errors as js_errors

SWEEP: Final = 1.0
"""Seconds between two looks for publishes whose answer is overdue."""


class AckedPublisher:
    """Pipelined JetStream publishes over one connection (see the module docstring).

    Each publish's future gets the stream sequence JetStream stored the record at, or the
    error it answered, or a :class:`TimeoutError` once ``timeout`` seconds passed without an
    answer (a sweeper looks every :data:`SWEEP` seconds: no timer per publish)."""

    def __init__(self, client: Client, timeout: float) -> None:
        self._client = client
        self._prefix = client.new_inbox()
        self._skip = len(self._prefix) + 1
        self._timeout = timeout
        self._sub: Subscription | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._counter = itertools.count()
        self._waiting: dict[str, tuple[asyncio.Future[int], float]] = {}

    @classmethod
    async def open(cls, client: Client, timeout: float) -> AckedPublisher:
        publisher = cls(client, timeout)
        publisher._sub = await client.subscribe(f"{publisher._prefix}.*", cb=publisher._on_answer)
        publisher._sweeper = asyncio.create_task(publisher._sweep(), name="pub-ack-sweeper")
        return publisher

    async def publish(
        self, subject: str, payload: bytes, headers: dict[str, str] | None
    ) -> asyncio.Future[int]:
        """Send one record; the future gets its stream sequence or the error (see the class)."""
        token = str(next(self._counter))
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        self._waiting[token] = (future, loop.time() + self._timeout)
        try:
            await self._client.publish(
                subject, payload, reply=f"{self._prefix}.{token}", headers=headers
            )
        except BaseException:
            self._waiting.pop(token, None)
            raise
        return future

    async def _on_answer(self, message: Msg) -> None:
        entry = self._waiting.pop(message.subject[self._skip :], None)
        if entry is None or entry[0].done():
            return
        future = entry[0]
        data = message.data
        if not data:
            if (message.headers or {}).get(api.Header.STATUS) == "503":
                future.set_exception(js_errors.NoStreamResponseError())
            else:
                future.set_exception(js_errors.APIError(description="empty PubAck"))
            return
        try:
            answer: dict[str, Any] = orjson.loads(data)
        except orjson.JSONDecodeError as err:
            future.set_exception(js_errors.APIError(description=f"unreadable PubAck: {err}"))
            return
        error = answer.get("error")
        if error is not None:
            future.set_exception(
                js_errors.APIError(
                    code=error.get("code"),
                    err_code=error.get("err_code"),
                    description=error.get("description"),
                )
            )
            return
        seq = answer.get("seq")
        if not isinstance(seq, int) or seq <= 0:
            future.set_exception(js_errors.APIError(description=f"PubAck without a seq: {data!r}"))
            return
        future.set_result(seq)

    async def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(SWEEP)
            now = loop.time()
            late = [token for token, (_, deadline) in self._waiting.items() if deadline <= now]
            for token in late:
                future, _ = self._waiting.pop(token)
                if not future.done():
                    future.set_exception(TimeoutError("no PubAck in time"))

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        for future, _ in self._waiting.values():
            if not future.done():
                future.set_exception(nats.errors.ConnectionClosedError())
        self._waiting.clear()
        if self._sub is not None:
            with contextlib.suppress(nats.errors.Error):  # the connection is gone already
                await self._sub.unsubscribe()


async def answers(sent: list[asyncio.Future[int]]) -> list[int | BaseException]:
    """What JetStream answered to each publish of ``sent``, in order: the stored record's
    sequence or the error (a :class:`TimeoutError` for one the sweeper gave up on, nats-py's
    ``ConnectionClosedError`` for one the publisher's close ended)."""
    results: list[int | BaseException] = []
    for future in sent:
        try:
            results.append(await future)
        except Exception as err:
            results.append(err)
    return results
