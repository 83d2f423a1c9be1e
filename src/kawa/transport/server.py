"""The bounds of kawa's HTTP server: how long a client may take, and how much it may hold.

kawa serves one aiohttp application on two listeners (:func:`kawa.runtime.serve`): the
plain-HTTP port, which needs no token for the broker ingress and the routed Services, and the
HTTPS port of the API. Each is a :class:`BoundedSite`, whose connections are
:class:`BoundedRequestHandler` protocols enforcing :class:`ServerLimits`:

* **Header timeout**: a request head (request line and headers) must arrive in full within
  ``header_timeout`` seconds, counted from the accept for a new connection (and from the
  first byte of each later request on a kept-alive one). A connection that trickles its head
  (slowloris) gets ``408 Request Timeout`` and is closed; one that sent nothing is closed.
  On the HTTPS port the TLS handshake has the same time.
* **Idle timeout**: a kept-alive connection that sends no byte of a next request for
  ``idle_timeout`` seconds after a response is closed. A request in progress is never idle:
  a watch that streams (or waits) for hours, or a request whose handler takes long, is cut
  by neither timer.
* **Connection cap**: each listener holds at most ``max_connections`` connections. One more
  is still accepted, answered ``503 Service Unavailable`` (``Retry-After``,
  ``Connection: close``) once its request head arrives (or after a second at most), and
  closed; the listener keeps serving the connections it holds.
* **Bodies**: ``body_timeout`` and the :class:`BodyBudget` of ``max_buffered_bytes`` shared
  by both listeners are read by :func:`kawa.transport.bodies.read`, which the handlers use
  for every body they read.

:func:`fit_file_limit` raises the process's soft limit of open files so that both caps fit
under it, or says which limit does not fit.

The handler protocol subclasses aiohttp's ``RequestHandler`` and reads two of its attributes:
``_waiter`` (pending while it waits for a request head, the test aiohttp's own keep-alive
timer makes) and ``_request_count`` (request heads parsed on the connection; both since
aiohttp 3.9). ``tests/transport/test_server.py`` holds them to their meaning (ADR "bounded
HTTP listeners").
"""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol

from aiohttp import web
from yarl import URL

log = logging.getLogger(__name__)

DEFAULT_HEADER_TIMEOUT: Final = 10.0
DEFAULT_IDLE_TIMEOUT: Final = 60.0
DEFAULT_BODY_TIMEOUT: Final = 60.0
DEFAULT_MAX_CONNECTIONS: Final = 1000
DEFAULT_MAX_BUFFERED_BYTES: Final = 128 * 1024 * 1024

REJECT_WAIT: Final = 1.0
"""Seconds a connection over the cap may take to send its request head before its 503."""
REJECT_HEAD_BYTES: Final = 16 * 1024
"""Bytes of a rejected connection's head read before answering anyway."""
FILE_HEADROOM: Final = 512
"""Open files kept for kawa itself (databases, Pods' pipes, outgoing deliveries)."""


class AfterAPoll:
    """Calls ``callback(True)`` once the loop has polled its sockets again: a deadline found
    passed (perhaps late, on a busy loop) must not close a connection whose next bytes already
    wait in the kernel; they are read first (the first step runs before that poll's reads, the
    second after them, on asyncio's loop and on uvloop's). :meth:`cancel` cancels whichever
    step is pending, as a timer's handle would."""

    __slots__ = ("_callback", "_handle", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[bool], None]) -> None:
        self._loop = loop
        self._callback = callback
        self._handle = loop.call_soon(self._polled)

    def _polled(self) -> None:
        self._handle = self._loop.call_soon(self._callback, True)

    def cancel(self) -> None:
        self._handle.cancel()


