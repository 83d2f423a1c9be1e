"""Knative Pod Autoscaler (KPA) settings: ``config-autoscaler`` and a Revision's annotations.

Two pure parts, used by the serving data plane (:mod:`kawa.serving.dataplane`, whose
autoscaler feeds the settings to the KPA decision, :mod:`kawa.serving.kpa`), the Revision
reconciler (:mod:`kawa.controllers.serving.revision`) and :mod:`.revision_status`:

* :func:`config_from_configmap` reads ConfigMap ``knative-serving/config-autoscaler`` (Knative's
  keys plus kawa's ``tick-interval``, ``activator-capacity`` and ``kawa-max-scale-default``)
  into an :class:`AutoscalerConfig`. A missing key keeps the built-in default; a bad value, or one
  outside Knative's range for the key (``panic-window-percentage`` 1-100,
  ``panic-threshold-percentage`` 110-1000, rates above 1, ...), keeps the default too and
  yields a warning naming the key (never an error: a typo must not stop serving).
* :func:`revision_settings` combines the config with a Revision's ``autoscaling.knative.dev/*``
  annotations (and the old ``minScale``/``maxScale`` names) and its ``containerConcurrency``
  into :class:`ScalingSettings`, with warnings for bad annotation values. A Revision without
  a max-scale (annotation or config) gets ``kawa-max-scale-default``: every instance is a
  process on this one machine.

Admission refuses bad annotation values at apply time (:mod:`.annotations`, with the same
ranges); what is read here at run time is what got past it, or a Revision stored before.

Durations are Go's form (``60s``, ``1m30s``, ``500ms``, read by
:func:`kawa.apis.duration.parse_go_duration`); a bare number is seconds. kawa accepts
any positive window up to Knative's 1h (Knative requires at least 6s; tests shorten them).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from kawa.apis import duration

PREFIX: Final = "autoscaling.knative.dev/"
TARGET_ANNOTATION: Final = PREFIX + "target"
UTILIZATION_ANNOTATION: Final = PREFIX + "target-utilization-percentage"
MIN_SCALE_ANNOTATION: Final = PREFIX + "min-scale"
MAX_SCALE_ANNOTATION: Final = PREFIX + "max-scale"
INITIAL_SCALE_ANNOTATION: Final = PREFIX + "initial-scale"
WINDOW_ANNOTATION: Final = PREFIX + "window"
PANIC_WINDOW_ANNOTATION: Final = PREFIX + "panic-window-percentage"
PANIC_THRESHOLD_ANNOTATION: Final = PREFIX + "panic-threshold-percentage"
RETENTION_ANNOTATION: Final = PREFIX + "scale-to-zero-pod-retention-period"
CLASS_ANNOTATION: Final = PREFIX + "class"
METRIC_ANNOTATION: Final = PREFIX + "metric"
_OLD_NAMES: Final = {
    MIN_SCALE_ANNOTATION: PREFIX + "minScale",
    MAX_SCALE_ANNOTATION: PREFIX + "maxScale",
    INITIAL_SCALE_ANNOTATION: PREFIX + "initialScale",
}
KPA_CLASS: Final = "kpa.autoscaling.knative.dev"

WINDOW_MAX: Final = 3600.0
"""Knative's longest stable window (1h)."""
DEFAULT_MAX_SCALE_CAP: Final = max(4, 2 * (os.cpu_count() or 1))
"""kawa's max-scale for a Revision that sets none: twice the CPUs, at least 4."""


@dataclass(frozen=True, slots=True)
class AutoscalerConfig:
    """ConfigMap ``config-autoscaler``, with Knative's defaults (durations in seconds)."""

    container_concurrency_target_default: float = 100.0
    container_concurrency_target_percentage: float = 70.0
    target_burst_capacity: float = 211.0
    """Read for completeness; kawa's activator is always in the path, so it is not used."""
    stable_window: float = 60.0
    panic_window_percentage: float = 10.0
    panic_threshold_percentage: float = 200.0
    max_scale_up_rate: float = 1000.0
    max_scale_down_rate: float = 2.0
    enable_scale_to_zero: bool = True
    scale_to_zero_grace_period: float = 30.0
    scale_to_zero_pod_retention_period: float = 0.0
    initial_scale: int = 1
    allow_zero_initial_scale: bool = False
    min_scale: int = 0
    max_scale: int = 0
    """0: no limit."""
    tick_interval: float = 2.0
    """kawa: seconds between two decisions of a Revision's autoscaler."""
    activator_capacity: int = 1000
    """Requests one Revision may hold while it has no free instance (at least 1)."""
    max_scale_cap: int = DEFAULT_MAX_SCALE_CAP
    """kawa (``kawa-max-scale-default``): the max-scale of a Revision that sets none; 0: none."""


