"""The KPA's settings (kawa.apis.serving.autoscaling): config-autoscaler, per-Revision settings."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import pytest

from kawa.apis.serving import autoscaling
from kawa.apis.serving.autoscaling import AutoscalerConfig


def rev(annotations: dict[str, str] | None = None, cc: int = 0) -> dict[str, Any]:
    return {
        "metadata": {"name": "r", "namespace": "ns", "annotations": annotations or {}},
        "spec": {"containerConcurrency": cc, "containers": [{"image": "x"}]},
    }


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
