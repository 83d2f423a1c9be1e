"""A lean HTTP/1.1 client for POSTing events: keep-alive pool on asyncio protocols.

:class:`~kawa.delivery.sender.Dispatcher` calls :meth:`HttpClient.prepare` once per delivery
(URL parsed once and cached, request head encoded once) and :meth:`HttpClient.send` per
attempt. The serving router (:mod:`kawa.serving.router`) forwards requests of any method with
:meth:`HttpClient.request`. It does what they need and nothing else: no
redirects, no cookies, no compression, no invented headers (only ``Host`` and
``Content-Length`` are added), no proxies from the environment.

* **Pool**: idle keep-alive connections per origin (scheme, host, port), the most recently used
  first; no per-origin limit, at most ``limit`` connections open in all (when full, an idle
  connection of another origin is closed, else the request waits for a free slot). Idle
  connections are closed after ``keepalive_timeout`` seconds.
* **Timeout**: ``timeout`` covers the whole request (waiting for a slot, connecting, writing,
  reading the response). A connection that timed out is closed, never reused.
* **Stale connections**: a request on a *reused* connection that got no response byte at all
  before the connection closed (the server closed it while idle) is retried once on a new
  connection: nothing was processed. A request on a new connection is never retried here.
* **Responses**: see :mod:`kawa.transport._http11_connection` (1xx skipped, chunked with
  trailers, Content-Length, read until close; bodies over ``max_body`` bytes fail).
* ``https://`` uses TLS through ``loop.create_connection(ssl=...)`` (the default context: the
  system's CAs, hostname checked) unless an ``ssl_context`` is given, to the client or to one
  request (:meth:`HttpClient.prepare`: a destination with trust of its own, its ``CACerts``).
  The pool keeps connections per origin *and* context: a connection verified against one
  context is never reused for a request that asks for another (ADR 0067).

Errors are :class:`HttpClientError` subclasses (:class:`ConnectError`, :class:`ProtocolError`,
:class:`NoResponseError`, :class:`InvalidURLError`) or ``TimeoutError``.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import re
import ssl as ssl_module
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote, urlsplit

from kawa.transport._http11_connection import (
    ConnectError,
    Connection,
    HttpClientError,
    NoResponseError,
    ProtocolError,
    Response,
)

__all__ = [
    "ConnectError",
    "HttpClient",
    "HttpClientError",
    "InvalidURLError",
    "NoResponseError",
    "PreparedRequest",
    "ProtocolError",
    "Response",
]

DEFAULT_LIMIT: Final = 1000
"""Connections open at once across all origins."""

DEFAULT_MAX_BODY: Final = 16 * 1024 * 1024
"""Largest response body accepted (bytes); a larger one fails the request."""

DEFAULT_KEEPALIVE_TIMEOUT: Final = 15.0
"""Seconds an idle connection is kept for reuse."""

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_URL_CACHE_SIZE: Final = 4096
_METHOD: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})

Origin = tuple[str, str, int]
PoolKey = tuple[Origin, ssl_module.SSLContext | None]
"""What the pool keeps connections by: the origin and, for ``https``, the context that
verified the server (``None`` for plain HTTP)."""
ConnectTo = Callable[[str, int], tuple[str, int] | None]
"""``connect_to(host, port)``: the address to connect to for a URL's host and port, or None."""


class InvalidURLError(HttpClientError):
    """The URL is not an absolute ``http://`` or ``https://`` URL with a host."""


@dataclass(frozen=True, slots=True)
class _Target:
    origin: Origin
    start: str
    """``POST <path> HTTP/1.1\\r\\nHost: <host>\\r\\n`` plus any Authorization line."""
    after_method: str
    """``start`` without its ``POST`` method, for requests of other methods."""


# not frozen: made for every event, and a frozen dataclass's __init__ costs ~5x (one
# object.__setattr__ per field); never changed after it is made (ADR 0077)
@dataclass(slots=True)
class PreparedRequest:
    """A POST ready to go on the wire: ``data`` is its head and body, encoded once;
    ``ssl_context`` the trust an ``https`` origin is verified with (``None``: the client's)."""

    origin: Origin
    data: bytes
    ssl_context: ssl_module.SSLContext | None = None


