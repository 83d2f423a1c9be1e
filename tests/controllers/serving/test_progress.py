"""The progress deadline's pure parts: config, time left, the Pod's hint, the condition."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kawa.apis.conditions import get_condition
from kawa.apis.serving import revision_status
from kawa.controllers.serving import progress

from ...apis.helpers import FakeClock

NEVER = "Initial scale was never achieved"


def rev(annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Revision",
        "metadata": {
            "name": "r-00001",
            "namespace": "ns",
            "creationTimestamp": "2024-05-01T12:00:00Z",
            "annotations": annotations or {},
        },
        "spec": {"containers": [{"name": "user-container", "image": "busybox"}]},
    }


def pod(name: str, container_status: dict[str, Any], message: str = "") -> dict[str, Any]:
    ready: dict[str, Any] = {"type": "Ready", "status": "False"}
    if message:
        ready["message"] = message
    return {
        "metadata": {"name": name},
        "status": {"conditions": [ready], "containerStatuses": [container_status]},
    }


def test_deadline_from_config_and_annotation() -> None:
    assert progress.deadline_from_configmap(None) == (600.0, [])
    assert progress.deadline_from_configmap({"progress-deadline": "2m"}) == (120.0, [])
    deadline, warnings = progress.deadline_from_configmap({"progress-deadline": "soon"})
    assert deadline == 600.0
    assert warnings == [
        "progress-deadline: expected a duration such as 60s, 1m30s or 500ms, got 'soon'; using 600s"
    ]
    assert progress.deadline_from_configmap({"progress-deadline": "0s"})[0] == 600.0
    assert progress.revision_deadline(rev(), 42.0) == 42.0
    assert progress.revision_deadline(rev({"serving.knative.dev/progress-deadline": "x"}), 7) == 7
    annotated = rev({"serving.knative.dev/progress-deadline": "30s"})
    assert progress.revision_deadline(annotated, 600.0) == 30.0


def test_time_left() -> None:
    clock = FakeClock()
    assert progress.remaining(rev(), 10.0, clock()) == 10.0
    clock.advance(12)
    assert progress.remaining(rev(), 10.0, clock()) == -2.0
    no_time = rev()
    del no_time["metadata"]["creationTimestamp"]
    assert progress.remaining(no_time, 10.0, clock()) is None


def test_pod_hint_prefers_the_containers_words() -> None:
    waiting = {"name": "user-container", "state": {"waiting": {"reason": "X", "message": "why"}}}
    crashed = {
        "name": "user-container",
        "state": {"running": {}},
        "lastState": {"terminated": {"reason": "Error", "message": "boom\n"}},
    }
    running = {"name": "user-container", "state": {"running": {}}}
    event = {
        "reason": "Unhealthy",
        "involvedObject": {"name": "p2"},
        "message": "Readiness probe failed: HTTP probe failed with statuscode: 503",
        "lastTimestamp": "2024-05-01T12:00:05Z",
    }
    older = dict(event, message="old", lastTimestamp="2024-05-01T12:00:01Z")
    assert progress.pod_hint([pod("p1", waiting)], "user-container") == "X: why"
    assert progress.pod_hint([pod("p1", crashed)], "user-container") == "Error: boom"
    assert (
        progress.pod_hint([pod("p2", running, "not ready")], "user-container", [older, event])
        == event["message"]
    )
    assert progress.pod_hint([pod("p3", running, "not ready")], "user-container") == "not ready"
    assert progress.pod_hint([], "user-container") == "no instance is running"
    assert progress.exceeded_message(2, "") == (
        f"{NEVER}: no instance became ready within the progress deadline of 2s"
    )


def test_compute_status_marks_the_deadline_only_before_any_ready_pod() -> None:
    clock = FakeClock()
    status: dict[str, Any] = {}
    revision_status.compute_status(
        status, rev(), [], image_problem=None, clock=clock, deadline_exceeded="late"
    )
    available = get_condition(status, "ResourcesAvailable")
    assert available is not None
    assert (available.status, available.reason, available.message) == (
        "False",
        "ProgressDeadlineExceeded",
        "late",
    )
    ready = get_condition(status, "Ready")
    assert ready is not None
    assert ready.reason == "ProgressDeadlineExceeded"

    status = {}
    up = {
        "metadata": {"name": "p"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    revision_status.compute_status(status, rev(), [up], image_problem=None, clock=clock)
    clock.now += timedelta(hours=1)
    revision_status.compute_status(
        status, rev(), [], image_problem=None, clock=clock, deadline_exceeded="late"
    )
    available = get_condition(status, "ResourcesAvailable")
    assert available is not None
    assert available.is_true
