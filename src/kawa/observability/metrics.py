"""Prometheus metrics of the data plane: the :class:`~kawa.dispatch.stats.Reporter` kawa
composes when ``kawa up`` serves metrics (docs/observability.md lists them).

The hot path is plain Python on the event loop, with no lock: a report finds its series in
a dict (one per label set, made on first use) and adds to a few numbers. Nothing is
formatted until a scrape, when :class:`Metrics` (a ``prometheus_client`` collector) turns
the series into metric families. Names and labels are Knative's where Knative has them
(the names its OpenCensus exporter gave them in Prometheus, latencies in milliseconds with
Knative's buckets), ``kawa_`` otherwise. Counters carry the ``_total`` suffix that
``prometheus_client`` (and OpenMetrics) give every counter.

Gauges measured from kawa's state (backlog, oldest undelivered age, log size, a Revision's
instances) are :mod:`kawa.observability.measured`'s.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from typing import Final

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from kawa.dispatch import stats

BUCKETS_MS: Final = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0,
                     5000.0, 10000.0)  # fmt: skip
"""Upper bounds (ms) of the latency histograms: 1, 2, 5 per decade up to 10 s (Knative's)."""
ANY_TYPE: Final = "any"
"""``filter_type`` of a trigger whose filter asks for no particular ``type`` (Knative's)."""
NO_STATUS: Final = "none"
"""``response_code`` (and class) of a delivery that got no answer (refused, timed out)."""

INGRESS_NAMES: Final = {
    "broker": ("mt_broker_ingress_event", "broker_name"),
    "channel": ("kawa_channel_ingress_event", "channel_name"),
}
DISPATCH_NAMES: Final = {
    "trigger": ("mt_broker_filter_event", ("broker_name", "trigger_name")),
    "subscription": ("inmemorychannel_dispatcher_event", ("channel_name", "subscriber_uid")),
}
REVISION_LABELS: Final = ("namespace_name", "service_name", "configuration_name", "revision_name")
"""Knative Serving's labels of a Revision's metrics."""
CONSUMER_LABELS: Final = ("kind", "namespace_name", "parent_name", "name")
"""Labels of kawa's own per-consumer metrics: ``trigger`` or ``subscription``, the
namespace, the broker or channel, the trigger's name or the subscriber's uid."""


class Latencies:
    """One series of a latency histogram (and the event count it implies)."""

    __slots__ = ("buckets", "count", "sum")

    def __init__(self) -> None:
        self.buckets = [0] * (len(BUCKETS_MS) + 1)
        self.count = 0
        self.sum = 0.0

    def observe(self, ms: float) -> None:
        self.buckets[bisect.bisect_left(BUCKETS_MS, ms)] += 1
        self.count += 1
        self.sum += ms

    def cumulative(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        total = 0
        for bound, count in zip((*BUCKETS_MS, float("inf")), self.buckets, strict=True):
            total += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), float(total)))
        return out


def _code(status: int | None) -> tuple[str, str]:
    return (NO_STATUS, NO_STATUS) if status is None else (str(status), f"{status // 100}xx")


class ConsumerMetrics:
    """The series of one consumer: its :class:`~kawa.dispatch.stats.ConsumerReport`."""

    __slots__ = (
        "by_status",
        "dead_letters",
        "drops",
        "filter_type",
        "filtered",
        "processing",
        "replies",
        "retries",
    )

    def __init__(self) -> None:
        self.by_status: dict[int | None, Latencies] = {}
        self.processing = Latencies()
        self.filter_type = ""
        self.filtered = 0
        self.retries = 0
        self.dead_letters = 0
        self.drops = 0
        self.replies = 0

    def filtered_out(self) -> None:
        self.filtered += 1

    def matched(self, seconds: float) -> None:
        self.processing.observe(seconds * 1000.0)

    def dispatched(self, status: int | None, seconds: float, attempts: int) -> None:
        series = self.by_status.get(status)
        if series is None:
            series = self.by_status[status] = Latencies()
        series.observe(seconds * 1000.0)
        self.retries += attempts - 1

    def dead_lettered(self) -> None:
        self.dead_letters += 1

    def dropped(self) -> None:
        self.drops += 1

    def replied(self) -> None:
        self.replies += 1


