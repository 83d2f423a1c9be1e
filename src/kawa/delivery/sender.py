"""Outbound HTTP for events: one event to one subscriber, with retries, replies and dead letters.

The only place in kawa that POSTs events. A :class:`Dispatcher` owns one
:class:`~kawa.transport.http11.HttpClient` whose keep-alive pool every delivery shares; the
broker's per-trigger consumers, the channel dispatchers and the sources hold one Dispatcher for
the life of the process (``async with Dispatcher() as dispatcher``) and call
:meth:`Dispatcher.send` per event, then :meth:`Dispatcher.dead_letter` when the result failed
and a dead-letter sink is configured.

Per knative/specs ``data-plane.md`` and Knative's ``pkg/kncloudevents/event_dispatcher.go``:

* The event is encoded once per delivery (binary by default, ``json`` = structured) and POSTed
  with ``Prefer: reply``, ``Kn-Namespace`` and the forwarded headers of
  :mod:`kawa.delivery.headers`. Redirects are not followed: a 3xx is a failure that is not
  retried. Its data is sent exactly as stored.
* Attempts follow the :class:`~kawa.delivery.policy.RetryPolicy`; each has its own timeout
  (``policy.timeout``, else the dispatcher's ``default_timeout``: Knative sets none, kawa
  defaults to 300 s, Knative Serving's default request timeout, so that a stuck subscriber
  cannot hold a delivery forever). Connection errors and timeouts count as retriable failures.
* A 2xx answer carrying a CloudEvent is a reply, except with 202 (never a reply, its body is
  ignored). An empty 2xx completes the delivery. A non-empty 2xx that is not a CloudEvent, or a
  CloudEvent that cannot be parsed, is a failed attempt and is retried (Knative's broker filter
  answers 502 for it, so its dead letter carries ``knativeerrorcode: 502``).
* An ``https`` receiver is verified against the senders' :class:`~kawa.delivery.trust.Trust`
  (the system's CAs, kawa's own, the trust bundles) plus the destination's ``CACerts``; a
  receiver that does not verify is a connection error (retried), saying how to trust it.
* Dead letters carry the original event plus ``knativeerrordest``/``code``/``data`` and are
  delivered with the same retry policy (as Knative does); any 2xx from the sink completes them.
  A connection error or timeout is reported as code 500 with data ``dispatch error: ...``
  (Knative's ``executeRequest``).
* With an ``overload`` hook (the consumer's backpressure, for a subscriber known to scale: a
  Knative Service), a 429 or 503 answer is handed to it first: when it answers ``True`` (it
  waited as the subscriber asked), the request is sent again and the answer does not count
  as an attempt of the retry policy, for :data:`OVERLOAD_HOLD_MAX` seconds of one delivery at
  most.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Final

from kawa.apis.duck import DeliveryFormat
from kawa.cloudevents import http as cehttp
from kawa.cloudevents.event import CloudEvent
from kawa.delivery import headers as delivery_headers
from kawa.delivery import tracing
from kawa.delivery.headers import Headers
from kawa.delivery.policy import RetryPolicy, should_retry
from kawa.delivery.trust import BadCACerts, Trust
from kawa.errors import KawaError, ValidationError
from kawa.transport.http11 import ConnectTo, HttpClient, HttpClientError, PreparedRequest

AUTHORIZATION: Final = "Authorization"

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]
Overload = Callable[[int, str | None], Awaitable[bool]]
"""Called with an overload answer's status (429 or 503) and its ``Retry-After`` (or
``None``); ``True``: it waited, send again without counting the attempt; ``False``: count it
as the retry policy says."""

OVERLOAD_HOLD_MAX: Final = 60.0
"""Seconds one delivery's 429/503 answers are waited out at most (from its first one): past
them they count as attempts, so one event a Service always refuses reaches its dead letter
instead of holding its trigger while the Service serves the others."""

OVERLOAD_STATUSES: Final = frozenset({429, 503})
"""The answers a subscriber that scales gives when it is full for now (Knative's activator and
queue-proxy answer 503; a rate limiter 429)."""

DEFAULT_REQUEST_TIMEOUT: Final = 300.0
"""Per-attempt timeout (seconds) when the delivery spec sets none."""

DEFAULT_CONNECTION_LIMIT: Final = 1000
"""Open connections the pool may hold at once, across all subscribers (no per-host limit)."""

ERROR_CODE_NO_RESPONSE: Final = 500
"""``knativeerrorcode`` when no response came back (Knative's ``executeRequest``)."""

ERROR_CODE_BAD_REPLY: Final = 502
"""``knativeerrorcode`` for a 2xx whose body is not a valid CloudEvent (Knative's broker filter)."""

_NOT_A_CLOUDEVENT: Final = "non-empty response is not a CloudEvent"
_UNTRUSTED: Final = (
    " (the receiver's certificate does not verify against the system's CAs, kawa's, the trust"
    " bundles or the destination's CACerts: add its CA to the destination's CACerts or to a"
    ' ConfigMap in knative-eventing labelled networking.knative.dev/trust-bundle: "true")'
)


# not frozen: made for every event, and a frozen dataclass's __init__ costs ~5x (one
# object.__setattr__ per field); never changed after it is made (ADR 0077)
@dataclass(slots=True)
class DeliveryResult:
    """How a delivery ended.

    ``status`` is the last answer's HTTP status (``None``: no answer, connection error or
    timeout); ``attempts`` how many requests were made; ``reply`` the CloudEvent the subscriber
    answered with, if any; ``response_body`` the last answer's body; ``error`` what went wrong
    when ``ok`` is false.
    """

    ok: bool
    status: int | None
    attempts: int
    reply: CloudEvent | None = None
    response_body: bytes = b""
    error: str | None = None

    @property
    def error_code(self) -> int:
        """The ``knativeerrorcode`` of this result's dead letter."""
        status = self.status
        if status is None:
            return ERROR_CODE_NO_RESPONSE
        if 200 <= status < 300:
            return ERROR_CODE_BAD_REPLY
        return status

    @property
    def error_data(self) -> bytes:
        """The bytes reported (base64) as ``knativeerrordata`` in this result's dead letter."""
        if self.status is None:
            return f"dispatch error: {self.error}".encode()
        return self.response_body


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a delivery is sent as (authentication-oidc): a ServiceAccount, whose token for the
    receiver's audience goes out as ``Authorization: Bearer <token>``."""

    namespace: str
    service_account: str


TokenSource = Callable[[str, str, str], Awaitable[str]]
"""``(namespace, service account, audience) -> token``: an OIDC token of the ServiceAccount for
that audience (cached by the source; raises :class:`~kawa.errors.KawaError` when it cannot)."""


# not frozen: made for every event, and a frozen dataclass's __init__ costs ~5x (one
# object.__setattr__ per field); never changed after it is made (ADR 0077)
@dataclass(slots=True)
class Attempt:
    """One attempt of a delivery, for the lineage record (:mod:`kawa.dispatch.lineage`):
    when it started (unix time), the answer's status (``None``: none), how long it took
    (seconds) and what went wrong (``None``: it succeeded)."""

    at: float
    status: int | None
    seconds: float
    error: str | None


# not frozen: made for every event, and a frozen dataclass's __init__ costs ~5x (one
# object.__setattr__ per field); never changed after it is made (ADR 0077)
@dataclass(slots=True)
class _Outcome:
    """One attempt: ``ok``, or a failure that is ``retryable`` (or not)."""

    ok: bool
    status: int | None
    retryable: bool
    body: bytes = b""
    reply: CloudEvent | None = None
    error: str | None = None
    retry_after: str | None = None


# not frozen: made for every event, and a frozen dataclass's __init__ costs ~5x (one
# object.__setattr__ per field); never changed after it is made (ADR 0077)
@dataclass(slots=True)
class _Request:
    """What every attempt of one delivery sends: built once, reused per attempt."""

    prepared: PreparedRequest | None
    """The encoded request; ``None`` when it could not be built (see ``error``)."""
    timeout: float | None
    expect_reply: bool
    error: str | None = None


class Dispatcher:
    """Delivers events over one shared keep-alive connection pool.

    Use as ``async with Dispatcher() as d: await d.send(...)``. ``sleep`` and ``clock`` are the
    waits between retries and the wall clock (for HTTP-date ``Retry-After``); tests inject them.
    ``trust`` is what ``https`` receivers are verified against (default: the system's CAs).
    """

    def __init__(
        self,
        *,
        connection_limit: int = DEFAULT_CONNECTION_LIMIT,
        default_timeout: float | None = DEFAULT_REQUEST_TIMEOUT,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.time,
        tokens: TokenSource | None = None,
        trust: Trust | None = None,
    ) -> None:
        self.trust = trust if trust is not None else Trust()
        self.tokens = tokens
        """Where OIDC tokens come from (authentication-oidc); also used by the SinkBinding
        reconciler for the token Secrets of bound workloads."""
        self._connection_limit = connection_limit
        self._connect_to: ConnectTo | None = None
        self._default_timeout = default_timeout
        self._sleep = sleep
        self._clock = clock
        self._client: HttpClient | None = None

    async def __aenter__(self) -> Dispatcher:
        self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def open(self) -> None:
        """Create the connection pool (needs a running event loop).

        The client keeps no cookies (one pool serves every subscriber), follows no redirects,
        invents no ``Content-Type`` and reads no proxy settings from the environment.
        """
        if self._client is not None:
            return
        self._client = HttpClient(limit=self._connection_limit)
        self._client.connect_to = self._connect_to

    def connect(self, connect_to: ConnectTo | None) -> None:
        """Connect plain ``http://`` hosts where ``connect_to`` says (see
        :attr:`kawa.transport.http11.HttpClient.connect_to`), from now on."""
        self._connect_to = connect_to
        if self._client is not None:
            self._client.connect_to = connect_to

    async def close(self) -> None:
        """Close every pooled connection."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def send(
        self,
        event: CloudEvent,
        url: str,
        *,
        policy: RetryPolicy,
        format: DeliveryFormat | None = None,
        headers: Headers | None = None,
        namespace: str | None = None,
        span: tracing.Span | None = None,
        trail: list[Attempt] | None = None,
        identity: Identity | None = None,
        audience: str | None = None,
        ca_certs: str | None = None,
        overload: Overload | None = None,
    ) -> DeliveryResult:
        """Deliver ``event`` to the subscriber at ``url``, retrying per ``policy``.

        ``headers`` are the headers of the request that brought the event in (only the
        forwarded ones are passed on); ``namespace`` goes out as ``Kn-Namespace``; ``format``
        is the delivery's ``format`` (``json`` = structured mode; ``binary`` or ``None`` =
        binary mode). With a ``span`` (tracing on) each attempt is a child span of it, whose
        context the subscriber gets as ``traceparent``. With a ``trail`` (lineage on) each
        attempt is appended to it. With an ``identity`` and the receiver's ``audience``
        (authentication-oidc) the request carries the identity's token for that audience. An
        ``https`` subscriber is verified against the trust plus its ``ca_certs`` (PEM). With
        ``overload``, 429 and 503 answers go to it first (see the module docstring).
        """
        extra = delivery_headers.subscriber_headers(headers, namespace)
        token = self._token_of(identity, audience)
        return await self._deliver(
            event, url, policy, format, extra, True, span, trail, token, ca_certs, overload
        )

    async def dead_letter(
        self,
        event: CloudEvent,
        dls_url: str,
        result: DeliveryResult,
        failed_url: str,
        *,
        policy: RetryPolicy,
        format: DeliveryFormat | None = None,
        headers: Headers | None = None,
        namespace: str | None = None,
        span: tracing.Span | None = None,
        trail: list[Attempt] | None = None,
        identity: Identity | None = None,
        audience: str | None = None,
        ca_certs: str | None = None,
    ) -> DeliveryResult:
        """Send the original ``event`` to the dead-letter sink after ``result`` failed.

        The event gets ``knativeerrordest`` (``failed_url``), ``knativeerrorcode`` and
        ``knativeerrordata``; it is delivered with the same ``policy``. A reply is not asked
        for, and any 2xx completes it. Attempts are child spans of ``span``, as in
        :meth:`send`, and so is ``trail``; ``ca_certs`` are the sink's, as in :meth:`send`.
        """
        extensions = delivery_headers.error_extensions(
            failed_url, result.error_code, result.error_data
        )
        changes: dict[str, str | None] = {delivery_headers.KNATIVE_ERROR_DATA: None}
        changes.update(extensions)
        dead = event.with_attributes(changes)
        extra = delivery_headers.dead_letter_headers(headers, namespace)
        token = self._token_of(identity, audience)
        return await self._deliver(
            dead, dls_url, policy, format, extra, False, span, trail, token, ca_certs
        )

    def _token_of(
        self, identity: Identity | None, audience: str | None
    ) -> Callable[[], Awaitable[str]] | None:
        """The identity's token for ``audience``, asked for before every attempt (a retry
        after a long backoff gets a fresh one); ``None`` when none is to be sent."""
        tokens = self.tokens
        if tokens is None or identity is None or not audience:
            return None
        namespace, account = identity.namespace, identity.service_account

        async def token() -> str:
            return await tokens(namespace, account, audience)

        return token

    async def _deliver(
        self,
        event: CloudEvent,
        url: str,
        policy: RetryPolicy,
        format: DeliveryFormat | None,
        extra: dict[str, str],
        expect_reply: bool,
        span: tracing.Span | None,
        trail: list[Attempt] | None = None,
        token_of: Callable[[], Awaitable[str]] | None = None,
        ca_certs: str | None = None,
        overload: Overload | None = None,
    ) -> DeliveryResult:
        client = self._client
        if client is None:
            raise RuntimeError("Dispatcher is not open: use 'async with Dispatcher()'")
        if format == "json":
            event_headers, body = cehttp.to_structured(event)
        else:
            event_headers, body = cehttp.to_binary(event)
        extra.update(event_headers)
        timeout = self._default_timeout if policy.timeout is None else policy.timeout
        context: ssl.SSLContext | None = None
        untrusted = None
        if url[:6].lower() == "https:":  # verified with the trust of the moment
            try:
                context = await self.trust.context(ca_certs)
            except BadCACerts as err:
                untrusted = _Request(None, timeout, expect_reply, str(err))
        request = untrusted or _prepared(client, url, extra, body, timeout, expect_reply, context)
        attempts = policy.attempts
        n = 0
        sent_token = ""
        held_since: float | None = None
        while True:
            n += 1
            if trail is not None:
                at, began = time.time(), time.perf_counter()
            no_token = None
            if token_of is not None:  # authentication-oidc: the sender's current token
                try:
                    token = await token_of()
                except KawaError as err:
                    no_token = _Outcome(False, None, True, error=f"no OIDC token: {err}")
                else:
                    if token != sent_token and untrusted is None:
                        sent_token = token
                        extra[AUTHORIZATION] = f"Bearer {token}"
                        request = _prepared(
                            client, url, extra, body, timeout, expect_reply, context
                        )
            if no_token is not None:
                outcome = no_token
            elif span is None:
                outcome = await self._attempt(client, request)
            else:
                outcome = await self._traced_attempt(client, request, span, n, url, extra, body)
            if trail is not None:
                seconds = time.perf_counter() - began
                trail.append(Attempt(at, outcome.status, seconds, outcome.error))
            if outcome.ok:
                return DeliveryResult(True, outcome.status, n, outcome.reply, outcome.body)
            status = outcome.status
            if overload is not None and status in OVERLOAD_STATUSES and status is not None:
                held = time.monotonic()
                held_since = held if held_since is None else held_since
                if held - held_since <= OVERLOAD_HOLD_MAX and await overload(
                    status, outcome.retry_after
                ):
                    n -= 1  # the subscriber is scaling: not a failed attempt
                    continue
            if not outcome.retryable or n >= attempts:
                return DeliveryResult(False, outcome.status, n, None, outcome.body, outcome.error)
            now = None if outcome.retry_after is None else self._clock()
            await self._sleep(
                policy.delay_before_retry(n, outcome.status, outcome.retry_after, now)
            )

    async def _traced_attempt(
        self,
        client: HttpClient,
        request: _Request,
        span: tracing.Span,
        n: int,
        url: str,
        extra: dict[str, str],
        body: bytes,
    ) -> _Outcome:
        """One attempt as a child span of ``span``: its request carries the attempt's own
        ``traceparent`` (so it is encoded again, with the same headers otherwise)."""
        attempt = span.child(
            tracing.ATTEMPT,
            "client",
            {tracing.URL: url, tracing.ATTEMPT_NUMBER: n},
        )
        try:
            if request.prepared is not None:
                attempt.inject(extra)
                # the same headers were valid, and a traceparent holds no line break
                prepared = client.prepare(url, extra, body, request.prepared.ssl_context)
                request = _Request(prepared, request.timeout, request.expect_reply)
            outcome = await self._attempt(client, request)
            if outcome.status is not None:
                attempt.set(tracing.STATUS, outcome.status)
            if not outcome.ok:
                attempt.fail(outcome.error or f"HTTP {outcome.status}")
            return outcome
        except BaseException as err:
            attempt.fail(repr(err))
            raise
        finally:
            attempt.end()

    @staticmethod
    async def _attempt(client: HttpClient, request: _Request) -> _Outcome:
        if request.prepared is None:
            return _Outcome(False, None, True, error=request.error)
        try:
            response = await client.send(request.prepared, request.timeout)
        except TimeoutError:
            return _Outcome(False, None, True, error=f"timeout after {request.timeout}s")
        except HttpClientError as exc:
            error = f"{type(exc).__name__}: {exc}"
            if isinstance(exc.__cause__, ssl.SSLCertVerificationError):
                error += _UNTRUSTED
            return _Outcome(False, None, True, error=error)
        status = response.status
        payload = response.body
        response_headers = response.headers  # lower-case names

        if not 200 <= status < 300:
            return _Outcome(
                False,
                status,
                should_retry(status),
                payload,
                error=f"HTTP {status}",
                retry_after=response_headers.get("retry-after"),
            )
        if not request.expect_reply or status == 202:
            return _Outcome(True, status, False, payload)
        if cehttp.is_cloudevent(response_headers):
            try:
                reply = cehttp.from_http(response_headers, payload)
            except ValidationError as exc:
                return _Outcome(False, status, True, payload, error=f"invalid reply: {exc}")
            return _Outcome(True, status, False, payload, reply)
        if payload:
            return _Outcome(False, status, True, payload, error=_NOT_A_CLOUDEVENT)
        return _Outcome(True, status, False, payload)


def _prepared(
    client: HttpClient,
    url: str,
    extra: dict[str, str],
    body: bytes,
    timeout: float | None,
    expect_reply: bool,
    context: ssl.SSLContext | None = None,
) -> _Request:
    """What every attempt sends, encoded once (or why it cannot be); ``context`` verifies an
    ``https`` receiver."""
    try:
        return _Request(client.prepare(url, extra, body, context), timeout, expect_reply)
    except (HttpClientError, ValueError) as exc:
        return _Request(None, timeout, expect_reply, f"{type(exc).__name__}: {exc}")
