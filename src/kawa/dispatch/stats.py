"""The data plane's stats reporter: the seam metrics come through (no-op by default).

The broker and channel ingress (:mod:`kawa.dispatch.ingress`) report every request they answer
(and the Serving router every request it routes to a Revision),
and every consumer (:mod:`kawa.dispatch.consumer`) reports what became of each event it read:
filtered out, delivered (with the final response code, the attempts and how long it took),
dead-lettered, dropped, replied. Knative injects a stats reporter into its ingress and filter
the same way (``pkg/broker/ingress/stats_reporter.go``).

Defined here, below the data plane, so the data plane knows only this interface; implemented
by :mod:`kawa.observability.metrics` (Prometheus) and composed by :mod:`kawa.runtime`. A
report is a plain synchronous call on the event loop: an implementation must not block and
should cost well under a microsecond or two per event (no I/O, no formatting).
"""

from __future__ import annotations

from typing import Final, Protocol


class ConsumerReport(Protocol):
    """What one consumer (a trigger's or a channel subscriber's) reports."""

    def filtered_out(self) -> None:
        """An event did not pass the trigger's filter."""
        ...

    def matched(self, seconds: float) -> None:
        """An event passed the filter (every event, for a subscription) and its delivery
        starts, ``seconds`` after it was stored (Knative's event processing latency)."""
        ...

    def dispatched(self, status: int | None, seconds: float, attempts: int) -> None:
        """A delivery ended: the last answer's HTTP ``status`` (``None``: no answer), the
        wall time of the delivery with all its attempts, and the number of attempts."""
        ...

    def dead_lettered(self) -> None:
        """An event went to the dead-letter sink."""
        ...

    def dropped(self) -> None:
        """An event was given up (no dead-letter sink, unreadable, a reply loop ended)."""
        ...

    def replied(self) -> None:
        """A subscriber's reply was handed on."""
        ...


class Reporter(Protocol):
    """The data plane's reporter (see the module docstring)."""

    def ingress(
        self, kind: str, namespace: str, name: str, event_type: str, status: int, seconds: float
    ) -> None:
        """An ingress request of a ``broker`` or ``channel`` was answered with ``status`` after
        ``seconds`` (``event_type`` is empty when the request held no valid event)."""
        ...

    def consumer(
        self, kind: str, namespace: str, parent: str, name: str, filter_type: str = ""
    ) -> ConsumerReport:
        """The report of a consumer: ``kind`` ``trigger`` (``parent`` its broker, ``name`` the
        trigger's) or ``subscription`` (``parent`` the channel, ``name`` the subscriber's
        uid); ``filter_type`` is the ``type`` a trigger's ``filter.attributes`` asks for ("":
        any). Called once per consumer start, not per event."""
        ...

    def revision_request(
        self, namespace: str, revision: str, owners: tuple[str, str], status: int, seconds: float
    ) -> None:
        """A request routed to a Knative ``revision`` was answered with ``status`` after
        ``seconds`` (waiting for an instance included); ``owners`` are the Revision's
        Configuration and Service names ("" when it has none)."""
        ...


class _NoConsumerReport:
    __slots__ = ()

    def filtered_out(self) -> None:
        pass

    def matched(self, seconds: float) -> None:
        pass

    def dispatched(self, status: int | None, seconds: float, attempts: int) -> None:
        pass

    def dead_lettered(self) -> None:
        pass

    def dropped(self) -> None:
        pass

    def replied(self) -> None:
        pass


class _NoReporter:
    __slots__ = ()

    def ingress(
        self, kind: str, namespace: str, name: str, event_type: str, status: int, seconds: float
    ) -> None:
        pass

    def consumer(
        self, kind: str, namespace: str, parent: str, name: str, filter_type: str = ""
    ) -> ConsumerReport:
        return NO_CONSUMER_REPORT

    def revision_request(
        self, namespace: str, revision: str, owners: tuple[str, str], status: int, seconds: float
    ) -> None:
        pass


NO_CONSUMER_REPORT: Final[ConsumerReport] = _NoConsumerReport()
NO_REPORTER: Final[Reporter] = _NoReporter()
"""The default: reports go nowhere (tests, and ``kawa up --metrics-port -1``)."""
