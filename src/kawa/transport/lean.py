"""A lean HTTP/1.1 front for the data plane: event ingress without aiohttp's per-request cost.

kawa's plain-HTTP port serves one aiohttp application (API, console, Services, Routes, broker
and channel ingress). The ingress is its hottest route, and aiohttp's protocol, request,
router, middleware and response objects were the largest share of a loaded kawa's CPU
(docs/performance.md, issue 18). A :class:`LeanFront` puts a :class:`LeanProtocol` on each
connection of that port instead (:class:`~kawa.transport.server.BoundedSite` ``front=``):

* it reads each request head, parses it with ``httptools`` (llhttp, the parser of Node.js and
  uvicorn) and asks the front's :data:`Pick` whether the request is one it takes. A request
  it takes has its ``Content-Length`` body read into bytes and goes to the :data:`Accept`
  the pick gave; the :class:`Answer` is written back, in order, on the same connection.
* Anything else (another route, another method, a chunked body, ``Expect``, an upgrade,
  HTTP/1.0, a head httptools refuses, percent-encoding in the path, a body over the limit)
  **hands the connection off**: its unread bytes, from the first byte of that request on, go
  to a new :class:`~kawa.transport.server.BoundedRequestHandler`, aiohttp's protocol, which
  serves the connection from then on as if it had had it from the accept. Only requests
  between responses are handed off, so answers keep the order of the requests.

The server's bounds hold on both paths (:mod:`kawa.transport.server`): a head must arrive
within ``header_timeout`` (408 and close otherwise), a kept-alive connection idle for
``idle_timeout`` is closed, a body that stalls for ``body_timeout`` gets 408 and a close, the
body's bytes are taken from the shared :class:`~kawa.transport.server.BodyBudget` as they
arrive (503 with ``Retry-After`` when it is spent, the rest of the body read and dropped), and
the connection counts against the listener's cap (one over the cap goes to aiohttp's
protocol, which answers it 503). Reading pauses while 256 KiB of pipelined requests wait, and
while the client leaves its answers unread (the transport's write buffer is full). It imports
nothing of kawa but the transport layer; the picks come from :mod:`kawa.dispatch.ingress`
(ADR "lean ingress server").
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import http
import json
import logging
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, cast

import httptools
from multidict import CIMultiDict, CIMultiDictProxy

from kawa.transport import server

log = logging.getLogger(__name__)

MAX_HEAD: Final = 64 * 1024
"""Bytes of a request head the lean path waits for; a longer one goes to aiohttp."""
PAUSE_AT: Final = 256 * 1024
"""Buffered bytes of later (pipelined) requests above which reading pauses."""
_END: Final = b"\r\n\r\n"
_NO_HEADERS: Final[Mapping[str, str]] = MappingProxyType({})
_RETRY: Final[Mapping[str, str]] = MappingProxyType({"Retry-After": "1"})


@dataclass(frozen=True, slots=True)
class Answer:
    """A whole response of the lean path."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=lambda: _NO_HEADERS)
    close: bool = False
    """Close the connection once it is written."""


Headers = CIMultiDictProxy[str]
Accept = Callable[[Headers, bytes], Awaitable[Answer]]
"""Serves one request the lean path took: its headers and whole body to its answer."""
Pick = Callable[[str, Headers], Accept | None]
"""Given a POST's path (without query) and headers, the :data:`Accept` that serves it, or
``None``: the request goes to aiohttp."""


