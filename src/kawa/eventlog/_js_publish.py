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
import json
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import api
from nats.js import errors as js_errors


class AckedPublisher:
    """Pipelined JetStream publishes over one connection (see the module docstring)."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._prefix = client.new_inbox()
        self._sub: Subscription | None = None
        self._counter = itertools.count()
        self._waiting: dict[str, asyncio.Future[api.PubAck]] = {}

    @classmethod
    async def open(cls, client: Client) -> AckedPublisher:
        publisher = cls(client)
        publisher._sub = await client.subscribe(f"{publisher._prefix}.*", cb=publisher._on_answer)
        return publisher

    async def publish(
        self, subject: str, payload: bytes, headers: dict[str, str] | None
    ) -> asyncio.Future[api.PubAck]:
        """Send one record; the future gets its PubAck or the error JetStream answered."""
        token = str(next(self._counter))
        future: asyncio.Future[api.PubAck] = asyncio.get_running_loop().create_future()
        self._waiting[token] = future
        try:
            await self._client.publish(
                subject, payload, reply=f"{self._prefix}.{token}", headers=headers
            )
        except BaseException:
            self._waiting.pop(token, None)
            raise
        future.add_done_callback(lambda _: self._waiting.pop(token, None))
        return future

    async def _on_answer(self, message: Msg) -> None:
        token = message.subject[len(self._prefix) + 1 :]
        future = self._waiting.pop(token, None)
        if future is None or future.done():
            return
        headers = message.headers or {}
        if not message.data and headers.get(api.Header.STATUS) == "503":
            future.set_exception(js_errors.NoStreamResponseError())
            return
        try:
            answer: dict[str, Any] = json.loads(message.data)
        except ValueError as err:
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
        future.set_result(api.PubAck.from_response(answer))

    async def close(self) -> None:
        for future in self._waiting.values():
            future.cancel()
        self._waiting.clear()
        if self._sub is not None:
            with contextlib.suppress(nats.errors.Error):  # the connection is gone already
                await self._sub.unsubscribe()


async def answers(
    sent: list[asyncio.Future[api.PubAck]], timeout: float
) -> list[api.PubAck | BaseException]:
    """What JetStream answered to each publish of ``sent``, in order: its PubAck, its error, or
    a :class:`TimeoutError` for one not answered within ``timeout`` seconds (cancelled)."""
    _done, pending = await asyncio.wait(sent, timeout=timeout)
    for future in pending:
        future.cancel()
    results: list[api.PubAck | BaseException] = []
    for future in sent:
        if future in pending:
            results.append(TimeoutError("no PubAck in time"))
        elif (error := future.exception()) is not None:
            results.append(error)
        else:
            results.append(future.result())
    return results
