"""Admission checks of a revision's annotations, as Knative's webhook makes them.

A Service's or Configuration's ``spec.template.metadata.annotations`` and a Revision's
``metadata.annotations`` may carry ``autoscaling.knative.dev/*`` settings and
``serving.knative.dev/progress-deadline``. Knative refuses a bad value when the object is
applied; so does kawa: :func:`annotation_errors` returns one :class:`FieldError` per problem,
at Knative's path (``spec.template.metadata.annotations[autoscaling.knative.dev/max-scale]``).
The autoscaler (:mod:`kawa.apis.serving.autoscaling`) reads the same values at run time.
Called by :mod:`kawa.apis.serving.revision` (templates and Revisions).

Not checked here, because they depend on ConfigMap ``config-autoscaler`` and admission is a
pure function of the object: ``initial-scale: "0"`` (allowed only with
``allow-zero-initial-scale``) is accepted, and the autoscaler falls back to 1 with a warning.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Final

from kawa.apis import duration
from kawa.apis.serving import autoscaling
from kawa.errors import FieldError

PREFIX: Final = autoscaling.PREFIX
PROGRESS_DEADLINE_ANNOTATION: Final = "serving.knative.dev/progress-deadline"
KPA_CLASS: Final = autoscaling.KPA_CLASS
HPA_CLASS: Final = "hpa.autoscaling.knative.dev"
KPA_METRICS: Final = ("concurrency", "rps")
HPA_METRICS: Final = ("cpu", "memory")

WINDOW_MIN: Final = 6.0
"""Seconds: Knative's shortest ``window``."""
WINDOW_MAX: Final = 3600.0
"""Seconds: Knative's longest ``window`` (and ``scale-to-zero-pod-retention-period``)."""
TARGET_MIN: Final = 0.01
_INT32_MAX: Final = 2**31 - 1

MIN_SCALE: Final = PREFIX + "min-scale"
MAX_SCALE: Final = PREFIX + "max-scale"
INITIAL_SCALE: Final = PREFIX + "initial-scale"
_OLD_NAMES: Final = {
    MIN_SCALE: PREFIX + "minScale",
    MAX_SCALE: PREFIX + "maxScale",
    INITIAL_SCALE: PREFIX + "initialScale",
}


def annotation_errors(annotations: Any, path: str) -> list[FieldError]:
    """The problems of a revision's annotations found at ``path`` (``...metadata.annotations``).

    Only ``autoscaling.knative.dev/*`` and ``serving.knative.dev/progress-deadline`` are
    checked (the rest is free); a non-mapping or non-string value is reported by the metadata
    checks, not here.
    """
    if not isinstance(annotations, Mapping):
        return []
    values = {k: v for k, v in annotations.items() if isinstance(k, str) and isinstance(v, str)}
    errors: list[FieldError] = []

    def at(key: str) -> str:
        return f"{path}[{key}]"

    def check(key: str, parse: Callable[[str], Any]) -> Any:
        if key not in values:
            return None
        try:
            return parse(values[key].strip())
        except ValueError as exc:
            errors.append(FieldError(at(key), f"invalid value: {values[key]!r}: {exc}"))
            return None

    scale: dict[str, int | None] = {}
    for name in (MIN_SCALE, MAX_SCALE, INITIAL_SCALE):
        old = _OLD_NAMES[name]
        if name in values and old in values:
            errors.append(FieldError(at(old), f"expected exactly one, got both: {name} and {old}"))
        key = name if name in values else old
        scale[name] = check(key, _whole)
    low, high = scale[MIN_SCALE], scale[MAX_SCALE]
    if low is not None and high and high < low:
        key = MAX_SCALE if MAX_SCALE in values else _OLD_NAMES[MAX_SCALE]
        errors.append(FieldError(at(key), f"max-scale={high} is less than min-scale={low}"))
    check(autoscaling.TARGET_ANNOTATION, _target)
    check(autoscaling.UTILIZATION_ANNOTATION, lambda t: _number(t, 1, 100))
    check(autoscaling.PANIC_WINDOW_ANNOTATION, lambda t: _number(t, 1, 100))
    check(autoscaling.PANIC_THRESHOLD_ANNOTATION, lambda t: _number(t, 110, 1000))
    check(PREFIX + "target-burst-capacity", _burst)
    check(PREFIX + "activation-scale", lambda t: _whole(t, minimum=1))
    check(autoscaling.WINDOW_ANNOTATION, lambda t: _duration(t, WINDOW_MIN, WINDOW_MAX))
    check(autoscaling.RETENTION_ANNOTATION, lambda t: _duration(t, 0, WINDOW_MAX))
    check(PREFIX + "scale-down-delay", lambda t: _duration(t, 0, WINDOW_MAX))
    check(PROGRESS_DEADLINE_ANNOTATION, _positive_duration)
    cls = values.get(autoscaling.CLASS_ANNOTATION, KPA_CLASS) or KPA_CLASS
    if cls not in (KPA_CLASS, HPA_CLASS):
        errors.append(
            FieldError(
                at(autoscaling.CLASS_ANNOTATION),
                f"invalid value: {cls!r}: supported classes: {KPA_CLASS!r} (the "
                f"concurrency-based autoscaler kawa runs), {HPA_CLASS!r}",
            )
        )
    metric = values.get(autoscaling.METRIC_ANNOTATION)
    allowed = KPA_METRICS if cls == KPA_CLASS else HPA_METRICS if cls == HPA_CLASS else ()
    if metric is not None and allowed and metric not in allowed:
        errors.append(
            FieldError(
                at(autoscaling.METRIC_ANNOTATION),
                f"invalid value: {metric!r}: the metrics of class {cls} are "
                + ", ".join(repr(m) for m in allowed),
            )
        )
    return errors


def progress_deadline(annotations: Mapping[str, Any]) -> float | None:
    """Seconds in ``serving.knative.dev/progress-deadline``, None when absent or invalid."""
    value = annotations.get(PROGRESS_DEADLINE_ANNOTATION)
    if not isinstance(value, str):
        return None
    try:
        return _positive_duration(value.strip())
    except ValueError:
        return None


def _whole(text: str, minimum: int = 0) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise ValueError(f"expected a whole number of at least {minimum}") from None
    if not minimum <= value <= _INT32_MAX:
        raise ValueError(f"expected {minimum} <= {text} <= {_INT32_MAX}")
    return value


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("expected a number") from None
    if not math.isfinite(value):
        raise ValueError("expected a finite number")
    return value


def _target(text: str) -> float:
    value = _float(text)
    if value < TARGET_MIN:
        raise ValueError(f"target {text} should be at least {TARGET_MIN:g}")
    return value


def _number(text: str, low: float, high: float) -> float:
    value = _float(text)
    if not low <= value <= high:
        raise ValueError(f"expected {low:g} <= {text} <= {high:g}")
    return value


def _burst(text: str) -> float:
    value = _float(text)
    if value < 0 and value != -1:
        raise ValueError("expected 0 or more, or -1 (unlimited)")
    return value


def _duration(text: str, low: float, high: float) -> float:
    value = duration.parse_go_duration(text, bare_seconds=True)
    if not low <= value <= high:
        raise ValueError(f"expected {_seconds(low)} <= {text} <= {_seconds(high)}")
    return value


def _positive_duration(text: str) -> float:
    value = duration.parse_go_duration(text, bare_seconds=True)
    if value <= 0:
        raise ValueError("expected a duration above 0, such as 600s or 10m")
    return value


def _seconds(value: float) -> str:
    return "1h" if value == 3600 else f"{value:g}s"