class LeanFront:
    """The lean path of one listener: what it takes, and the connections it holds."""

    __slots__ = ("_date", "_date_at", "extra", "max_body", "open", "pick")

    def __init__(
        self, pick: Pick, *, max_body: int, extra_headers: Mapping[str, str] = _NO_HEADERS
    ) -> None:
        self.pick = pick
        self.max_body = max_body
        self.extra = b"".join(f"{k}: {v}\r\n".encode("latin-1") for k, v in extra_headers.items())
        """Headers every answer carries (a worker's index, :mod:`kawa.workers`)."""
        self.open: set[LeanProtocol] = set()
        self._date = b""
        self._date_at = -1.0

    def date(self, now: float) -> bytes:
        """The ``Date`` header line, formatted at most once a second."""
        if now - self._date_at >= 1.0:
            self._date = f"Date: {email.utils.formatdate(usegmt=True)}\r\n".encode()
            self._date_at = now
        return self._date

    def bind(
        self,
        inner: Callable[[], server.BoundedRequestHandler],
        limits: server.ServerLimits,
        budget: server.BodyBudget,
        connections: server.Connections,
    ) -> Callable[[], asyncio.Protocol]:
        """The protocol factory of a listener whose aiohttp protocols ``inner`` makes."""

        def protocol() -> LeanProtocol:
            return LeanProtocol(self, inner, limits, budget, connections)

        return protocol

    def close(self) -> None:
        """Close every connection the lean path still holds (the listener stops)."""
        for protocol in list(self.open):
            protocol.abort()


_REASONS: Final[Mapping[int, str]] = MappingProxyType({s.value: s.phrase for s in http.HTTPStatus})
_BARE: dict[tuple[int, bool], bytes] = {}
"""The head of an answer with nothing but a status (the 202 of every event), by status and
``close``: made once."""


def encode(answer: Answer, extra: bytes, date: bytes, close: bool) -> bytes:
    """The bytes of ``answer`` (``close``: say ``Connection: close``)."""
    if not answer.body and answer.content_type is None and not answer.headers:
        head = _BARE.get((answer.status, close))
        if head is None:
            head = _BARE[answer.status, close] = _head(answer, close)
        return head + extra + date + b"\r\n"
    return _head(answer, close) + extra + date + b"\r\n" + answer.body


def _head(answer: Answer, close: bool) -> bytes:
    """The status line and ``answer``'s own header lines."""
    reason = _REASONS.get(answer.status, "Unknown")
    lines = [f"HTTP/1.1 {answer.status} {reason}\r\nContent-Length: {len(answer.body)}\r\n"]
    if answer.content_type is not None:
        lines.append(f"Content-Type: {answer.content_type}\r\n")
    lines.extend(f"{k}: {v}\r\n" for k, v in answer.headers.items())
    if close:
        lines.append("Connection: close\r\n")
    return "".join(lines).encode("latin-1")


_HEAD, _BODY, _BUSY, _GONE = range(4)
_IDLE, _HEADER, _BODY_TIMER = range(3)


class _Head:
    """httptools' callbacks for one request head."""

    __slots__ = ("headers", "url")

    def __init__(self) -> None:
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))


