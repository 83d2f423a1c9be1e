"""One HTTP/1.1 client connection: an asyncio protocol that writes a request and parses the answer.

Used only by :mod:`kawa.transport.http11`, whose pool owns these connections. One request at a
time per connection (no pipelining). The response parser handles what RFC 9112 section 6
asks of a client: interim 1xx answers are skipped; the body is framed by
``Transfer-Encoding: chunked`` (chunk extensions ignored, trailers read and dropped), else by
``Content-Length``, else by the close of the connection; 1xx, 204 and 304 answers have no
body. Anything else on the wire is a :class:`ProtocolError` and the connection is dropped.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, cast

from kawa import memo

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable

MAX_HEAD: Final = 65_536
"""Largest response head (status line and headers, or a trailer section) accepted, in bytes."""

_STATUS_LINE: Final = re.compile(r"HTTP/1\.([01]) ([0-9]{3})(?: [^\r\n]*)?")
_HEADER_LINE: Final = re.compile(r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*")
_CHUNK_SIZE: Final = re.compile(rb"([0-9A-Fa-f]{1,15})[ \t]*(?:;[^\r\n]*)?")

# parser states
_IDLE: Final = 0
_HEAD: Final = 1
_LENGTH: Final = 2
_CHUNK_SIZE_LINE: Final = 3
_CHUNK_DATA: Final = 4
_TRAILERS: Final = 5
_UNTIL_CLOSE: Final = 6


class HttpClientError(Exception):
    """A request got no usable response (the base of the client's errors)."""


class ConnectError(HttpClientError):
    """The connection to the server could not be opened."""


class ProtocolError(HttpClientError):
    """The server's answer is not valid HTTP/1.x (or is larger than allowed)."""


class NoResponseError(HttpClientError):
    """The connection closed before the first byte of a response arrived."""


# not frozen: made for every event, and a frozen dataclass's __init__ costs ~5x (one
# object.__setattr__ per field); never changed after it is made (ADR 0077)
@dataclass(slots=True)
class Response:
    """A complete response. ``headers`` has lower-case names; repeated headers are joined
    with ``", "`` (RFC 9110 section 5.3). ``raw_headers`` keeps every header line as received
    (name as sent, in order; a proxy needs ``Set-Cookie`` lines unjoined)."""

    status: int
    headers: dict[str, str]
    body: bytes
    raw_headers: tuple[tuple[str, str], ...] = ()


class Connection(asyncio.Protocol):
    """A keep-alive connection to one origin (see the module docstring).

    :meth:`exchange` writes one request and returns a future for its :class:`Response`; the
    future fails with :class:`ProtocolError`, :class:`NoResponseError` or ``TimeoutError``
    (at ``deadline``, a loop time). ``reusable`` says whether the pool may keep the
    connection after the response; ``on_lost`` is called once when the transport is gone.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        max_body: int,
        on_lost: Callable[[Connection], None],
    ) -> None:
        self.key: tuple[tuple[str, str, int], ssl.SSLContext | None] = (("", "", 0), None)
        """The pool's key: the origin (scheme, host, port) and the TLS trust it was verified
        with, set by the pool."""
        self.requests = 0
        """Requests started on this connection (a reused connection has ``requests >= 1``)."""
        self.idle_since = 0.0
        self.reusable = False
        self.closed = False
        self._loop = loop
        self._max_body = max_body
        self._on_lost = on_lost
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[Response] | None = None
        self._timer: asyncio.TimerHandle | None = None
        """The deadline check, at ``_timer_at``: moved only when a request's deadline comes
        earlier, left in place (and rescheduled when it fires early) when one ends, so that a
        kept-alive connection makes no timer per request."""
        self._timer_at = 0.0
        self._deadline: float | None = None
        """The deadline of the request in progress (``None``: none, or none waits)."""
        self._state = _IDLE
        self._buf = bytearray()
        self._received = False
        self._status = 0
        self._headers: dict[str, str] = {}
        self._raw_headers: tuple[tuple[str, str], ...] = ()
        self._head_request = False
        self._keep_alive = False
        self._remaining = 0
        self._body: list[bytes] = []
        self._body_size = 0

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast("asyncio.Transport", transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            if self._state == _UNTIL_CLOSE:
                self._finish(b"".join(self._body))
            elif not self._received:
                self._fail(NoResponseError("the server closed the connection without a response"))
            else:
                self._fail(ProtocolError("the server closed the connection mid-response"))
        self._cancel_timer()
        self._on_lost(self)

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():  # bytes nobody asked for: the stream is out of step
            self.abort()
            return
        self._received = True
        self._buf += data
        try:
            self._parse()
        except ProtocolError as exc:
            self._fail(exc)
            self.abort()

    def eof_received(self) -> bool | None:
        return None  # close our side too; connection_lost settles any response in progress

    # -- requests ------------------------------------------------------------------------------

    def exchange(
        self, data: bytes, deadline: float | None, *, head_request: bool = False
    ) -> asyncio.Future[Response]:
        """Write one request (head and body in ``data``) and return the future response.

        ``head_request``: the request is a ``HEAD``, whose response has no body whatever its
        headers say (RFC 9110 section 9.3.2).
        """
        transport = self._transport
        waiter = self._waiter = self._loop.create_future()
        self._head_request = head_request
        self.requests += 1
        self.reusable = False
        self._state = _HEAD
        self._received = False
        self._buf.clear()
        if transport is None or self.closed or transport.is_closing():
            self._fail(NoResponseError("the connection was closed before the request"))
            return waiter
        self._deadline = deadline
        if deadline is not None:
            timer = self._timer
            if timer is None or self._timer_at > deadline:
                if timer is not None:
                    timer.cancel()
                self._timer = self._loop.call_at(deadline, self._timed_out)
                self._timer_at = deadline
        transport.write(data)
        return waiter

    def abort(self) -> None:
        """Drop the connection at once (never reused)."""
        self.reusable = False
        self.closed = True
        if self._transport is not None:
            self._transport.abort()

    def close(self) -> None:
        """Close the connection gracefully."""
        self.reusable = False
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    def _timed_out(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None:  # the request it was set for has ended
            return
        if self._loop.time() < deadline:  # a later request's deadline: check then
            self._timer = self._loop.call_at(deadline, self._timed_out)
            self._timer_at = deadline
            return
        self._fail(TimeoutError("no complete response before the deadline"))
        self.abort()

    def _fail(self, exc: BaseException) -> None:
        self._state = _IDLE
        self.reusable = False
        self._cancel_timer()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def _finish(self, body: bytes) -> None:
        self._state = _IDLE
        self._deadline = None  # the timer stays for the next request (see ``_timer``)
        # leftover bytes after a complete response mean the stream is out of step
        self.reusable = self._keep_alive and not self._buf and not self.closed
        self._body = []
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(Response(self._status, self._headers, body, self._raw_headers))

    def _cancel_timer(self) -> None:
        self._deadline = None
        timer = self._timer
        if timer is not None:
            self._timer = None
            timer.cancel()

    # -- parsing -------------------------------------------------------------------------------

    def _parse(self) -> None:
        buf = self._buf
        while True:
            state = self._state
            if state == _HEAD:
                end = buf.find(b"\r\n\r\n")
                if end < 0 or end > MAX_HEAD:
                    if len(buf) > MAX_HEAD:
                        raise ProtocolError(f"response head larger than {MAX_HEAD} bytes")
                    return
                head = buf[:end].decode("latin-1")
                del buf[: end + 4]
                self._on_head(head)
                if self._state == _IDLE:
                    return
            elif state == _LENGTH:
                remaining = self._remaining
                if len(buf) < remaining:
                    return
                body = bytes(buf[:remaining])
                del buf[:remaining]
                self._finish(body)
                return
            elif state == _CHUNK_SIZE_LINE:
                end = buf.find(b"\r\n")
                if end < 0:
                    if len(buf) > 1024:
                        raise ProtocolError("chunk size line too long")
                    return
                match = _CHUNK_SIZE.fullmatch(buf, 0, end)
                if match is None:
                    raise ProtocolError(f"bad chunk size line {bytes(buf[:end][:40])!r}")
                size = int(match.group(1), 16)  # before the del: the match views the buffer
                del buf[: end + 2]
                if size == 0:
                    self._state = _TRAILERS
                    self._remaining = 0
                    continue
                self._add_body_size(size)
                self._remaining = size + 2
                self._state = _CHUNK_DATA
            elif state == _CHUNK_DATA:
                remaining = self._remaining
                if len(buf) < remaining:
                    return
                if buf[remaining - 2 : remaining] != b"\r\n":
                    raise ProtocolError("chunk data not followed by CRLF")
                self._body.append(bytes(buf[: remaining - 2]))
                del buf[:remaining]
                self._state = _CHUNK_SIZE_LINE
            elif state == _TRAILERS:
                end = buf.find(b"\r\n")
                if end < 0:
                    if len(buf) + self._remaining > MAX_HEAD:
                        raise ProtocolError(f"trailer section larger than {MAX_HEAD} bytes")
                    return
                del buf[: end + 2]
                if end == 0:
                    self._finish(b"".join(self._body))
                    return
                self._remaining += end  # trailers are read and dropped
            elif state == _UNTIL_CLOSE:
                if buf:
                    self._add_body_size(len(buf))
                    self._body.append(bytes(buf))
                    buf.clear()
                return
            else:
                return

    def _add_body_size(self, size: int) -> None:
        self._body_size += size
        if self._body_size > self._max_body:
            raise ProtocolError(f"response body larger than {self._max_body} bytes")

    def _on_head(self, head: str) -> None:
        minor, status, known, raw = _parse_head(head)
        if status < 200:
            if status == 101:
                raise ProtocolError("unexpected 101 Switching Protocols")
            return  # interim answer (100 Continue, 103 Early Hints): the real one follows
        headers = dict(known)  # the response's own: its reader may change it
        self._status = status
        self._headers = headers
        self._raw_headers = raw
        self._body = []
        self._body_size = 0
        connection = headers.get("connection", "").lower()
        if minor == "1":
            self._keep_alive = "close" not in connection
        else:
            self._keep_alive = "keep-alive" in connection
        if status in (204, 304) or self._head_request:
            self._finish(b"")
            return
        coding = headers.get("transfer-encoding")
        if coding is not None:
            self._keep_alive = False if "content-length" in headers else self._keep_alive
            if coding.rsplit(",", 1)[-1].strip().lower() == "chunked":
                self._state = _CHUNK_SIZE_LINE
            else:
                self._keep_alive = False
                self._state = _UNTIL_CLOSE
            return
        length = headers.get("content-length")
        if length is None:
            self._keep_alive = False
            self._state = _UNTIL_CLOSE
            return
        length = length.split(",", 1)[0].strip()
        if not length.isdigit() or not length.isascii():
            raise ProtocolError(f"bad Content-Length {length[:30]!r}")
        size = int(length)
        self._add_body_size(size)
        self._remaining = size
        self._state = _LENGTH


_Parsed = tuple[str, int, dict[str, str], tuple[tuple[str, str], ...]]
"""A response head: HTTP/1.x's minor version, the status, the headers (names in lowercase,
repeats joined), the header lines as sent."""


# A subscriber answers every delivery with the same head (its ``Date`` changes once a
# second): most heads are parsed once. A head of a few headers is ~100-300 characters.
@memo.short_keys(256, 1024)
def _parse_head(head: str) -> _Parsed:
    """The parts of a response head (without its final blank line); ProtocolError when it
    is malformed."""
    lines = head.split("\r\n")
    status_line = _STATUS_LINE.fullmatch(lines[0])
    if status_line is None:
        raise ProtocolError(f"bad status line {lines[0][:60]!r}")
    headers: dict[str, str] = {}
    raw: list[tuple[str, str]] = []
    for line in lines[1:]:
        match = _HEADER_LINE.fullmatch(line)
        if match is None:
            raise ProtocolError(f"bad header line {line[:60]!r}")
        value = match.group(2)
        raw.append((match.group(1), value))
        name = match.group(1).lower()
        if name in headers:
            if name == "content-length" and headers[name].split(",", 1)[0] != value:
                raise ProtocolError("conflicting Content-Length headers")
            value = headers[name] + ", " + value
        headers[name] = value
    return status_line.group(1), int(status_line.group(2)), headers, tuple(raw)
