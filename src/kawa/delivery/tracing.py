"""The data plane's tracing seam: the spans of ingress, commit, filter, delivery, attempt,
dead letter and reply go through this interface (no-op by default).

The broker and channel ingress (:mod:`kawa.dispatch.ingress`) start a span per request from
the request's W3C ``traceparent``/``tracestate`` and store the context of that span with the
event (the forwarded headers of :mod:`kawa.dispatch.envelope`), so a delivery made later, by
this process or another, continues the trace. The consumers (:mod:`kawa.dispatch.consumer`)
start their filter and delivery spans from the stored context; the sender
(:mod:`kawa.delivery.sender`) makes a child span per attempt and sends that span's context to
the subscriber; a reply is stored (or sent on) with the context of its reply span, so the
deliveries of a reply continue the same trace. ADR "tracing" says why the context lives in
the stored headers and not in the event.

Defined here, below the data plane, because the sender (the lowest of its users) makes the
attempt spans; implemented by :mod:`kawa.observability.otel` (OpenTelemetry) and composed by
:mod:`kawa.runtime`. Spans are started and ended explicitly, never through an implicit
current context, so concurrent deliveries on one event loop cannot mix them up. When tracing
is off the data plane checks :attr:`Tracer.enabled` once and does no tracing work at all;
the stored and forwarded trace headers then pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal, Protocol

SpanKind = Literal["internal", "server", "client", "producer", "consumer"]
Value = str | bool | int | float
Attributes = Mapping[str, Value]

TRACE_HEADERS: Final = ("traceparent", "tracestate")
"""The W3C trace context headers (lowercase, as the forwarded headers hold them)."""

# Span names (docs/observability.md, "Tracing")
COMMIT: Final = "event log commit"
FILTER: Final = "trigger filter"
ATTEMPT: Final = "delivery attempt"
REPLY: Final = "reply"
DEAD_LETTER: Final = "dead letter"


def ingress_name(kind: str) -> str:
    """``broker ingress`` or ``channel ingress``."""
    return f"{kind} ingress"


def delivery_name(kind: str) -> str:
    """``trigger delivery`` or ``subscription delivery``."""
    return f"{kind} delivery"


# Attribute keys: OpenTelemetry's semantic conventions where they have one, kawa.* otherwise
NAMESPACE: Final = "k8s.namespace.name"
EVENT_ID: Final = "cloudevents.event_id"
EVENT_TYPE: Final = "cloudevents.event_type"
EVENT_SOURCE: Final = "cloudevents.event_source"
STATUS: Final = "http.response.status_code"
URL: Final = "url.full"
ATTEMPT_NUMBER: Final = "kawa.attempt"
ATTEMPTS: Final = "kawa.delivery.attempts"
OUTCOME: Final = "kawa.delivery.outcome"
MATCHED: Final = "kawa.filter.matched"
ERROR_CODE: Final = "kawa.dead_letter.error_code"


def trace_context(headers: Mapping[str, str] | None) -> dict[str, str] | None:
    """The trace context headers among ``headers`` (lowercase names), ``None`` if none."""
    if not headers:
        return None
    found = {name: headers[name] for name in TRACE_HEADERS if name in headers}
    return found or None


class Span(Protocol):
    """One span, ended by :meth:`end` (exactly once)."""

    def child(
        self, name: str, kind: SpanKind = "internal", attributes: Attributes | None = None
    ) -> Span:
        """Start a span whose parent is this one."""
        ...

    def set(self, key: str, value: Value) -> None:
        """Set an attribute."""
        ...

    def fail(self, description: str) -> None:
        """Mark the span as failed (status ``ERROR`` with ``description``)."""
        ...

    def end(self) -> None: ...

    def inject(self, headers: dict[str, str]) -> None:
        """Put this span's context into ``headers`` as ``traceparent`` (and ``tracestate``),
        replacing the ones there."""
        ...


class Tracer(Protocol):
    """Starts the spans of the data plane (see the module docstring)."""

    @property
    def enabled(self) -> bool:
        """``False``: spans are no-ops, and the data plane skips tracing altogether."""
        ...

    def start(
        self,
        name: str,
        carrier: Mapping[str, str] | None,
        kind: SpanKind = "internal",
        attributes: Attributes | None = None,
    ) -> Span:
        """Start a span whose parent is the context in ``carrier`` (the ``traceparent`` and
        ``tracestate`` of a request's or a stored event's headers; none or invalid: a new
        trace)."""
        ...


class _NoSpan:
    __slots__ = ()

    def child(
        self, name: str, kind: SpanKind = "internal", attributes: Attributes | None = None
    ) -> Span:
        return self

    def set(self, key: str, value: Value) -> None:
        pass

    def fail(self, description: str) -> None:
        pass

    def end(self) -> None:
        pass

    def inject(self, headers: dict[str, str]) -> None:
        pass


class _NoTracer:
    __slots__ = ()

    @property
    def enabled(self) -> bool:
        return False

    def start(
        self,
        name: str,
        carrier: Mapping[str, str] | None,
        kind: SpanKind = "internal",
        attributes: Attributes | None = None,
    ) -> Span:
        return NO_SPAN


NO_SPAN: Final[Span] = _NoSpan()
NO_TRACER: Final[Tracer] = _NoTracer()
"""The default: no spans (tests, and ``kawa up`` without ``OTEL_EXPORTER_OTLP_*``)."""
