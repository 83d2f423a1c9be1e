"""The KPA's pure parts (kawa.apis.serving.autoscaling): config, per-Revision settings, decide."""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kawa.apis.serving import autoscaling
from kawa.apis.serving.autoscaling import (
    AutoscalerConfig,
    Sample,
    ScaleState,
    ScalingSettings,
    decide,
)


def rev(annotations: dict[str, str] | None = None, cc: int = 0) -> dict[str, Any]:
    return {
        "metadata": {"name": "r", "namespace": "ns", "annotations": annotations or {}},
        "spec": {"containerConcurrency": cc, "containers": [{"image": "x"}]},
    }


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


# -- durations and config --------------------------------------------------------------------


def test_config_defaults() -> None:
    assert autoscaling.config_from_configmap(None) == (AutoscalerConfig(), [])
    config, warnings = autoscaling.config_from_configmap({"_example": "docs"})
    assert config == AutoscalerConfig()
    assert warnings == []
    assert config.stable_window == 60.0
    assert config.tick_interval == 2.0
    assert config.activator_capacity == 1000
    assert config.enable_scale_to_zero


def test_config_values() -> None:
    config, warnings = autoscaling.config_from_configmap(
        {
            "container-concurrency-target-default": "10",
            "container-concurrency-target-percentage": "50",
            "stable-window": "1s",
            "panic-window-percentage": "20",
            "scale-to-zero-grace-period": "500ms",
            "enable-scale-to-zero": "false",
            "tick-interval": "0.1s",
            "activator-capacity": "3",
            "max-scale": "4",
            "initial-scale": "0",
            "allow-zero-initial-scale": "true",
        }
    )
    assert warnings == []
    assert config.container_concurrency_target_default == 10.0
    assert config.container_concurrency_target_percentage == 50.0
    assert (config.stable_window, config.scale_to_zero_grace_period) == (1.0, 0.5)
    assert (config.tick_interval, config.activator_capacity) == (0.1, 3)
    assert (config.max_scale, config.initial_scale) == (4, 0)
    assert not config.enable_scale_to_zero


def test_config_bad_values_warn_and_keep_defaults() -> None:
    config, warnings = autoscaling.config_from_configmap(
        {
            "stable-window": "soon",
            "tick-interval": "0s",
            "max-scale-up-rate": "0.5",
            "enable-scale-to-zero": "yes",
            "min-scale": "-1",
            "initial-scale": "0",
            "no-such-key": "1",
        }
    )
    assert config == AutoscalerConfig()
    text = "\n".join(warnings)
    for key in (
        "stable-window",
        "tick-interval",
        "max-scale-up-rate",
        "enable-scale-to-zero",
        "min-scale",
        "initial-scale",
        "no-such-key",
    ):
        assert f"data['{key}']" in text
    assert "expected a duration" in text
    assert '"true" or "false"' in text


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("panic-window-percentage", "1000", "from 1 to 100"),
        ("panic-window-percentage", "0.5", "from 1 to 100"),
        ("panic-threshold-percentage", "100", "from 110 to 1000"),
        ("panic-threshold-percentage", "1001", "from 110 to 1000"),
        ("container-concurrency-target-percentage", "150", "from 1 to 100"),
        ("container-concurrency-target-default", "0", "at least 0.01"),
        ("max-scale-up-rate", "1", "above 1"),
        ("max-scale-down-rate", "1.0", "above 1"),
        ("target-burst-capacity", "-0.5", "or -1"),
        ("activator-capacity", "0", "at least 1"),
        ("stable-window", "2h", "at most 3600s"),
        ("kawa-max-scale-default", "-1", "at least 0"),
        ("max-scale-up-rate", "inf", "above 1"),
    ],
)
def test_config_out_of_range_warns_and_keeps_default(key: str, value: str, expected: str) -> None:
    config, warnings = autoscaling.config_from_configmap({key: value})
    assert config == AutoscalerConfig()
    assert len(warnings) == 1
    assert warnings[0].startswith(f"config-autoscaler data['{key}']: expected ")
    assert expected in warnings[0]
    assert warnings[0].endswith("keeping the default")


@pytest.mark.parametrize(
    ("key", "value", "attr", "parsed"),
    [
        ("panic-window-percentage", "100", "panic_window_percentage", 100.0),
        ("panic-threshold-percentage", "1000", "panic_threshold_percentage", 1000.0),
        ("panic-threshold-percentage", "110", "panic_threshold_percentage", 110.0),
        ("max-scale-down-rate", "1.5", "max_scale_down_rate", 1.5),
        ("target-burst-capacity", "-1", "target_burst_capacity", -1.0),
        ("target-burst-capacity", "0", "target_burst_capacity", 0.0),
        ("activator-capacity", "1", "activator_capacity", 1),
        ("kawa-max-scale-default", "0", "max_scale_cap", 0),
        ("stable-window", "1h", "stable_window", 3600.0),
    ],
)
def test_config_range_edges_are_accepted(key: str, value: str, attr: str, parsed: float) -> None:
    config, warnings = autoscaling.config_from_configmap({key: value})
    assert warnings == []
    assert getattr(config, attr) == parsed


def test_default_max_scale_cap_is_sane() -> None:
    assert 4 <= autoscaling.DEFAULT_MAX_SCALE_CAP <= 2 * max(os.cpu_count() or 1, 2)
    assert AutoscalerConfig().max_scale_cap == autoscaling.DEFAULT_MAX_SCALE_CAP


