"""Gauges measured from kawa's state rather than counted: how far each consumer is behind,
how old its oldest undelivered event is, what the event log holds, a Revision's instances.

The event log's numbers are measured by :meth:`Measured.refresh`, every few seconds in a task
of :mod:`kawa.observability.endpoint`, not in the scrape (on JetStream each is a network round
trip; a scrape never waits for the log). A Revision's numbers are read at scrape time from its
:class:`~kawa.serving.autoscaler.RevisionScaler` (plain attributes, no I/O).

- **backlog**: records of the stream a consumer has not finished (not taken yet, plus taken
  and still in delivery or waiting for a delivery place);
- **oldest undelivered age**: seconds since the oldest of those was appended, 0 when there
  is none (a consumer caught up): the oldest record taken and not finished, else the first
  record not taken yet (one read of one record);
- **log size**: records per stream (the stream named by the broker or channel a running
  consumer reads; a stream nobody reads by its own name), bytes per stream where the
  backend can tell cheaply (JetStream, memory; SQLite cannot without reading every record),
  and the log's records and storage bytes in all;
- **a Revision's instances**: desired (the autoscaler's last decision, when this process
  decides), actual (ready Pods), requests in flight and waiting in the activator.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from kawa.dispatch.backlog import behind
from kawa.dispatch.consumer import Consumer
from kawa.eventlog.base import EventLog, LogSize
from kawa.observability.metrics import CONSUMER_LABELS, REVISION_LABELS
from kawa.serving.autoscaler import RevisionScaler

STREAM_LABELS = ("kind", "namespace_name", "name")
"""Labels of a stream's size: ``broker`` or ``channel``, its namespace and name."""

ConsumerKey = tuple[str, str, str, str]


class Measured:
    """The collector of the measured gauges (see the module docstring)."""

    def __init__(
        self,
        event_log: EventLog,
        consumers: Callable[[], Iterable[Consumer]],
        revisions: Callable[[], Iterable[RevisionScaler]] = lambda: (),
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._log = event_log
        self._consumers = consumers
        self._revisions = revisions
        self._clock = clock
        self._backlog: dict[ConsumerKey, int] = {}
        self._age: dict[ConsumerKey, float] = {}
        self._size: LogSize | None = None
        self._owners: dict[str, tuple[str, str, str]] = {}
        """stream -> (kind, namespace, name) of the broker or channel, as consumers say."""

    async def refresh(self) -> None:
        """Measure every running consumer's backlog and oldest age, then the log's size (one
        ``last_seq`` per stream, at most one one-record read per consumer)."""
        last: dict[str, int] = {}
        backlog: dict[ConsumerKey, int] = {}
        age: dict[ConsumerKey, float] = {}
        now = self._clock()
        for consumer in self._consumers():
            target = consumer.target
            stream = consumer.stream
            if stream not in last:
                last[stream] = await self._log.last_seq(stream)
            name = target.uid if target.kind == "subscription" else target.name
            key = (target.kind, target.namespace, target.parent, name)
            kind = "broker" if target.kind == "trigger" else "channel"
            self._owners[stream] = (kind, target.namespace, target.parent)
            backlog[key], age[key] = await behind(self._log, consumer, last[stream], now)
        self._backlog, self._age = backlog, age
        self._size = await self._log.size()

    # -- prometheus_client's Collector ---------------------------------------------------

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        backlog = GaugeMetricFamily(
            "kawa_consumer_backlog",
            "Records of the stream a consumer has not finished (not taken, or in delivery)",
            labels=CONSUMER_LABELS,
        )
        for key, value in self._backlog.items():
            backlog.add_metric(key, value)
        yield backlog
        age = GaugeMetricFamily(
            "kawa_consumer_oldest_undelivered_age_seconds",
            "Seconds since the oldest record a consumer has not finished was appended",
            labels=CONSUMER_LABELS,
        )
        for key, seconds in self._age.items():
            age.add_metric(key, seconds)
        yield age
        yield from self._log_families()
        yield from self._revision_families()

    def _log_families(self) -> Iterator[Metric]:
        records = GaugeMetricFamily(
            "kawa_event_log_stream_records", "Records a stream holds", labels=STREAM_LABELS
        )
        size = GaugeMetricFamily(
            "kawa_event_log_stream_bytes",
            "Payload bytes a stream holds (backends that can tell cheaply)",
            labels=STREAM_LABELS,
        )
        total_records = GaugeMetricFamily(
            "kawa_event_log_records", "Records the event log holds in all"
        )
        total_bytes = GaugeMetricFamily(
            "kawa_event_log_bytes", "Bytes of storage the event log takes in all"
        )
        found = self._size
        if found is not None:
            for stream, of in found.streams.items():
                labels = self._owners.get(stream, (stream.partition(":")[0], "", stream))
                records.add_metric(labels, of.records)
                if of.bytes is not None:
                    size.add_metric(labels, of.bytes)
            total_records.add_metric([], sum(of.records for of in found.streams.values()))
            total_bytes.add_metric([], found.bytes)
        yield from (records, size, total_records, total_bytes)

    def _revision_families(self) -> Iterator[Metric]:
        families = {
            name: GaugeMetricFamily(name, doc, labels=REVISION_LABELS)
            for name, doc in (
                ("autoscaler_desired_pods", "Instances the autoscaler decided a Revision needs"),
                ("autoscaler_actual_pods", "Ready instances of a Revision"),
                ("activator_request_concurrency", "Requests of a Revision in flight"),
                ("kawa_revision_waiting_requests", "Requests waiting for a free instance"),
            )
        }
        for scaler in self._revisions():
            configuration, service = scaler.owners
            labels = [scaler.namespace, service, configuration, scaler.name]
            if scaler.desired is not None:
                families["autoscaler_desired_pods"].add_metric(labels, scaler.desired)
            families["autoscaler_actual_pods"].add_metric(labels, len(scaler.ready()))
            throttler = scaler.throttler
            families["activator_request_concurrency"].add_metric(labels, throttler.concurrency)
            families["kawa_revision_waiting_requests"].add_metric(labels, throttler.waiting)
        yield from families.values()