@dataclass(frozen=True, slots=True)
class _Range:
    """The values a number may take: from ``low`` (excluded if ``above``) to ``high``."""

    low: float
    high: float = math.inf
    above: bool = False

    def check(self, value: float, text: str) -> float:
        low_ok = value > self.low if self.above else value >= self.low
        if not (math.isfinite(value) and low_ok and value <= self.high):
            raise ValueError(f"expected {self.describe()}, got {text!r}")
        return value

    def describe(self) -> str:
        if self.above:
            return f"a number above {self.low:g}"
        if math.isinf(self.high):
            return f"a number of at least {self.low:g}"
        return f"a number from {self.low:g} to {self.high:g}"


PERCENT: Final = _Range(1.0, 100.0)
PANIC_WINDOW_RANGE: Final = PERCENT
PANIC_THRESHOLD_RANGE: Final = _Range(110.0, 1000.0)
TARGET_RANGE: Final = _Range(0.01)
RATE_RANGE: Final = _Range(1.0, above=True)

_FLOAT_KEYS: Final = {
    "container-concurrency-target-default": ("container_concurrency_target_default", TARGET_RANGE),
    "container-concurrency-target-percentage": ("container_concurrency_target_percentage", PERCENT),
    "panic-window-percentage": ("panic_window_percentage", PANIC_WINDOW_RANGE),
    "panic-threshold-percentage": ("panic_threshold_percentage", PANIC_THRESHOLD_RANGE),
    "max-scale-up-rate": ("max_scale_up_rate", RATE_RANGE),
    "max-scale-down-rate": ("max_scale_down_rate", RATE_RANGE),
}
_DURATION_KEYS: Final = {
    "stable-window": ("stable_window", True, WINDOW_MAX),
    "scale-to-zero-grace-period": ("scale_to_zero_grace_period", False, math.inf),
    "scale-to-zero-pod-retention-period": ("scale_to_zero_pod_retention_period", False, math.inf),
    "tick-interval": ("tick_interval", True, math.inf),
}
_INT_KEYS: Final = {
    "initial-scale": ("initial_scale", 0),
    "min-scale": ("min_scale", 0),
    "max-scale": ("max_scale", 0),
    "activator-capacity": ("activator_capacity", 1),
    "kawa-max-scale-default": ("max_scale_cap", 0),
}
_BOOL_KEYS: Final = {
    "enable-scale-to-zero": "enable_scale_to_zero",
    "allow-zero-initial-scale": "allow_zero_initial_scale",
}
_IGNORED_KEYS: Final = frozenset(
    {
        "_example",
        "requests-per-second-target-default",
        "target-utilization-percentage",
        "activation-scale",
        "scale-down-delay",
        "max-scale-limit",
        "pod-autoscaler-class",
        "activator-capacity-per-pod",
    }
)