# -- per-revision settings ---------------------------------------------------------------------


def test_settings_defaults() -> None:
    s, warnings = autoscaling.revision_settings(rev(), AutoscalerConfig())
    assert warnings == []
    assert s.target == pytest.approx(70.0)
    assert (s.min_scale, s.initial_scale) == (0, 1)
    assert s.max_scale == autoscaling.DEFAULT_MAX_SCALE_CAP  # kawa's cap: no max-scale set
    assert (s.stable_window, s.panic_window, s.panic_threshold) == (60.0, 6.0, 2.0)
    assert s.scale_to_zero
    assert s.zero_delay == 30.0


def test_settings_from_container_concurrency_and_annotations() -> None:
    s, _ = autoscaling.revision_settings(rev(cc=1), AutoscalerConfig())
    assert s.target == pytest.approx(0.7)
    assert s.container_concurrency == 1
    s, warnings = autoscaling.revision_settings(
        rev(
            {
                "autoscaling.knative.dev/target": "5",
                "autoscaling.knative.dev/target-utilization-percentage": "100",
                "autoscaling.knative.dev/minScale": "2",
                "autoscaling.knative.dev/max-scale": "3",
                "autoscaling.knative.dev/initial-scale": "1",
                "autoscaling.knative.dev/window": "10s",
                "autoscaling.knative.dev/scale-to-zero-pod-retention-period": "1m",
            }
        ),
        AutoscalerConfig(),
    )
    assert warnings == []
    assert s.target == 5.0
    assert (s.min_scale, s.max_scale, s.initial_scale) == (2, 3, 2)  # initial >= min
    assert (s.stable_window, s.panic_window) == (10.0, 2.0)  # panic >= one tick (2s)
    assert not s.scale_to_zero
    assert s.zero_delay == 60.0


def test_settings_bad_annotations_warn() -> None:
    s, warnings = autoscaling.revision_settings(
        rev(
            {
                "autoscaling.knative.dev/target": "lots",
                "autoscaling.knative.dev/min-scale": "5",
                "autoscaling.knative.dev/max-scale": "2",
                "autoscaling.knative.dev/initial-scale": "0",
                "autoscaling.knative.dev/class": "hpa.autoscaling.knative.dev",
                "autoscaling.knative.dev/metric": "rps",
            },
            cc=10,
        ),
        AutoscalerConfig(),
    )
    assert s.target == pytest.approx(7.0)
    assert (s.min_scale, s.max_scale, s.initial_scale) == (2, 2, 2)
    text = "\n".join(warnings)
    assert "metadata.annotations['autoscaling.knative.dev/target']: expected a number" in text
    assert "min-scale" in text
    assert "initial-scale" in text
    assert "hpa" in text
    assert "rps" in text


def test_max_scale_cap_only_without_max_scale() -> None:
    config = AutoscalerConfig(max_scale_cap=3)
    s, warnings = autoscaling.revision_settings(rev(cc=1), config)
    assert warnings == []
    assert s.max_scale == 3
    # an explicit max-scale wins, above or below the cap, from the annotation or the config
    for given_annotations, cfg, expected in (
        ({"autoscaling.knative.dev/max-scale": "10"}, config, 10),
        ({"autoscaling.knative.dev/maxScale": "2"}, config, 2),
        ({}, dataclasses.replace(config, max_scale=7), 7),
        # never below an explicit min-scale or initial-scale
        ({"autoscaling.knative.dev/min-scale": "5"}, config, 5),
        ({"autoscaling.knative.dev/initial-scale": "6"}, config, 6),
        # kawa-max-scale-default 0: no cap
        ({}, dataclasses.replace(config, max_scale_cap=0), 0),
    ):
        s, _ = autoscaling.revision_settings(rev(given_annotations), cfg)
        assert s.max_scale == expected, given_annotations


@pytest.mark.parametrize(
    ("annotation", "value"),
    [
        ("panic-window-percentage", "1000"),
        ("panic-window-percentage", "0"),
        ("panic-threshold-percentage", "105"),
        ("panic-threshold-percentage", "5000"),
        ("target-utilization-percentage", "101"),
        ("window", "61m"),
    ],
)
def test_annotation_out_of_range_warns_and_uses_default(annotation: str, value: str) -> None:
    key = f"autoscaling.knative.dev/{annotation}"
    s, warnings = autoscaling.revision_settings(rev({key: value}), AutoscalerConfig())
    default, _ = autoscaling.revision_settings(rev(), AutoscalerConfig())
    assert s == default
    (warning,) = warnings
    assert warning.startswith(f"metadata.annotations[{key!r}]: expected ")


def test_target_capped_by_container_concurrency() -> None:
    s, warnings = autoscaling.revision_settings(
        rev({"autoscaling.knative.dev/target": "50"}, cc=2), AutoscalerConfig()
    )
    assert s.target == pytest.approx(1.4)
    assert "above containerConcurrency 2" in warnings[0]


def test_scale_to_zero_disabled_keeps_one() -> None:
    s, _ = autoscaling.revision_settings(rev(), AutoscalerConfig(enable_scale_to_zero=False))
    assert (s.min_scale, s.scale_to_zero) == (1, False)


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
def test_steady_load_gives_ceiling(load: float, target: float) -> None:
    s = plain(target=target)
    ready = max(1, math.ceil(load / target))
    d = decide(steady(load, 100), now=100, ready=ready, state=ScaleState(99), settings=s)
    assert d.desired == ready
