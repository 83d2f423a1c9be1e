"""A Deployment's conditions as Kubernetes' deployment controller sets them (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from kawa.controllers.apps import conditions as conds

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def progressing(
    conditions: dict[str, dict[str, Any]],
    old: dict[str, Any],
    new: dict[str, Any],
    now: datetime,
    **options: Any,
) -> float | None:
    settings: dict[str, Any] = {
        "paused": False,
        "complete": False,
        "name": "web-abc",
        "created_name": "",
        "deadline": 60,
    }
    settings.update(options)
    return conds.mark_progressing(conditions, old, new, now=now, **settings)


def test_progress_then_deadline() -> None:
    conditions: dict[str, dict[str, Any]] = {}
    assert progressing(conditions, {}, {}, T0, created_name="web-abc") == 60.0
    assert conditions["Progressing"]["reason"] == "NewReplicaSetCreated"
    moved = {"replicas": 1, "updatedReplicas": 1}
    progressing(conditions, {}, moved, T0 + timedelta(seconds=30))
    assert conditions["Progressing"]["reason"] == "ReplicaSetUpdated"
    assert conditions["Progressing"]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert conditions["Progressing"]["lastUpdateTime"] == "2026-01-01T00:00:30Z"
    # nothing moves: looked at again when the deadline passes, then failed
    assert progressing(conditions, moved, moved, T0 + timedelta(seconds=40)) == 50.0
    progressing(conditions, moved, moved, T0 + timedelta(seconds=91))
    assert conditions["Progressing"]["status"] == "False"
    assert conditions["Progressing"]["reason"] == "ProgressDeadlineExceeded"
    assert conditions["Progressing"]["message"] == 'ReplicaSet "web-abc" has timed out progressing.'


def test_complete_stays_complete_and_pause() -> None:
    conditions: dict[str, dict[str, Any]] = {}
    progressing(conditions, {}, {}, T0, complete=True)
    assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
    # a Pod lost after the rollout is not a rollout making no progress (as Kubernetes)
    done = {"replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}
    lost = {"replicas": 2, "updatedReplicas": 2, "availableReplicas": 1}
    assert progressing(conditions, done, lost, T0 + timedelta(hours=1)) is None
    assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
    progressing(conditions, lost, lost, T0, paused=True)
    assert (conditions["Progressing"]["status"], conditions["Progressing"]["reason"]) == (
        "Unknown",
        "DeploymentPaused",
    )
    progressing(conditions, lost, lost, T0)
    assert conditions["Progressing"]["reason"] == "DeploymentResumed"


def test_available_names_why_pods_wait() -> None:
    conditions: dict[str, dict[str, Any]] = {}
    conds.mark_available(conditions, False, "Pod p: container c: ImageNotRunnable: x", T0)
    assert conditions["Available"]["message"] == (
        "Deployment does not have minimum availability. Pod p: container c: ImageNotRunnable: x"
    )
    conds.mark_available(conditions, True, None, T0 + timedelta(seconds=5))
    assert conditions["Available"]["lastTransitionTime"] == "2026-01-01T00:00:05Z"
