"""The Knative Pod Autoscaler's decision: how many Pods a Revision needs now.

One pure function, :func:`decide`, is one tick of the KPA: from the concurrency samples of
the stable window, the ready Pod count, the previous :class:`ScaleState` and the Revision's
:class:`~kawa.apis.serving.autoscaling.ScalingSettings`, the desired Pod count and the new
state. As Knative's (``pkg/autoscaler/scaling``): desired = ceil(average concurrency /
(target * utilization)) over the stable window, or over the panic window (a fraction of it)
while panicking; panic starts when the panic-window demand reaches
``panic-threshold-percentage`` of the ready Pods and ends a stable window after the last
over-threshold tick, and never scales down meanwhile; the result is bounded by the
scale-up/-down rates and by min-/max-scale. Scale to zero happens only when scale to zero is
enabled, min-scale is 0, and nothing was in flight for a stable window plus
``max(scale-to-zero-grace-period, scale-to-zero-pod-retention-period)``.

The ceiling ignores float noise: an average of samples that all read ``2`` may come out as
``2.0000000000000004``, and that must not cost a Pod (:data:`NOISE`).

Pure (no I/O, no clock: ``now`` is given). Called by :mod:`kawa.serving.autoscaler`, which
samples, ticks and creates or deletes Pods.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from kawa.apis.serving import autoscaling

NOISE: Final = 1e-9
"""Pods' worth of demand above a whole number that :func:`pods_for` ignores as float noise."""


@dataclass(frozen=True, slots=True)
class Sample:
    """Average concurrency (requests in flight or waiting) over the tick that ended at ``time``."""

    time: float
    concurrency: float


@dataclass(frozen=True, slots=True)
class ScaleState:
    """What the KPA remembers between ticks."""

    last_active: float | None
    """When requests were last in flight or waiting; the autoscaler starts it at the time it
    first saw a Revision that has (or is to get) Pods, and at None for one at zero."""
    panic_since: float | None = None
    """When the panic-window demand was last over the threshold, None when not panicking."""
    max_panic_pods: int = 0


@dataclass(frozen=True, slots=True)
class Decision:
    desired: int
    state: ScaleState
    stable_concurrency: float
    panic_concurrency: float
    panicking: bool = field(default=False)


def window_average(samples: Iterable[Sample], now: float, window: float) -> float:
    """The mean concurrency of the samples taken in the last ``window`` seconds (0 if none)."""
    start = now - window
    values = [s.concurrency for s in samples if s.time > start]
    return sum(values) / len(values) if values else 0.0


def pods_for(concurrency: float, target: float) -> int:
    """Knative's ``ceil(concurrency / target)``, less :data:`NOISE` (0 for no demand)."""
    return math.ceil(concurrency / target - NOISE) if concurrency > 0 else 0


def decide(
    samples: Iterable[Sample],
    *,
    now: float,
    ready: int,
    state: ScaleState,
    settings: autoscaling.ScalingSettings,
) -> Decision:
    """One tick of the KPA (see the module docstring): the desired Pod count and new state.

    ``samples`` should cover at least the stable window (older ones are ignored); ``ready``
    is the count of Pods taking traffic now.
    """
    samples = list(samples)
    stable = window_average(samples, now, settings.stable_window)
    panic = window_average(samples, now, settings.panic_window)
    last_active = state.last_active
    for sample in samples:
        if sample.concurrency > 0 and (last_active is None or sample.time > last_active):
            last_active = sample.time

    desired_stable = pods_for(stable, settings.target)
    desired_panic = pods_for(panic, settings.target)
    base = max(ready, 1)
    max_up = math.ceil(settings.max_scale_up_rate * base)
    max_down = math.floor(ready / settings.max_scale_down_rate)
    desired_stable = min(max(desired_stable, max_down), max_up)
    desired_panic = min(max(desired_panic, max_down), max_up)

    over_threshold = desired_panic / base >= settings.panic_threshold
    panic_since = state.panic_since
    max_panic = state.max_panic_pods
    if over_threshold:
        panic_since = now
    elif panic_since is not None and now - panic_since >= settings.stable_window:
        panic_since = None
        max_panic = 0
    if panic_since is not None:
        desired = max(desired_panic, max_panic)
        max_panic = desired
    else:
        desired = desired_stable

    if settings.max_scale:
        desired = min(desired, settings.max_scale)
    desired = max(desired, settings.min_scale)
    if desired == 0:
        recently_active = (
            last_active is not None
            and now - last_active < settings.stable_window + settings.zero_delay
        )
        if recently_active or not settings.scale_to_zero:
            desired = 1  # keep the last Pod until the Revision has been idle long enough
    if settings.max_scale:
        desired = min(desired, settings.max_scale)
    new_state = ScaleState(last_active, panic_since, max_panic)
    return Decision(desired, new_state, stable, panic, panic_since is not None)
