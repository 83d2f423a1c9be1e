"""Reading a request body within the server's bounds: its size, its time and the shared budget.

Every handler of kawa's HTTP server that reads a whole body (the broker ingress, the routed
Services, the API's writes) does it with :func:`read`::

    async with bodies.read(request, max_size) as body:
        ...  # the body's bytes count against the budget until the block ends

* **Size**: a body over ``max_size`` bytes raises :class:`BodyTooLarge` (413), before any of
  it is read when its ``Content-Length`` says so.
* **Budget**: the body's bytes are taken from the server's
  :class:`~kawa.transport.server.BodyBudget` as they arrive and given back when the block
  ends. When it is spent, :class:`BodyBudgetSpent` (503, ``Retry-After``): many slow large
  bodies cannot grow the process without bound. Bytes are counted as they arrive, not as
  ``Content-Length`` announces them, so a client that trickles a body holds only what it sent.
* **Time**: a body that stalls (nothing of it arrives for the server's ``body_timeout``
  seconds) raises :class:`BodyTimeout` (408); one that keeps arriving is read to its end,
  however long it takes. A body received with its head is read without a timer.

Outside a :class:`~kawa.transport.server.BoundedSite` (a bare aiohttp server in tests or
benchmarks), only the size is checked. Each error carries its HTTP ``status`` and the
``headers`` its answer needs; the callers answer in their own format.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import MappingProxyType, TracebackType
from typing import ClassVar, Final

from aiohttp import StreamReader, web

from kawa.transport.server import BodyBudget, BoundedRequestHandler

RETRY_AFTER: Final = "1"


class BodyError(Exception):
    """A body that is not read; ``status`` and ``headers`` are those of the answer."""

    status: ClassVar[int] = 400
    headers: ClassVar[Mapping[str, str]] = MappingProxyType({})
    close: ClassVar[bool] = False
    """Whether the connection is closed after the answer (the rest of the body is unread)."""


class BodyTooLarge(BodyError):
    status = 413


class BodyTimeout(BodyError):
    status = 408
    close = True


class BodyBudgetSpent(BodyError):
    status = 503
    headers = MappingProxyType({"Retry-After": RETRY_AFTER})


class Body:
    """The async context manager :func:`read` returns (see the module)."""

    __slots__ = ("_budget", "_held", "_max", "_request", "_timeout")

    def __init__(self, request: web.BaseRequest, max_size: int) -> None:
        self._request = request
        self._max = max_size
        protocol = request.protocol
        self._budget: BodyBudget | None = None
        self._timeout: float | None = None
        if isinstance(protocol, BoundedRequestHandler):
            self._budget = protocol.budget
            self._timeout = protocol.limits.body_timeout
        self._held = 0

    async def __aenter__(self) -> bytes:
        request = self._request
        length = request.content_length
        if length is not None and length > self._max:
            raise BodyTooLarge(f"the body of {length} bytes is over the limit of {self._max} bytes")
        content = request.content
        if self._timeout is None or content.is_eof():  # all there: no wait, no timer
            return await self._read(content, None)
        try:
            async with asyncio.timeout(self._timeout) as timer:
                return await self._read(content, timer)
        except TimeoutError:
            protocol = request.protocol
            if isinstance(protocol, BoundedRequestHandler):
                protocol.hang_up_after_response()
            raise BodyTimeout(
                f"the request body stalled: nothing of it arrived for {self._timeout:g}s"
            ) from None

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._give_back()

    async def _read(self, content: StreamReader, timer: asyncio.Timeout | None) -> bytes:
        chunks: list[bytes] = []
        size = 0
        try:
            while chunk := await content.readany():
                size += len(chunk)
                if size > self._max:
                    raise BodyTooLarge(f"the body is over the limit of {self._max} bytes")
                self._take(len(chunk))
                chunks.append(chunk)
                if timer is not None and self._timeout is not None:
                    timer.reschedule(asyncio.get_running_loop().time() + self._timeout)
        except BaseException:
            self._give_back()
            raise
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _take(self, size: int) -> None:
        budget = self._budget
        if budget is None:
            self._held += size
            return
        if not budget.reserve(size):
            raise BodyBudgetSpent(
                f"kawa holds {budget.held} bytes of request bodies, its limit is "
                f"{budget.limit}: retry later"
            )
        self._held += size

    def _give_back(self) -> None:
        if self._budget is not None and self._held:
            self._budget.release(self._held)
        self._held = 0


def read(request: web.BaseRequest, max_size: int) -> Body:
    """The whole body of ``request``, within ``max_size`` and the server's bounds."""
    return Body(request, max_size)
