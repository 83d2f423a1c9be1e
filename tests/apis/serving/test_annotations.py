"""Knative's webhook checks of autoscaling annotations, at apply time, with Knative's paths."""

from __future__ import annotations

from typing import Any

import pytest

import kawa.apis.serving.annotations as revision_annotations
from kawa.apis.serving import configuration, revision, service

from ..helpers import field_errors

V1 = "serving.knative.dev/v1"
A = "autoscaling.knative.dev/"
T = "spec.template.metadata.annotations"


def ksvc(notes: dict[str, Any], kind: str = "Service") -> dict[str, Any]:
    return {
        "apiVersion": V1,
        "kind": kind,
        "metadata": {"name": "mins", "namespace": "ns"},
        "spec": {
            "template": {
                "metadata": {"annotations": notes},
                "spec": {"containers": [{"image": "busybox", "command": ["true"]}]},
            }
        },
    }


@pytest.mark.parametrize(
    ("notes", "expected"),
    [
        (
            {A + "max-scale": "abc"},
            {f"{T}[{A}max-scale]": "invalid value: 'abc': expected a whole number of at least 0"},
        ),
        (
            {A + "min-scale": "2", A + "max-scale": "1"},
            {f"{T}[{A}max-scale]": "max-scale=1 is less than min-scale=2"},
        ),
        (
            {A + "minScale": "-1"},
            {f"{T}[{A}minScale]": "invalid value: '-1': expected 0 <= -1 <= 2147483647"},
        ),
        (
            {A + "min-scale": "1", A + "minScale": "1"},
            {f"{T}[{A}minScale]": f"expected exactly one, got both: {A}min-scale and {A}minScale"},
        ),
        (
            {A + "target": "0"},
            {f"{T}[{A}target]": "invalid value: '0': target 0 should be at least 0.01"},
        ),
        (
            {A + "initial-scale": "-1"},
            {f"{T}[{A}initial-scale]": "invalid value: '-1': expected 0 <= -1 <= 2147483647"},
        ),
        ({A + "window": "1s"}, {f"{T}[{A}window]": "invalid value: '1s': expected 6s <= 1s <= 1h"}),
        ({A + "window": "2h"}, {f"{T}[{A}window]": "invalid value: '2h': expected 6s <= 2h <= 1h"}),
        (
            {A + "window": "soon"},
            {
                f"{T}[{A}window]": "invalid value: 'soon': expected a duration such as 60s, 1m30s "
                "or 500ms, got 'soon'"
            },
        ),
        (
            {A + "class": "unknown"},
            {
                f"{T}[{A}class]": "invalid value: 'unknown': supported classes: "
                "'kpa.autoscaling.knative.dev' (the concurrency-based autoscaler kawa runs), "
                "'hpa.autoscaling.knative.dev'"
            },
        ),
        (
            {A + "metric": "unknown"},
            {
                f"{T}[{A}metric]": "invalid value: 'unknown': the metrics of class "
                "kpa.autoscaling.knative.dev are 'concurrency', 'rps'"
            },
        ),
        (
            {A + "target-utilization-percentage": "101", A + "panic-threshold-percentage": "100"},
            {
                f"{T}[{A}target-utilization-percentage]": "invalid value: '101': expected "
                "1 <= 101 <= 100",
                f"{T}[{A}panic-threshold-percentage]": "invalid value: '100': expected "
                "110 <= 100 <= 1000",
            },
        ),
        (
            {A + "scale-to-zero-pod-retention-period": "-5s"},
            {
                f"{T}[{A}scale-to-zero-pod-retention-period]": "invalid value: '-5s': expected a "
                "duration such as 60s, 1m30s or 500ms, got '-5s'"
            },
        ),
        (
            {"serving.knative.dev/progress-deadline": "0s"},
            {
                f"{T}[serving.knative.dev/progress-deadline]": "invalid value: '0s': expected a "
                "duration above 0, such as 600s or 10m"
            },
        ),
    ],
)
@pytest.mark.parametrize("kind", ["Service", "Configuration"])
def test_bad_annotations_are_refused(kind: str, notes: dict[str, Any], expected: Any) -> None:
    parse = service.parse_service if kind == "Service" else configuration.parse_configuration
    assert field_errors(lambda: parse(ksvc(notes, kind))) == expected


def test_good_annotations_pass() -> None:
    notes = {
        A + "min-scale": "1",
        A + "max-scale": "3",
        A + "initial-scale": "0",
        A + "target": "0.5",
        A + "target-utilization-percentage": "70",
        A + "window": "6s",
        A + "panic-window-percentage": "10",
        A + "panic-threshold-percentage": "200",
        A + "scale-to-zero-pod-retention-period": "1m30s",
        A + "class": "kpa.autoscaling.knative.dev",
        A + "metric": "concurrency",
        A + "target-burst-capacity": "-1",
        "serving.knative.dev/progress-deadline": "30s",
        "example.com/free": "anything",
    }
    service.parse_service(ksvc(notes))
    # max-scale 0 means no limit, so it is never below min-scale.
    service.parse_service(ksvc({A + "min-scale": "4", A + "max-scale": "0"}))
    service.parse_service(ksvc({A + "class": "hpa.autoscaling.knative.dev", A + "metric": "cpu"}))


def test_revision_metadata_annotations_are_checked() -> None:
    raw = {
        "apiVersion": V1,
        "kind": "Revision",
        "metadata": {
            "name": "mins-00001",
            "namespace": "ns",
            "annotations": {A + "max-scale": "abc"},
        },
        "spec": {"containers": [{"image": "busybox"}]},
    }
    assert field_errors(lambda: revision.parse_revision(raw)) == {
        f"metadata.annotations[{A}max-scale]": "invalid value: 'abc': expected a whole number "
        "of at least 0"
    }


def test_progress_deadline_reader() -> None:
    key = revision_annotations.PROGRESS_DEADLINE_ANNOTATION
    assert revision_annotations.progress_deadline({key: "1m"}) == 60.0
    assert revision_annotations.progress_deadline({key: "nope"}) is None
    assert revision_annotations.progress_deadline({}) is None