def config_from_configmap(
    data: Mapping[str, Any] | None,
) -> tuple[AutoscalerConfig, list[str]]:
    """The autoscaler config from ConfigMap ``data`` (None: all defaults) and its warnings."""
    config = AutoscalerConfig()
    warnings: list[str] = []
    values: dict[str, Any] = {}
    for key, raw in (data or {}).items():
        where = f"config-autoscaler data[{key!r}]"
        text = str(raw).strip()
        try:
            if key in _FLOAT_KEYS:
                attr, allowed = _FLOAT_KEYS[key]
                values[attr] = _float(text, allowed)
            elif key == "target-burst-capacity":
                values["target_burst_capacity"] = _burst_capacity(text)
            elif key in _DURATION_KEYS:
                attr, positive, longest = _DURATION_KEYS[key]
                values[attr] = _duration(text, positive=positive, longest=longest)
            elif key in _INT_KEYS:
                attr, minimum_int = _INT_KEYS[key]
                values[attr] = _int(text, minimum_int)
            elif key in _BOOL_KEYS:
                values[_BOOL_KEYS[key]] = _bool(text)
            elif key not in _IGNORED_KEYS:
                warnings.append(f"{where}: unknown key, ignored")
        except ValueError as exc:
            warnings.append(f"{where}: {exc}; keeping the default")
    config = replace(config, **values)
    if config.max_scale and config.min_scale > config.max_scale:
        warnings.append(
            f"config-autoscaler: min-scale {config.min_scale} is above max-scale "
            f"{config.max_scale}; using max-scale for both"
        )
        config = replace(config, min_scale=config.max_scale)
    if config.initial_scale == 0 and not config.allow_zero_initial_scale:
        warnings.append(
            "config-autoscaler data['initial-scale']: 0 needs allow-zero-initial-scale: "
            '"true"; using 1'
        )
        config = replace(config, initial_scale=1)
    return config, warnings


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"expected a number, got {text!r}") from None


def _float(text: str, allowed: _Range) -> float:
    return allowed.check(_number(text), text)


def _burst_capacity(text: str) -> float:
    value = _number(text)
    if value != -1 and not (math.isfinite(value) and value >= 0):
        raise ValueError(f"expected a number of at least 0, or -1 (unlimited), got {text!r}")
    return value