class HttpClient:
    """The pool and its requests (see the module docstring). Create it on a running loop."""

    def __init__(
        self,
        *,
        limit: int = DEFAULT_LIMIT,
        max_body: int = DEFAULT_MAX_BODY,
        keepalive_timeout: float = DEFAULT_KEEPALIVE_TIMEOUT,
        ssl_context: ssl_module.SSLContext | None = None,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        self._loop = asyncio.get_running_loop()
        self._limit = limit
        self._max_body = max_body
        self._keepalive_timeout = keepalive_timeout
        self._ssl_context = ssl_context
        self._targets: dict[str, _Target] = {}
        self._idle: dict[PoolKey, list[Connection]] = {}
        self._connections: set[Connection] = set()
        self._opening = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._sweeper: asyncio.TimerHandle | None = None
        self._closed = False
        self.connect_to: ConnectTo | None = None
        """Where to connect for a plain ``http://`` host and port instead of the URL's own
        (``None``: the URL's); the request keeps its URL's ``Host``, like curl's
        ``--connect-to``. kawa points cluster names (``*.svc.cluster.local``) at itself."""

    @property
    def open_connections(self) -> int:
        """Connections open or being opened now (idle and busy)."""
        return len(self._connections) + self._opening

    def prepare(
        self,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        ssl_context: ssl_module.SSLContext | None = None,
    ) -> PreparedRequest:
        """Encode a POST of ``body`` with ``headers`` to ``url``, once for all its attempts;
        an ``https`` URL's server is verified with ``ssl_context`` (``None``: the client's).

        Raises :class:`InvalidURLError` for a URL that cannot be used and ``ValueError`` for a
        header name or value containing a line break.
        """
        target = self._target(url)
        lines = "".join([f"{name}: {value}\r\n" for name, value in headers.items()])
        if lines.count("\n") != len(headers) or lines.count("\r") != len(headers):
            raise ValueError("header names and values must not contain line breaks")
        head = f"{target.start}{lines}Content-Length: {len(body)}\r\n\r\n".encode()
        return PreparedRequest(target.origin, head + body if body else head, ssl_context)

    async def post(
        self, url: str, headers: Mapping[str, str], body: bytes, timeout: float | None
    ) -> Response:
        """:meth:`prepare` and :meth:`send` in one call."""
        return await self.send(self.prepare(url, headers, body), timeout)

    async def send(self, request: PreparedRequest, timeout: float | None) -> Response:
        """Send ``request`` and return the complete response (see the module docstring)."""
        key = self._pool_key(request.origin, request.ssl_context)
        return await self._send(key, request.data, timeout, head_request=False)

    async def request(
        self,
        method: str,
        url: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        timeout: float | None,
    ) -> Response:
        """Send one request of any ``method`` and return the complete response.

        ``headers`` are sent as given (repeats allowed) after ``Host``; ``Content-Length`` is
        added when there is a body or the method is POST, PUT or PATCH, so ``headers`` must
        not carry ``Host``, ``Content-Length`` or ``Transfer-Encoding``. Errors as
        :meth:`prepare` and :meth:`send`; ``ValueError`` for an invalid method.
        """
        if _METHOD.fullmatch(method) is None:
            raise ValueError(f"invalid HTTP method {method[:30]!r}")
        target = self._target(url)
        parts = [method, " ", target.after_method]
        count = 0
        for name, value in headers:
            parts += (name, ": ", value, "\r\n")
            count += 1
        if body or method in _BODY_METHODS:
            parts.append(f"Content-Length: {len(body)}\r\n")
            count += 1
        parts.append("\r\n")
        head = "".join(parts)
        lines = target.after_method.count("\n") + count + 1
        if head.count("\n") != lines or head.count("\r") != lines:
            raise ValueError("header names and values must not contain line breaks")
        data = head.encode("latin-1") + body if body else head.encode("latin-1")
        key = self._pool_key(target.origin, None)
        return await self._send(key, data, timeout, head_request=method == "HEAD")

    def _pool_key(self, origin: Origin, ssl_context: ssl_module.SSLContext | None) -> PoolKey:
        """``origin`` with the context that verifies it (``None`` for plain HTTP)."""
        if origin[0] != "https":
            return origin, None
        context = ssl_context or self._ssl_context
        if context is None:
            context = self._ssl_context = ssl_module.create_default_context()
        return origin, context

    async def _send(
        self, key: PoolKey, data: bytes, timeout: float | None, *, head_request: bool
    ) -> Response:
        if self._closed:
            raise HttpClientError("the HTTP client is closed")
        loop = self._loop
        deadline = None if timeout is None else loop.time() + timeout
        conn = self._take_idle(key)
        if conn is not None:
            try:
                return await self._exchange(conn, data, deadline, head_request)
            except NoResponseError:
                if self._closed:
                    raise
                # the server closed this idle connection: once more on a new one
        async with asyncio.timeout_at(deadline):
            conn = await self._connect(key)
        return await self._exchange(conn, data, deadline, head_request)

    def _target(self, url: str) -> _Target:
        target = self._targets.get(url)
        if target is None:
            target = _parse_url(url)
            if len(self._targets) >= _URL_CACHE_SIZE:
                self._targets.clear()
            self._targets[url] = target
        return target

    async def close(self) -> None:
        """Close every connection; later requests fail."""
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for conn in list(self._connections):
            conn.close()
        self._idle.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
        await asyncio.sleep(0)  # let the transports run connection_lost

    # -- connections ---------------------------------------------------------------------------

    async def _exchange(
        self, conn: Connection, data: bytes, deadline: float | None, head_request: bool = False
    ) -> Response:
        try:
            response = await conn.exchange(data, deadline, head_request=head_request)
        except BaseException:
            conn.abort()  # failed, timed out or cancelled mid-request: never reuse it
            raise
        if conn.reusable and not self._closed:
            conn.idle_since = self._loop.time()
            self._idle.setdefault(conn.key, []).append(conn)
            self._wake()
            self._schedule_sweep()
        else:
            conn.close()
        return response

    def _take_idle(self, key: PoolKey) -> Connection | None:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        return None

    async def _connect(self, key: PoolKey) -> Connection:
        while self.open_connections >= self._limit:
            if not self._evict_idle():
                waiter = self._loop.create_future()
                self._waiters.append(waiter)
                try:
                    await waiter
                except BaseException:
                    if waiter.done() and not waiter.cancelled():
                        self._wake()  # woken but leaving: pass the turn on
                    waiter.cancel()
                    raise
                if self._closed:
                    raise HttpClientError("the HTTP client is closed")
                conn = self._take_idle(key)
                if conn is not None:
                    return conn
        (scheme, host, port), ssl = key
        address = (host, port)
        if scheme == "http" and self.connect_to is not None:
            address = self.connect_to(host, port) or address
        self._opening += 1
        try:
            _, conn = await self._loop.create_connection(
                self._new_connection, *address, ssl=ssl, server_hostname=host if ssl else None
            )
        except OSError as exc:
            raise ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        finally:
            self._opening -= 1
            self._wake()
        conn.key = key
        self._connections.add(conn)
        return conn

    def _new_connection(self) -> Connection:
        return Connection(self._loop, self._max_body, self._lost)

    def _lost(self, conn: Connection) -> None:
        self._connections.discard(conn)
        idle = self._idle.get(conn.key)
        if idle is not None and conn in idle:
            idle.remove(conn)
        self._wake()

    def _evict_idle(self) -> bool:
        oldest: Connection | None = None
        for idle in self._idle.values():
            if idle and (oldest is None or idle[0].idle_since < oldest.idle_since):
                oldest = idle[0]
        if oldest is None:
            return False
        self._idle[oldest.key].remove(oldest)
        self._connections.discard(oldest)
        oldest.close()
        return True

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _schedule_sweep(self) -> None:
        if self._sweeper is None:
            self._sweeper = self._loop.call_later(self._keepalive_timeout, self._sweep)

    def _sweep(self) -> None:
        self._sweeper = None
        expired = self._loop.time() - self._keepalive_timeout
        for key, idle in list(self._idle.items()):
            while idle and idle[0].idle_since <= expired:
                conn = idle.pop(0)
                self._connections.discard(conn)
                conn.close()
            if not idle:
                del self._idle[key]
        if self._idle:
            self._schedule_sweep()


def _parse_url(url: str) -> _Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidURLError(f"invalid URL {url!r}: {exc}") from None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        raise InvalidURLError(f"invalid URL {url!r}: expected http:// or https:// and a host")
    if port is None:
        port = _DEFAULT_PORTS[scheme]
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    if any(c in path for c in " \r\n"):
        raise InvalidURLError(f"invalid URL {url!r}: whitespace in the path")
    netloc_host = f"[{host}]" if ":" in host else host
    host_header = netloc_host if port == _DEFAULT_PORTS[scheme] else f"{netloc_host}:{port}"
    after_method = f"{path} HTTP/1.1\r\nHost: {host_header}\r\n"
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        after_method += (
            f"Authorization: Basic {base64.b64encode(credentials.encode()).decode()}\r\n"
        )
    return _Target((scheme, host, port), "POST " + after_method, after_method)
