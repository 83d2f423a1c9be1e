"""A consumer's rates (:mod:`kawa.dispatch.rates`) on a clock the test moves: sampled at most
once a second, measured over the last minute (or since the start), zero after a quiet minute."""

from __future__ import annotations

import pytest

from kawa.dispatch.rates import EVERY, WINDOW, Rates


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_since_the_start_when_younger_than_a_minute() -> None:
    clock, counts = Clock(), {"delivered": 0, "failed": 0}
    rates = Rates(lambda: counts, clock=clock)
    for _ in range(20):  # 20 deliveries and 5 failures over 10 seconds
        clock.now += 0.5
        counts["delivered"] += 1
        if counts["delivered"] % 4 == 0:
            counts["failed"] += 1
        rates.changed()
    seconds, per_second = rates.per_second()
    assert seconds == pytest.approx(10.0)
    assert per_second == pytest.approx({"delivered": 2.0, "failed": 0.5})


def test_at_most_one_sample_a_second() -> None:
    clock, counts = Clock(), {"delivered": 0}
    calls = 0

    def read() -> dict[str, int]:
        nonlocal calls
        calls += 1
        return counts

    rates = Rates(read, clock=clock)
    for _ in range(1000):  # a burst of 1000 events in 2 seconds
        clock.now += 0.002
        counts["delivered"] += 1
        rates.changed()
    assert calls <= 1 + 2 / EVERY + 1


def test_a_steady_rate_over_the_last_minute() -> None:
    clock, counts = Clock(), {"delivered": 0}
    rates = Rates(lambda: counts, clock=clock)
    for _ in range(600):  # 5 a second for two minutes, then 1 a second for 90 seconds
        clock.now += 0.2
        counts["delivered"] += 1
        rates.changed()
    for _ in range(90):
        clock.now += 1.0
        counts["delivered"] += 1
        rates.changed()
    seconds, per_second = rates.per_second()
    assert WINDOW <= seconds <= WINDOW + EVERY
    assert per_second["delivered"] == pytest.approx(1.0, rel=0.02)


def test_zero_after_a_quiet_minute() -> None:
    clock, counts = Clock(), {"delivered": 0}
    rates = Rates(lambda: counts, clock=clock)
    for _ in range(10):  # a burst inside one second: no sample after the first
        clock.now += 0.05
        counts["delivered"] += 1
        rates.changed()
    clock.now += 30
    seconds, per_second = rates.per_second()
    assert per_second["delivered"] == pytest.approx(10 / seconds)
    clock.now += WINDOW
    assert rates.per_second()[1] == {"delivered": 0.0}