class Metrics:
    """The reporter and the collector of the data plane's metrics (see the module
    docstring). Series of a consumer survive its restarts (counters stay monotonic)."""

    def __init__(self) -> None:
        self._ingress: dict[tuple[str, str, str, str, int], Latencies] = {}
        self._consumers: dict[tuple[str, str, str, str], ConsumerMetrics] = {}
        self._requests: dict[tuple[str, str, str, str, int], Latencies] = {}
        self._writes: dict[tuple[str, str, str], int] = {}

    # -- stats.Reporter ------------------------------------------------------------------

    def ingress(
        self, kind: str, namespace: str, name: str, event_type: str, status: int, seconds: float
    ) -> None:
        key = (kind, namespace, name, event_type, status)
        series = self._ingress.get(key)
        if series is None:
            series = self._ingress[key] = Latencies()
        series.observe(seconds * 1000.0)

    def consumer(
        self, kind: str, namespace: str, parent: str, name: str, filter_type: str = ""
    ) -> stats.ConsumerReport:
        key = (kind, namespace, parent, name)
        series = self._consumers.get(key)
        if series is None:
            series = self._consumers[key] = ConsumerMetrics()
        series.filter_type = filter_type  # a changed filter restarts the consumer
        return series

    def revision_request(
        self, namespace: str, revision: str, owners: tuple[str, str], status: int, seconds: float
    ) -> None:
        key = (namespace, revision, *owners, status)
        series = self._requests.get(key)
        if series is None:
            series = self._requests[key] = Latencies()
        series.observe(seconds * 1000.0)

    # -- the resource store's writes (kawa.observability.store_writes) ---------------------

    def store_write(self, resource: str, verb: str, subresource: str) -> None:
        key = (resource, verb, subresource)
        self._writes[key] = self._writes.get(key, 0) + 1

    # -- prometheus_client's Collector ---------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        yield from self._ingress_families()
        yield from self._dispatch_families()
        yield from self._processing_family()
        yield from self._consumer_families()
        yield from self._serving_families()
        writes = CounterMetricFamily(
            "kawa_store_writes",
            "Writes to the resource store (API, controllers, kubelet) by resource and verb",
            labels=["resource", "verb", "subresource"],
        )
        for key, count in self._writes.items():
            writes.add_metric(key, count)
        yield writes

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def _ingress_families(self) -> Iterator[Metric]:
        for kind, (prefix, name_label) in INGRESS_NAMES.items():
            labels = ["namespace_name", name_label, "event_type", "response_code",
                      "response_code_class"]  # fmt: skip
            count = CounterMetricFamily(
                f"{prefix}_count", f"Events received by a {kind}'s ingress", labels=labels
            )
            latency = HistogramMetricFamily(
                f"{prefix}_dispatch_latencies",
                f"Milliseconds a {kind}'s ingress took to answer (the event stored)",
                labels=labels,
            )
            for (of, namespace, name, event_type, status), series in self._ingress.items():
                if of != kind:
                    continue
                values = [namespace, name, event_type, *_code(status)]
                count.add_metric(values, series.count)
                latency.add_metric(values, series.cumulative(), series.sum)
            yield count
            yield latency

    def _dispatch_families(self) -> Iterator[Metric]:
        for kind, (prefix, name_labels) in DISPATCH_NAMES.items():
            labels = ["namespace_name", *name_labels, "response_code", "response_code_class"]
            what = "Deliveries of a trigger" if kind == "trigger" else "Deliveries of a channel"
            count = CounterMetricFamily(
                f"{prefix}_count", f"{what} (after retries) by response code", labels=labels
            )
            latency = HistogramMetricFamily(
                f"{prefix}_dispatch_latencies",
                f"Milliseconds of a delivery ({what.lower()}), every attempt included",
                labels=labels,
            )
            for (of, namespace, parent, name), consumer in self._consumers.items():
                if of != kind:
                    continue
                for status, series in consumer.by_status.items():
                    values = [namespace, parent, name, *_code(status)]
                    count.add_metric(values, series.count)
                    latency.add_metric(values, series.cumulative(), series.sum)
            yield count
            yield latency

    def _processing_family(self) -> Iterator[Metric]:
        processing = HistogramMetricFamily(
            "mt_broker_filter_event_processing_latencies",
            "Milliseconds from an event's arrival (stored) to the start of its delivery to a "
            "trigger's subscriber, for the events the trigger's filter passed",
            labels=["namespace_name", "broker_name", "trigger_name", "filter_type"],
        )
        for (of, namespace, parent, name), consumer in self._consumers.items():
            if of == "trigger" and consumer.processing.count:
                values = [namespace, parent, name, consumer.filter_type or ANY_TYPE]
                processing.add_metric(values, consumer.processing.cumulative(),
                                      consumer.processing.sum)  # fmt: skip
        yield processing

    def _consumer_families(self) -> Iterator[Metric]:
        counters: Sequence[tuple[str, str, str]] = (
            ("kawa_filtered_out_events", "Events a trigger's filter did not pass", "filtered"),
            ("kawa_delivery_retries", "Delivery attempts after the first", "retries"),
            ("kawa_dead_lettered_events", "Events sent to the dead-letter sink", "dead_letters"),
            ("kawa_dropped_events", "Events given up (no dead-letter sink, a reply loop)",
             "drops"),
            ("kawa_replies", "Subscriber replies handed on", "replies"),
        )  # fmt: skip
        for name, doc, field in counters:
            family = CounterMetricFamily(name, doc, labels=CONSUMER_LABELS)
            for key, consumer in self._consumers.items():
                family.add_metric(key, getattr(consumer, field))
            yield family

    def _serving_families(self) -> Iterator[Metric]:
        labels = [*REVISION_LABELS, "response_code", "response_code_class"]
        count = CounterMetricFamily(
            "activator_request_count", "Requests routed to a Revision", labels=labels
        )
        latency = HistogramMetricFamily(
            "activator_request_latencies",
            "Milliseconds a Revision's request took (waiting for an instance included)",
            labels=labels,
        )
        for (namespace, revision, configuration, service, status), series in self._requests.items():
            values = [namespace, service, configuration, revision, *_code(status)]
            count.add_metric(values, series.count)
            latency.add_metric(values, series.cumulative(), series.sum)
        yield count
        yield latency