def plain_answer(status: str, text: str, extra: str = "") -> bytes:
    """A whole plain-text response that closes the connection, for a client kawa refuses
    before any request of it reaches the application."""
    body = text.encode()
    head = (
        f"HTTP/1.1 {status}\r\nConnection: close\r\n{extra}Content-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _over_capacity(limit: int) -> bytes:
    return plain_answer(
        "503 Service Unavailable",
        f"kawa holds its limit of {limit} connections on this port; retry later\n",
        "Retry-After: 1\r\n",
    )


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """The bounds of kawa's HTTP listeners (the flags of ``kawa up``; see the module)."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    """Seconds for a whole request head (``--header-timeout``)."""
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    """Seconds a kept-alive connection may wait for its next request (``--idle-timeout``)."""
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    """Seconds a request body may stall, nothing of it arriving (``--body-timeout``)."""
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    """Connections held at once on each listener (``--max-connections``)."""
    max_buffered_bytes: int = DEFAULT_MAX_BUFFERED_BYTES
    """Bytes of request bodies held at once by all requests (``--max-buffered-bytes``)."""


class BodyBudget:
    """The bytes of request bodies the server holds at once, shared by all its listeners."""

    __slots__ = ("held", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    def reserve(self, size: int) -> bool:
        """Take ``size`` bytes of the budget; False (nothing taken) when they are not left."""
        if self.held + size > self.limit:
            return False
        self.held += size
        return True

    def release(self, size: int) -> None:
        self.held -= size


class Connections:
    """The connections one listener holds, against its cap."""

    __slots__ = ("limit", "open", "rejecting")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self.rejecting: set[asyncio.Transport] = set()
        """Connections over the cap, waiting for their request head to be answered 503."""


class BoundedRequestHandler(web.RequestHandler):
    """aiohttp's connection protocol with the header timeout and the connection cap."""

    __slots__ = (
        "_admitted",
        "_connections",
        "_deadline",
        "_hang_up",
        "_head_bytes",
        "_rejected",
        "_rejected_head",
        "_timer",
        "_timer_at",
        "_timer_count",
        "_timer_head",
        "budget",
        "limits",
    )

    def __init__(
        self,
        manager: web.Server,
        *,
        loop: asyncio.AbstractEventLoop,
        limits: ServerLimits,
        budget: BodyBudget,
        connections: Connections,
        **options: Any,
    ) -> None:
        # aiohttp's keep-alive timer only backs this class's timers up: it closes a connection
        # waiting for a head (idle or not) a while after the last response, later than they do
        backstop = limits.idle_timeout + limits.header_timeout
        super().__init__(manager, loop=loop, keepalive_timeout=backstop, **options)
        self.limits = limits
        self.budget = budget
        self._connections = connections
        self._admitted = False
        self._deadline: float | None = None
        """When the awaited head must be in (its first byte, for the idle timer); None when
        no head is awaited (a request in progress)."""
        self._timer: asyncio.Handle | AfterAPoll | None = None
        """The callback that checks the deadline, at ``_timer_at``: it is moved only when a
        deadline comes earlier, and the check puts it off to a later one, so that a kept-alive
        connection makes no timer per request."""
        self._timer_at = 0.0
        self._timer_head = False
        """Whether the deadline is the header timeout's (else the idle timeout's)."""
        self._timer_count = 0
        """``_request_count`` when the timer was armed: once it moves, a head came in."""
        self._head_bytes = False
        """Whether any of the awaited head arrived (then a late head gets a 408)."""
        self._hang_up = False
        """Close the connection once the current response is sent (a stalled body)."""
        self._rejected: asyncio.Transport | None = None
        self._rejected_head: bytes | None = b""
        """What a connection over the cap sent of its head; None once it is answered."""

    # -- admitted connections ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        connections = self._connections
        if connections.open >= connections.limit:
            self._reject(transport)  # type: ignore[arg-type]
            return
        connections.open += 1
        self._admitted = True
        super().connection_made(transport)
        self._arm(head=True)  # the first head has its time from the accept

    def data_received(self, data: bytes) -> None:
        if not self._admitted:
            self._rejected_data(data)
            return
        if self._timer_head:  # a head on its way: done once the parser counts it
            self._head_bytes = True
            super().data_received(data)
            if self._request_count != self._timer_count:
                self._disarm()
            return
        waiter = self._waiter
        if waiter is None or waiter.done():  # a request in progress: its body, or the next
            super().data_received(data)
            return
        # the first bytes of a head after an idle time: the head has its time from now
        self._disarm()
        super().data_received(data)
        if not waiter.done():
            self._arm(head=True)
            self._head_bytes = True

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        self._cancel_timer()
        if not self._admitted:
            self._rejected_lost()
            return
        self._admitted = False
        self._connections.open -= 1
        super().connection_lost(exc)

    def hang_up_after_response(self) -> None:
        """Close the connection as soon as the current response is sent, without reading what
        is left of the request body first (aiohttp would linger for it): the client stalled."""
        self._hang_up = True

    async def finish_response(
        self, request: web.BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        result = await super().finish_response(request, resp, start_time)
        if self._hang_up:
            self.force_close()
        elif resp.keep_alive:
            self._arm(head=False)  # idle until the next request's first byte
        return result

    def _arm(self, *, head: bool) -> None:
        limits = self.limits
        deadline = self._loop.time() + (limits.header_timeout if head else limits.idle_timeout)
        self._deadline = deadline
        self._timer_head = head
        self._timer_count = self._request_count
        self._head_bytes = False
        if self._timer is None or self._timer_at > deadline:
            self._cancel_timer()
            self._timer = self._loop.call_at(deadline, self._check_deadline)
            self._timer_at = deadline

    def _disarm(self) -> None:
        self._deadline = None
        self._timer_head = False

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check_deadline(self, polled: bool = False) -> None:
        """Close the connection if it still waits for the head the deadline was set for (once
        the sockets were polled after the deadline passed)."""
        self._timer = None
        deadline = self._deadline
        if deadline is None:
            return
        if self._loop.time() < deadline:  # set again since the timer was: check then
            self._timer = self._loop.call_at(deadline, self._check_deadline)
            self._timer_at = deadline
            return
        if not polled:
            self._timer = AfterAPoll(self._loop, self._check_deadline)
            return
        head = self._timer_head
        self._disarm()
        transport = self.transport
        waiter = self._waiter
        waiting = waiter is not None and not waiter.done()
        if self._request_count != self._timer_count or not waiting or transport is None:
            return  # a request came in (and may be in progress): not idle, not late
        if head and self._head_bytes:
            seconds = self.limits.header_timeout
            text = f"the request head did not arrive within {seconds:g}s\n"
            transport.write(plain_answer("408 Request Timeout", text))
        self.force_close()

    # -- connections over the cap -----------------------------------------------------------

    def _reject(self, transport: asyncio.Transport) -> None:
        self._rejected = transport
        self._connections.rejecting.add(transport)
        self._timer = self._loop.call_later(REJECT_WAIT, self._answer_rejected)

    def _rejected_data(self, data: bytes) -> None:
        if self._rejected_head is None:  # answered: the rest is read and dropped
            return
        head = self._rejected_head + data
        if b"\r\n\r\n" in head or b"\n\n" in head or len(head) >= REJECT_HEAD_BYTES:
            self._answer_rejected()
        else:
            self._rejected_head = head

    def _answer_rejected(self) -> None:
        transport = self._rejected
        self._cancel_timer()
        if transport is None or transport.is_closing():
            return
        self._rejected_head = None
        transport.write(_over_capacity(self._connections.limit))
        if transport.can_write_eof():
            # half-close, and drop what the client still sends (a body) until it closes: a
            # close with unread data would reset the connection before the 503 is read
            transport.write_eof()
            self._timer = self._loop.call_later(REJECT_WAIT, transport.close)
        else:
            transport.close()

    def _rejected_lost(self) -> None:
        if self._rejected is not None:
            self._connections.rejecting.discard(self._rejected)
            self._rejected = None


class Front(Protocol):
    """A protocol put in front of aiohttp's on a listener's connections
    (:class:`kawa.transport.lean.LeanFront`), which hands them to aiohttp's as it likes."""

    def bind(
        self,
        inner: Callable[[], BoundedRequestHandler],
        limits: ServerLimits,
        budget: BodyBudget,
        connections: Connections,
    ) -> Callable[[], asyncio.Protocol]:
        """The listener's protocol factory, given the one of aiohttp's protocol."""
        ...

    def close(self) -> None:
        """Close the connections it still holds."""
        ...


class BoundedSite(web.BaseSite):
    """A listening socket serving the runner's application with :class:`ServerLimits`.

    ``options`` are aiohttp ``RequestHandler`` options (``max_line_size``, ``access_log``...);
    the runner's own handler options are not used by this site's connections. With ``front``
    (the lean ingress path), each connection starts on the front's protocol.
    """

    __slots__ = ("_budget", "_front", "_limits", "_name", "_options", "_sock", "connections")

    def __init__(
        self,
        runner: web.BaseRunner,
        sock: socket.socket,
        *,
        limits: ServerLimits,
        budget: BodyBudget,
        ssl_context: ssl.SSLContext | None = None,
        backlog: int = 128,
        front: Front | None = None,
        **options: Any,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        self._front = front
        self._sock = sock
        host, port = sock.getsockname()[:2]
        scheme = "https" if ssl_context else "http"
        self._name = str(URL.build(scheme=scheme, host=host, port=port))
        self._limits = limits
        self._budget = budget
        self._options = options
        self.connections = Connections(limits.max_connections)

    @property
    def name(self) -> str:
        return self._name

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        manager = self._runner.server
        if manager is None:
            raise RuntimeError("call runner.setup() before starting a site")
        limits, budget, connections = self._limits, self._budget, self.connections
        options = self._options

        def protocol() -> BoundedRequestHandler:
            return BoundedRequestHandler(
                manager,
                loop=loop,
                limits=limits,
                budget=budget,
                connections=connections,
                **options,
            )

        factory: Callable[[], asyncio.Protocol] = protocol
        if self._front is not None:
            factory = self._front.bind(protocol, limits, budget, connections)
        self._server = await loop.create_server(
            factory,
            sock=self._sock,
            ssl=self._ssl_context,
            backlog=self._backlog,
            ssl_handshake_timeout=limits.header_timeout if self._ssl_context else None,
        )

    async def stop(self) -> None:
        await super().stop()
        if self._front is not None:
            self._front.close()
        for transport in list(self.connections.rejecting):
            transport.abort()


def fit_file_limit(max_connections: int, listeners: int = 2) -> str | None:
    """Raise the soft limit of open files (up to the hard limit) to hold ``listeners`` full
    caps of ``max_connections`` and some headroom; a warning when they cannot fit."""
    needed = listeners * max_connections + FILE_HEADROOM
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return None
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if wanted > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError) as err:
            log.debug("cannot raise the open-file limit to %d: %s", wanted, err)
    if soft >= needed:
        return None
    return (
        f"the open-file limit ({soft}) is below what --max-connections {max_connections} "
        f"needs on {listeners} ports ({needed}); past it, connections fail instead of getting "
        "503: raise it (ulimit -n) or lower --max-connections"
    )
