"""Concurrency reports: every node's share of a Revision's load, summed where it is decided.

Knative's autoscaler scrapes every queue-proxy for the concurrency it saw; kawa's processes
push instead (see ADR "one autoscaler"). Each process's
:class:`~kawa.serving.autoscaler.RevisionScaler` measures the requests in flight and waiting
through its own router, and, when it does not decide, sends a :class:`Report` per tick (and
at once when a request waits for a Revision without instances: the activator's poke). The
process that decides (the elected leader) keeps the latest :class:`Report` of every other
sender in :class:`Reports` and adds their :meth:`Reports.total` to its own sample.

:class:`Scaling` is the one mutable switch the data plane shares with its scalers: whether
this process decides now, who it is, and where others' reports are kept. Reports are judged
by the receiver's clock (when they arrived), so the processes' clocks need not agree; a
sender that stopped reporting counts for nothing after :func:`max_age`.

Pure: no I/O, no clock (``now`` is given). Used by :mod:`kawa.serving.autoscaler`,
:mod:`kawa.serving.dataplane` and the NATS shell :mod:`kawa.serving.concurrency_nats`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Final, Protocol, TypeGuard

import orjson

STALE_TICKS: Final = 3.0
"""Tick intervals after which a sender's last report no longer counts."""
MIN_MAX_AGE: Final = 2.0
"""Seconds a report counts at least (a short tick interval on a loaded machine)."""


@dataclass(frozen=True, slots=True)
class Report:
    """What one process saw of one Revision over its last tick."""

    sender: str
    """The process (its leader-election identity: ``<node>`` or ``<node>/<worker>``)."""
    namespace: str
    revision: str
    concurrency: float
    """Average requests in flight plus waiting over the sender's last tick."""
    peak: int
    """The most requests in flight plus waiting at once in that tick."""
    now: int
    """Requests in flight plus waiting when it was sent."""

    @property
    def active(self) -> bool:
        return self.concurrency > 0 or self.peak > 0 or self.now > 0


@dataclass(frozen=True, slots=True)
class Total:
    """The sum of the other processes' fresh reports for one Revision."""

    concurrency: float = 0.0
    peak: int = 0
    now: int = 0
    senders: int = 0


def encode(report: Report) -> bytes:
    return orjson.dumps(
        {
            "sender": report.sender,
            "namespace": report.namespace,
            "revision": report.revision,
            "concurrency": report.concurrency,
            "peak": report.peak,
            "now": report.now,
        }
    )


def decode(data: bytes) -> Report | None:
    """The report in ``data``, None when it is not one (logged by the caller, never fatal)."""
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(raw, dict):
        return None
    sender, namespace, revision = raw.get("sender"), raw.get("namespace"), raw.get("revision")
    if not (isinstance(sender, str) and sender and isinstance(revision, str) and revision):
        return None
    if not isinstance(namespace, str):
        return None
    concurrency, peak, now = raw.get("concurrency"), raw.get("peak"), raw.get("now")
    if not (_count(concurrency) and _count(peak) and _count(now)):
        return None
    return Report(sender, namespace, revision, float(concurrency), int(peak), int(now))


def _count(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def max_age(tick_interval: float) -> float:
    """Seconds a report counts: :data:`STALE_TICKS` ticks of the sender, at least
    :data:`MIN_MAX_AGE`."""
    return max(STALE_TICKS * tick_interval, MIN_MAX_AGE)


class Reports:
    """The latest report of each other sender per Revision, with when it arrived."""

    def __init__(self) -> None:
        self._latest: dict[tuple[str, str], dict[str, tuple[float, Report]]] = {}

    def add(self, report: Report, now: float) -> None:
        senders = self._latest.setdefault((report.namespace, report.revision), {})
        if report.active:
            senders[report.sender] = (now, report)
        else:  # an idle sender counts for nothing: forget it
            senders.pop(report.sender, None)
            if not senders:
                del self._latest[(report.namespace, report.revision)]

    def total(self, namespace: str, revision: str, *, now: float, max_age: float) -> Total:
        """The sum of the reports for the Revision that arrived in the last ``max_age``
        seconds (older ones are dropped)."""
        senders = self._latest.get((namespace, revision))
        if not senders:
            return Total()
        for sender, (arrived, _) in list(senders.items()):
            if now - arrived > max_age:
                del senders[sender]
        if not senders:
            del self._latest[(namespace, revision)]
            return Total()
        reports = [report for _, report in senders.values()]
        return Total(
            sum(r.concurrency for r in reports),
            sum(r.peak for r in reports),
            sum(r.now for r in reports),
            len(reports),
        )

    def forget(self, namespace: str, revision: str) -> None:
        self._latest.pop((namespace, revision), None)

    def clear(self) -> None:
        self._latest.clear()


Publish = Callable[[Report], Awaitable[None]]


class Bus(Protocol):
    """Where the processes' reports travel (:mod:`kawa.serving.concurrency_nats`)."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, report: Report) -> None: ...

    def receiving(
        self, on_report: Callable[[Report], None]
    ) -> AbstractAsyncContextManager[None]: ...


class Scaling:
    """Whether this process decides the Revisions' scale, and what the others report.

    Without ``publish`` (kawa alone: SQLite, one process) it always decides and nothing is
    reported: the autoscaler behaves as it always did. With ``publish`` (processes sharing
    a store) it decides only between :meth:`start_deciding` and :meth:`stop_deciding`
    (while it leads) and reports otherwise.
    """

    def __init__(self, sender: str = "", publish: Publish | None = None) -> None:
        self.sender = sender
        self.publish = publish
        self.deciding = publish is None
        self.since: float | None = None
        """When this process began deciding, as one of several (None: not deciding, or alone)."""
        self.reports = Reports()

    @property
    def shared(self) -> bool:
        return self.publish is not None

    def start_deciding(self, now: float) -> None:
        self.deciding = True
        self.since = now if self.shared else None

    def stop_deciding(self) -> None:
        self.deciding = not self.shared
        self.since = None
        self.reports.clear()

    def holding(self, now: float, stable_window: float) -> bool:
        """Whether a scale-down must wait: this process began deciding less than a stable
        window ago, so its window lacks what the others saw before."""
        return self.since is not None and now < self.since + stable_window