def _int(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise ValueError(f"expected a whole number of at least {minimum}, got {text!r}")
    return value


def _bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise ValueError(f'expected "true" or "false", got {text!r}')


def _duration(text: str, *, positive: bool, longest: float = math.inf) -> float:
    value = duration.parse_go_duration(text, bare_seconds=True)
    if positive and value <= 0:
        raise ValueError(f"expected a duration above 0, got {text!r}")
    if value > longest:
        raise ValueError(f"expected a duration of at most {longest:g}s, got {text!r}")
    return value


@dataclass(frozen=True, slots=True)
class ScalingSettings:
    """One Revision's effective autoscaling settings (durations in seconds)."""

    target: float
    """Concurrency per Pod the autoscaler aims at (already times the utilization)."""
    container_concurrency: int
    """Hard limit of requests in flight per Pod, 0: none."""
    min_scale: int
    max_scale: int
    """0: no limit (kawa's cap applies unless ``kawa-max-scale-default`` is 0)."""
    initial_scale: int
    stable_window: float
    panic_window: float
    panic_threshold: float
    """A ratio (2.0 for 200%)."""
    max_scale_up_rate: float
    max_scale_down_rate: float
    scale_to_zero: bool
    """Whether it may go to zero (scale to zero enabled and min-scale 0)."""
    zero_delay: float
    """Seconds without traffic after the stable window before the last Pod goes."""
    tick_interval: float
    activator_capacity: int


def revision_settings(
    revision: Mapping[str, Any], config: AutoscalerConfig
) -> tuple[ScalingSettings, list[str]]:
    """The settings of ``revision`` (a Revision dict) under ``config``, and warnings."""
    metadata = revision.get("metadata") or {}
    raw_annotations = metadata.get("annotations")
    annotations: Mapping[str, Any] = raw_annotations if isinstance(raw_annotations, Mapping) else {}
    spec = revision.get("spec") or {}
    concurrency = spec.get("containerConcurrency") or 0
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 0:
        concurrency = 0
    warnings: list[str] = []

    def read(name: str, parse: Any, default: Any) -> Any:
        key = name if name in annotations else _OLD_NAMES.get(name, name)
        if key not in annotations:
            return default
        try:
            return parse(str(annotations[key]).strip())
        except ValueError as exc:
            warnings.append(f"metadata.annotations[{key!r}]: {exc}; using {default}")
            return default

    cls = annotations.get(CLASS_ANNOTATION)
    if cls not in (None, "", KPA_CLASS):
        warnings.append(
            f"metadata.annotations[{CLASS_ANNOTATION!r}]: kawa has only the KPA "
            f"({KPA_CLASS}), got {cls!r}; using it"
        )
    metric = annotations.get(METRIC_ANNOTATION)
    if metric not in (None, "", "concurrency"):
        warnings.append(
            f"metadata.annotations[{METRIC_ANNOTATION!r}]: kawa scales on concurrency only, "
            f"got {metric!r}; using concurrency"
        )

    default_target = (
        float(concurrency) if concurrency else config.container_concurrency_target_default
    )
    target = read(TARGET_ANNOTATION, lambda t: _float(t, TARGET_RANGE), default_target)
    if concurrency and target > concurrency:
        warnings.append(
            f"metadata.annotations[{TARGET_ANNOTATION!r}]: {target:g} is above "
            f"containerConcurrency {concurrency}; using {concurrency}"
        )
        target = float(concurrency)
    utilization = read(
        UTILIZATION_ANNOTATION,
        lambda t: _float(t, PERCENT),
        config.container_concurrency_target_percentage,
    )
    min_scale = read(MIN_SCALE_ANNOTATION, lambda t: _int(t, 0), config.min_scale)
    max_scale = read(MAX_SCALE_ANNOTATION, lambda t: _int(t, 0), config.max_scale)
    if max_scale and min_scale > max_scale:
        warnings.append(
            f"metadata.annotations[{MIN_SCALE_ANNOTATION!r}]: {min_scale} is above max-scale "
            f"{max_scale}; using {max_scale}"
        )
        min_scale = max_scale
    initial = read(INITIAL_SCALE_ANNOTATION, lambda t: _int(t, 0), config.initial_scale)
    if initial == 0 and not config.allow_zero_initial_scale:
        warnings.append(
            f"metadata.annotations[{INITIAL_SCALE_ANNOTATION!r}]: 0 needs "
            "allow-zero-initial-scale in config-autoscaler; using 1"
        )
        initial = 1
    initial = max(initial, min_scale)
    if max_scale:
        initial = min(initial, max_scale)
    elif config.max_scale_cap:
        # no max-scale anywhere: every instance is a process here, so kawa's cap (never
        # below what the Revision asks for explicitly at least)
        max_scale = max(config.max_scale_cap, min_scale, initial)
    window = read(
        WINDOW_ANNOTATION,
        lambda t: _duration(t, positive=True, longest=WINDOW_MAX),
        config.stable_window,
    )
    panic_pct = read(
        PANIC_WINDOW_ANNOTATION,
        lambda t: _float(t, PANIC_WINDOW_RANGE),
        config.panic_window_percentage,
    )
    threshold = read(
        PANIC_THRESHOLD_ANNOTATION,
        lambda t: _float(t, PANIC_THRESHOLD_RANGE),
        config.panic_threshold_percentage,
    )
    retention = read(
        RETENTION_ANNOTATION,
        lambda t: _duration(t, positive=False),
        config.scale_to_zero_pod_retention_period,
    )
    if not config.enable_scale_to_zero:
        min_scale = max(min_scale, 1)
        initial = max(initial, 1)
    panic_window = max(window * panic_pct / 100.0, config.tick_interval)
    settings = ScalingSettings(
        target=max(target * utilization / 100.0, 0.01),
        container_concurrency=concurrency,
        min_scale=min_scale,
        max_scale=max_scale,
        initial_scale=initial,
        stable_window=window,
        panic_window=min(panic_window, window),
        panic_threshold=threshold / 100.0,
        max_scale_up_rate=config.max_scale_up_rate,
        max_scale_down_rate=config.max_scale_down_rate,
        scale_to_zero=config.enable_scale_to_zero and min_scale == 0,
        zero_delay=max(config.scale_to_zero_grace_period, retention),
        tick_interval=config.tick_interval,
        activator_capacity=config.activator_capacity,
    )
    return settings, warnings


def capacity(settings: ScalingSettings) -> int | None:
    """The requests a Revision holds at once at its largest: its ``containerConcurrency`` (or,
    at 0, the autoscaler's target per instance, rounded up) times its max-scale; ``None``
    when it has no max-scale. What the dispatcher sends a Knative Service subscriber at most
    (``kawa.dev/subscriber-max-in-flight``, :mod:`kawa.apis.limits`)."""
    if not settings.max_scale:
        return None
    per_instance = settings.container_concurrency or max(1, math.ceil(settings.target))
    return per_instance * settings.max_scale
