"""Concurrency reports (kawa.serving.concurrency): the wire form, the sum, staleness, the switch."""

from __future__ import annotations

import orjson
import pytest

from kawa.serving import concurrency
from kawa.serving.concurrency import Report, Reports, Scaling, Total


def report(sender: str, value: float = 1.0, *, peak: int = 1, now: int = 1) -> Report:
    return Report(sender, "ns", "svc-00001", value, peak, now)


def test_encode_decode_round_trip() -> None:
    assert concurrency.decode(orjson.dumps(GOOD)) == Report("a", "ns", "r", 1.0, 1, 1)
    sent = report("a/1", 2.5, peak=4, now=3)
    assert concurrency.decode(concurrency.encode(sent)) == sent


GOOD = {"sender": "a", "namespace": "ns", "revision": "r", "concurrency": 1, "peak": 1, "now": 1}


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        orjson.dumps({**GOOD, "sender": ""}),
        orjson.dumps({**GOOD, "concurrency": -1}),
        orjson.dumps({**GOOD, "peak": True}),
        orjson.dumps({**GOOD, "namespace": 3}),
        orjson.dumps({k: v for k, v in GOOD.items() if k != "revision"}),
    ],
)
def test_malformed_reports_are_refused(data: bytes) -> None:
    assert concurrency.decode(data) is None


def test_total_sums_the_latest_report_of_each_sender() -> None:
    reports = Reports()
    reports.add(report("a", 1.0, peak=2, now=1), now=10.0)
    reports.add(report("a", 3.0, peak=4, now=2), now=10.5)  # replaces a's first
    reports.add(report("b", 0.5, peak=1, now=0), now=10.2)
    assert reports.total("ns", "svc-00001", now=11.0, max_age=3.0) == Total(3.5, 5, 2, 2)
    assert reports.total("ns", "other", now=11.0, max_age=3.0) == Total()


def test_a_silent_sender_stops_counting_after_max_age() -> None:
    reports = Reports()
    reports.add(report("a", 2.0), now=10.0)
    reports.add(report("b", 1.0), now=12.0)
    assert reports.total("ns", "svc-00001", now=13.0, max_age=3.0).senders == 2
    assert reports.total("ns", "svc-00001", now=13.5, max_age=3.0) == Total(1.0, 1, 1, 1)
    assert reports.total("ns", "svc-00001", now=20.0, max_age=3.0) == Total()


def test_an_idle_report_forgets_its_sender() -> None:
    reports = Reports()
    reports.add(report("a", 2.0), now=10.0)
    reports.add(report("a", 0.0, peak=0, now=0), now=11.0)
    assert reports.total("ns", "svc-00001", now=11.0, max_age=3.0) == Total()


def test_forget_and_clear() -> None:
    reports = Reports()
    reports.add(report("a"), now=1.0)
    reports.forget("ns", "svc-00001")
    assert reports.total("ns", "svc-00001", now=1.0, max_age=3.0) == Total()
    reports.add(report("a"), now=1.0)
    reports.clear()
    assert reports.total("ns", "svc-00001", now=1.0, max_age=3.0) == Total()


def test_max_age_is_three_ticks_and_at_least_two_seconds() -> None:
    assert concurrency.max_age(2.0) == 6.0
    assert concurrency.max_age(0.1) == concurrency.MIN_MAX_AGE


async def _publish(_: Report) -> None:
    return None


def test_alone_always_decides_and_never_holds() -> None:
    scaling = Scaling()
    assert scaling.deciding
    assert not scaling.shared
    scaling.start_deciding(5.0)
    assert not scaling.holding(5.0, 60.0)
    scaling.stop_deciding()
    assert scaling.deciding


def test_shared_decides_only_while_leading_and_holds_scale_down_a_window() -> None:
    scaling = Scaling("a", _publish)
    assert not scaling.deciding
    scaling.reports.add(report("b"), now=1.0)
    scaling.start_deciding(100.0)
    assert scaling.deciding
    assert scaling.holding(159.0, 60.0)
    assert not scaling.holding(160.0, 60.0)
    scaling.stop_deciding()
    assert not scaling.deciding
    assert not scaling.holding(120.0, 60.0)
    assert scaling.reports.total("ns", "svc-00001", now=1.0, max_age=3.0) == Total()