class LeanProtocol(asyncio.Protocol):
    """One connection of a :class:`LeanFront` (see the module)."""

    __slots__ = (
        "_accept",
        "_blocked",
        "_budget",
        "_buf",
        "_connections",
        "_counted",
        "_deadline",
        "_drop",
        "_front",
        "_headers",
        "_held",
        "_inner",
        "_keep",
        "_limits",
        "_loop",
        "_need",
        "_paused",
        "_state",
        "_task",
        "_timer",
        "_timer_at",
        "_timer_kind",
        "_transport",
    )

    def __init__(
        self,
        front: LeanFront,
        inner: Callable[[], server.BoundedRequestHandler],
        limits: server.ServerLimits,
        budget: server.BodyBudget,
        connections: server.Connections,
    ) -> None:
        self._front = front
        self._inner = inner
        self._limits = limits
        self._budget = budget
        self._connections = connections
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._state = _HEAD
        self._counted = False
        self._paused = False
        """Reading is paused (see :meth:`_flow`)."""
        self._blocked = False
        """Reading paused: the client does not read the answers (``pause_writing``)."""
        self._accept: Accept | None = None
        self._headers: Headers | None = None
        self._keep = True
        self._need = 0
        """Body bytes of the current request."""
        self._held = 0
        """Body bytes taken from the budget."""
        self._drop = False
        """The budget was spent: the body was answered 503, its rest is read and dropped."""
        self._task: asyncio.Task[None] | None = None
        self._deadline: float | None = None
        self._timer: asyncio.Handle | server.AfterAPoll | None = None
        self._timer_at = 0.0
        self._timer_kind = _HEADER

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport = cast(asyncio.Transport, transport)  # a stream server's
        connections = self._connections
        if connections.open >= connections.limit:
            self._hand_off()  # aiohttp's protocol answers it 503
            return
        connections.open += 1
        self._counted = True
        self._front.open.add(self)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # not TCP (a Unix socket)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._arm(_HEADER)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        state = self._state
        if state == _HEAD:
            self._next()
        elif state == _BODY:
            self._body()
        self._flow()

    def pause_writing(self) -> None:
        """The client does not read its answers: read no more requests until it does."""
        self._blocked = True
        self._flow()

    def resume_writing(self) -> None:
        self._blocked = False
        self._flow()

    def _flow(self) -> None:
        """Stop reading while the client leaves its answers unread, or while more than
        :data:`PAUSE_AT` bytes of later requests wait; read again when neither holds."""
        pending = len(self._buf) - (self._need if self._state == _BODY else 0)
        stop = self._blocked or pending > PAUSE_AT
        transport = self._transport
        if stop == self._paused or transport is None or self._state == _GONE:
            return
        self._paused = stop
        if stop:
            transport.pause_reading()
        else:
            transport.resume_reading()

    def eof_received(self) -> bool | None:
        return None  # close (as aiohttp's protocol does)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel_timer()
        self._deadline = None
        if self._state != _BUSY:  # a request being served gives its bytes back when done
            self._give_back()
        self._state = _GONE
        self._transport = None
        self._front.open.discard(self)
        if self._counted:
            self._counted = False
            self._connections.open -= 1

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    # -- requests ----------------------------------------------------------------------------

    def _next(self) -> None:
        """Parse the next request head in the buffer, if it is all there."""
        buf = self._buf
        if not buf:
            return
        if self._timer_kind == _IDLE:
            self._arm(_HEADER)  # the first bytes of a head: it has its time from now
        end = buf.find(_END)
        if end < 0:
            if len(buf) > MAX_HEAD or b"\n\n" in buf:
                self._hand_off()
            return
        size = end + len(_END)
        head = _Head()
        parser = httptools.HttpRequestParser(head)
        parsed = True
        try:
            parser.feed_data(bytes(buf[:size]))
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            parsed = False  # HttpParserUpgrade: a WebSocket (exec, port-forward) is aiohttp's
        if not parsed:
            self._hand_off()  # aiohttp answers it in its own way
            return
        accept = None
        if (
            parser.get_method() == b"POST"
            and parser.get_http_version() == "1.1"
            and not parser.should_upgrade()
        ):
            accept, headers, length = self._taken(head)
        if accept is None:
            self._hand_off()
            return
        del buf[:size]
        self._accept = accept
        self._headers = headers
        self._need = length
        self._keep = parser.should_keep_alive()
        self._state = _BODY
        self._body()

    def _taken(self, head: _Head) -> tuple[Accept | None, Headers | None, int]:
        """The pick's :data:`Accept` for a POST, its headers and its body's length."""
        headers = CIMultiDict(
            [
                (name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape"))
                for name, value in head.headers
            ]
        )
        if "Transfer-Encoding" in headers or "Expect" in headers:
            return None, None, 0
        lengths = headers.getall("Content-Length", ())
        if len(lengths) > 1 or (lengths and not lengths[0].isdigit()):
            return None, None, 0
        length = int(lengths[0]) if lengths else 0
        path = head.url.partition(b"?")[0]
        if length > self._front.max_body or b"%" in path or not path.isascii():
            return None, None, 0
        frozen = CIMultiDictProxy(headers)
        return self._front.pick(path.decode("ascii"), frozen), frozen, length

    def _body(self) -> None:
        """Take what arrived of the current body; serve the request once it is whole."""
        buf, need = self._buf, self._need
        if self._drop:  # answered 503 already: read the rest of the body, then the next head
            dropped = min(len(buf), need)
            del buf[:dropped]
            self._need = need = need - dropped
            if need:
                self._arm(_BODY_TIMER)
                return
            self._drop = False
            self._following()
            return
        arrived = min(len(buf), need) - self._held
        if arrived > 0:
            budget = self._budget
            if not budget.reserve(arrived):
                text = (
                    f"kawa holds {budget.held} bytes of request bodies, its limit is "
                    f"{budget.limit}: retry later"
                )
                self._give_back()
                self._drop = True
                if self._write(
                    Answer(503, json.dumps({"error": text}).encode(), "application/json", _RETRY)
                ):
                    self._body()
                return
            self._held += arrived
        if len(buf) < need:
            self._arm(_BODY_TIMER)  # something arrived: the body has its time from now
            return
        body = bytes(buf[:need]) if need else b""
        del buf[:need]
        self._state = _BUSY
        self._deadline = None
        accept, headers = self._accept, self._headers
        self._accept = self._headers = None
        if accept is None or headers is None:  # pragma: no cover (set with _BODY)
            return
        self._task = self._loop.create_task(self._serve(accept, headers, body))

    async def _serve(self, accept: Accept, headers: Headers, body: bytes) -> None:
        try:
            answer = await accept(headers, body)
        except Exception:
            log.exception("the lean ingress failed to serve a request")
            answer = Answer(500, b"internal error\n", "text/plain")
        finally:
            self._give_back()
            self._task = None
        if self._state == _GONE:
            return
        self._respond(answer)

    def _respond(self, answer: Answer) -> None:
        if self._write(answer):
            self._following()

    def _write(self, answer: Answer) -> bool:
        """Write ``answer``; False when the connection is (now) closed."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return False
        close = answer.close or not self._keep
        front = self._front
        transport.write(encode(answer, front.extra, front.date(self._loop.time()), close))
        if close:
            self._state = _GONE
            transport.close()
            return False
        return True

    def _following(self) -> None:
        """The current request is done: wait for (or parse) the next head."""
        self._state = _HEAD
        self._arm(_IDLE)
        self._next()
        self._flow()

    def _give_back(self) -> None:
        if self._held:
            self._budget.release(self._held)
            self._held = 0

    # -- hand-off to aiohttp -----------------------------------------------------------------

    def _hand_off(self) -> None:
        """Let aiohttp's protocol serve this connection from the first unserved byte on."""
        transport = self._transport
        self._state = _GONE
        self._cancel_timer()
        self._deadline = None
        self._front.open.discard(self)
        if self._counted:  # the inner protocol counts it
            self._counted = False
            self._connections.open -= 1
        if transport is None or transport.is_closing():
            return
        inner = self._inner()
        transport.set_protocol(inner)
        inner.connection_made(transport)
        if self._paused:
            self._paused = False
            transport.resume_reading()
        if self._buf:
            data = bytes(self._buf)
            self._buf.clear()
            inner.data_received(data)

    # -- timers (one callback, moved only when a deadline comes earlier) ---------------------

    def _arm(self, kind: int) -> None:
        limits = self._limits
        seconds = (
            limits.idle_timeout
            if kind == _IDLE
            else limits.header_timeout
            if kind == _HEADER
            else limits.body_timeout
        )
        deadline = self._loop.time() + seconds
        self._deadline = deadline
        self._timer_kind = kind
        if self._timer is None or self._timer_at > deadline:
            self._cancel_timer()
            self._timer = self._loop.call_at(deadline, self._check_deadline)
            self._timer_at = deadline

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check_deadline(self, polled: bool = False) -> None:
        self._timer = None
        deadline = self._deadline
        transport = self._transport
        if deadline is None or transport is None:
            return
        if self._loop.time() < deadline:
            self._timer = self._loop.call_at(deadline, self._check_deadline)
            self._timer_at = deadline
            return
        if not polled:  # bytes that came in time are read before the deadline is acted on
            self._timer = server.AfterAPoll(self._loop, self._check_deadline)
            return
        kind = self._timer_kind
        if kind == _HEADER and self._buf:
            seconds = self._limits.header_timeout
            text = f"the request head did not arrive within {seconds:g}s\n"
            transport.write(server.plain_answer("408 Request Timeout", text))
        elif kind == _BODY_TIMER and not self._drop:  # (a dropped body was answered 503)
            seconds = self._limits.body_timeout
            text = f"the request body stalled: nothing of it arrived for {seconds:g}s"
            answer = Answer(408, json.dumps({"error": text}).encode(), "application/json")
            transport.write(encode(answer, self._front.extra, b"", True))
        self._state = _GONE
        transport.close()
