"""The KPA's decision (kawa.serving.kpa): one tick, its bounds, steady load."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kawa.apis.serving.autoscaling import ScalingSettings
from kawa.serving import kpa
from kawa.serving.kpa import Sample, ScaleState, decide


def plain(**changes: Any) -> ScalingSettings:
    """Settings with target 1 per Pod, a 10 s stable window and a 1 s panic window."""
    base = ScalingSettings(
        target=1.0,
        container_concurrency=0,
        min_scale=0,
        max_scale=0,
        initial_scale=1,
        stable_window=10.0,
        panic_window=1.0,
        panic_threshold=2.0,
        max_scale_up_rate=1000.0,
        max_scale_down_rate=2.0,
        scale_to_zero=True,
        zero_delay=5.0,
        tick_interval=1.0,
        activator_capacity=100,
    )
    return dataclasses.replace(base, **changes)


# -- decide ------------------------------------------------------------------------------------


def steady(value: float, now: float, seconds: int = 10) -> list[Sample]:
    return [Sample(now - i, value) for i in range(seconds)]


def test_stable_scaling() -> None:
    d = decide(steady(3.5, 100), now=100, ready=3, state=ScaleState(99), settings=plain())
    assert d.desired == 4
    assert not d.panicking
    assert d.stable_concurrency == pytest.approx(3.5)


def test_scale_down_rate() -> None:
    d = decide(steady(0.5, 100), now=100, ready=10, state=ScaleState(99), settings=plain())
    assert d.desired == 5  # halved at most per decision


def test_panic_holds_then_ends() -> None:
    s = plain()
    burst = [*steady(0.0, 100)[1:], Sample(100, 20.0)]
    d = decide(burst, now=100, ready=1, state=ScaleState(99), settings=s)
    assert d.panicking
    assert d.desired == 20
    # demand drops: no scale down while panicking
    quiet = [*burst, Sample(101, 0.0), Sample(102, 0.0)]
    d2 = decide(quiet, now=102, ready=20, state=d.state, settings=s)
    assert d2.panicking
    assert d2.desired == 20
    # a stable window after the last over-threshold tick, panic ends
    later = [Sample(110 + i, 0.5) for i in range(1, 11)]
    d3 = decide(later, now=120, ready=20, state=d2.state, settings=s)
    assert not d3.panicking
    assert d3.desired == 10


def test_scale_to_zero_waits_for_grace() -> None:
    s = plain()
    idle = steady(0.0, 100)
    d = decide(idle, now=100, ready=1, state=ScaleState(last_active=90), settings=s)
    assert d.desired == 1  # idle 10s < stable 10s + grace 5s
    d = decide(idle, now=106, ready=1, state=ScaleState(last_active=90), settings=s)
    assert d.desired == 0
    d = decide(idle, now=106, ready=0, state=ScaleState(last_active=None), settings=s)
    assert d.desired == 0
    d = decide(idle, now=106, ready=1, state=ScaleState(90), settings=plain(scale_to_zero=False))
    assert d.desired == 1


def test_scale_from_zero() -> None:
    d = decide([Sample(100, 0.1)], now=100, ready=0, state=ScaleState(None), settings=plain())
    assert d.desired == 1
    assert d.state.last_active == 100


def test_bounds() -> None:
    d = decide(steady(50, 100), now=100, ready=5, state=ScaleState(99), settings=plain(max_scale=3))
    assert d.desired == 3
    d = decide(
        steady(0, 100), now=100, ready=0, state=ScaleState(None), settings=plain(min_scale=2)
    )
    assert d.desired == 2


# -- properties ----------------------------------------------------------------------------------

concurrency = st.floats(min_value=0, max_value=500, allow_nan=False)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[ScalingSettings, list[list[float]], list[int]]:
    min_scale = draw(st.integers(0, 3))
    max_scale = draw(st.one_of(st.just(0), st.integers(max(min_scale, 1), 20)))
    s = plain(
        target=draw(st.floats(0.5, 10)),
        min_scale=min_scale,
        max_scale=max_scale,
        scale_to_zero=min_scale == 0,
        max_scale_down_rate=draw(st.floats(1.5, 4)),
        max_scale_up_rate=draw(st.floats(1.5, 10)),
    )
    ticks = draw(st.lists(concurrency, min_size=1, max_size=40))
    ready = draw(st.lists(st.integers(0, 30), min_size=len(ticks), max_size=len(ticks)))
    return s, [[v] for v in ticks], ready


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_decisions_stay_in_bounds(
    scenario: tuple[ScalingSettings, list[list[float]], list[int]],
) -> None:
    s, ticks, readies = scenario
    samples: list[Sample] = []
    state = ScaleState(0.0)
    for i, (values, ready) in enumerate(zip(ticks, readies, strict=True)):
        now = float(i + 1)
        samples.append(Sample(now, values[0]))
        d = decide(samples, now=now, ready=ready, state=state, settings=s)
        assert d.desired >= s.min_scale
        if s.max_scale:
            assert d.desired <= s.max_scale
        if values[0] > 0:
            assert d.desired >= 1  # demand is never left without an instance
        if not d.panicking:
            limit_up = max(math.ceil(s.max_scale_up_rate * max(ready, 1)), s.min_scale)
            assert d.desired <= limit_up
            stable_floor = math.floor(ready / s.max_scale_down_rate)
            assert d.desired >= min(stable_floor, s.max_scale or stable_floor)
        if state.panic_since is not None and d.panicking:
            assert d.desired >= min(state.max_panic_pods, s.max_scale or state.max_panic_pods)
        if d.desired == 0:
            assert s.scale_to_zero
            last = d.state.last_active
            assert last is None or now - last >= s.stable_window + s.zero_delay
        state = d.state


@settings(max_examples=100, deadline=None)
@given(st.floats(0.01, 1000), st.floats(0.5, 50))
@example(2.0, 1.999999999999993)  # 2 / target is 1 + 4e-15: one Pod, not two
def test_steady_load_gives_ceiling(load: float, target: float) -> None:
    """Knative's ceil(demand / target) Pods, less float noise below kpa.NOISE of a Pod."""
    s = plain(target=target)
    ready = max(1, math.ceil(load / target))  # close enough that the rates do not bound it
    d = decide(steady(load, 100), now=100, ready=ready, state=ScaleState(99), settings=s)
    assert not d.panicking
    assert d.stable_concurrency == pytest.approx(load)
    pods = d.stable_concurrency / target
    assert d.desired >= pods - kpa.NOISE  # enough Pods for the demand
    assert d.desired == 1 or d.desired - 1 < pods - kpa.NOISE  # and not one more


def test_float_noise_in_the_average_costs_no_pod() -> None:
    d = decide(steady(0.7, 100), now=100, ready=1, state=ScaleState(99), settings=plain(target=0.7))
    assert d.stable_concurrency > 0.7  # ten samples of 0.7 average to 0.7000000000000001
    assert d.desired == 1
    assert kpa.pods_for(0.7000000000000001, 0.7) == 1
    assert kpa.pods_for(0.71, 0.7) == 2
    assert kpa.pods_for(0.0, 0.7) == 0
