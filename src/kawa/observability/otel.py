"""The data plane's :class:`~kawa.delivery.tracing.Tracer` on the OpenTelemetry SDK: spans
batched and exported with OTLP over HTTP/protobuf (loaded by :mod:`kawa.observability.tracing`
only when tracing is on).

The provider is kawa's own, not OpenTelemetry's global one (several kawas run in one test
process, and kawa's spans need no implicit context): parents are given explicitly, as a
W3C trace context to extract or as the parent span. Spans end on the event loop; the batch
processor's thread exports them.

A trace that is not sampled costs little: a non-recording span's children are itself (every
built-in sampler decides a child as its parent was decided, by the parent's flag or the same
trace id), and with a parent-based sampler (the default) a parent that says "not sampled"
gives a non-recording span at once, without the SDK's sampling machinery. Either way the
context that goes on is the trace's, marked not sampled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider, sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from kawa import __version__
from kawa.delivery import tracing

KINDS: Final = {
    "internal": trace.SpanKind.INTERNAL,
    "server": trace.SpanKind.SERVER,
    "client": trace.SpanKind.CLIENT,
    "producer": trace.SpanKind.PRODUCER,
    "consumer": trace.SpanKind.CONSUMER,
}
_PROPAGATOR: Final = TraceContextTextMapPropagator()


def _sampler(name: str, ratio: float) -> sampling.Sampler:
    root: sampling.Sampler = {
        "always_on": sampling.ALWAYS_ON,
        "always_off": sampling.ALWAYS_OFF,
        "traceidratio": sampling.TraceIdRatioBased(ratio),
    }[name.removeprefix("parentbased_")]
    return sampling.ParentBased(root) if name.startswith("parentbased_") else root


def provider(
    *,
    endpoint: str,
    service_name: str,
    sampler: str,
    sampler_ratio: float,
    export_delay: float,
    instance: str = "",
) -> TracerProvider:
    """A provider exporting to ``endpoint`` every ``export_delay`` seconds, sampling with
    OpenTelemetry's ``sampler`` (one of :data:`kawa.observability.tracing.SAMPLERS`); shut it
    down to flush."""
    attributes: dict[str, str] = {SERVICE_NAME: service_name, SERVICE_VERSION: __version__}
    if instance:
        attributes[SERVICE_INSTANCE_ID] = instance
    made = TracerProvider(
        resource=Resource.create(attributes), sampler=_sampler(sampler, sampler_ratio)
    )
    made.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=endpoint), schedule_delay_millis=export_delay * 1000.0
        )
    )
    return made


class OtelSpan:
    """A :class:`~kawa.delivery.tracing.Span`: an OpenTelemetry span."""

    __slots__ = ("_recording", "_span", "_tracer")

    def __init__(self, span: trace.Span, tracer: trace.Tracer) -> None:
        self._span = span
        self._tracer = tracer
        self._recording = span.is_recording()

    def child(
        self,
        name: str,
        kind: tracing.SpanKind = "internal",
        attributes: tracing.Attributes | None = None,
    ) -> tracing.Span:
        if not self._recording:  # not sampled: nor are its children (module docstring)
            return self
        context = trace.set_span_in_context(self._span)
        span = self._tracer.start_span(name, context, KINDS[kind], attributes)
        return OtelSpan(span, self._tracer)

    def set(self, key: str, value: tracing.Value) -> None:
        self._span.set_attribute(key, value)

    def fail(self, description: str) -> None:
        self._span.set_status(trace.Status(trace.StatusCode.ERROR, description))

    def end(self) -> None:
        self._span.end()

    def inject(self, headers: dict[str, str]) -> None:
        headers.pop("tracestate", None)  # the span's own (its parent's) replaces it, if any
        _PROPAGATOR.inject(headers, trace.set_span_in_context(self._span))


class OtelTracer:
    """A :class:`~kawa.delivery.tracing.Tracer` of a :class:`TracerProvider`."""

    __slots__ = ("_follows_parent", "_tracer")

    def __init__(self, provider: TracerProvider, *, follows_parent: bool = True) -> None:
        self._tracer = provider.get_tracer("kawa", __version__)
        self._follows_parent = follows_parent
        """The sampler is parent-based: a parent not sampled means a span not sampled."""

    @property
    def enabled(self) -> bool:
        return True

    def start(
        self,
        name: str,
        carrier: Mapping[str, str] | None,
        kind: tracing.SpanKind = "internal",
        attributes: tracing.Attributes | None = None,
    ) -> tracing.Span:
        # extract() starts from an empty context: no carrier, no parent (a new trace)
        context = _PROPAGATOR.extract(carrier or {})
        if self._follows_parent:
            parent = trace.get_current_span(context).get_span_context()
            if parent.is_valid and not parent.trace_flags.sampled:
                return OtelSpan(trace.NonRecordingSpan(parent), self._tracer)
        span = self._tracer.start_span(name, context, KINDS[kind], attributes)
        return OtelSpan(span, self._tracer)
