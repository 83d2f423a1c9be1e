"""The conditions of a Deployment, as Kubernetes' deployment controller sets them:
``Available`` from the number of available Pods, ``Progressing`` from the progress of the
rollout since the last status (``NewReplicaSetCreated``, ``ReplicaSetUpdated``,
``NewReplicaSetAvailable``, ``ProgressDeadlineExceeded``, ``DeploymentPaused``,
``DeploymentResumed``). A condition's ``lastUpdateTime`` moves with every change (and with
progress), its ``lastTransitionTime`` only when its status changes.

Pure; used by :mod:`.deployment`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from kawa.apis.apps import deployment as d_api
from kawa.apis.conditions import format_time
from kawa.controllers.apps import common

AVAILABLE: Final = d_api.AVAILABLE
PROGRESSING: Final = d_api.PROGRESSING
COMPLETE: Final = "NewReplicaSetAvailable"
TIMED_OUT: Final = "ProgressDeadlineExceeded"
PAUSED: Final = "DeploymentPaused"


def mark_available(
    conditions: dict[str, dict[str, Any]], healthy: bool, problem: str | None, now: datetime
) -> None:
    """``Available``: ``True`` with enough available Pods, else ``False`` with why a Pod of
    the new ReplicaSet waits (``problem``), if one does."""
    if healthy:
        mark(
            conditions,
            AVAILABLE,
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            now,
        )
        return
    message = "Deployment does not have minimum availability."
    mark(
        conditions,
        AVAILABLE,
        "False",
        "MinimumReplicasUnavailable",
        f"{message} {problem}" if problem else message,
        now,
    )


def mark_progressing(
    conditions: dict[str, dict[str, Any]],
    old: Mapping[str, Any],
    status: Mapping[str, Any],
    *,
    paused: bool,
    complete: bool,
    name: str,
    created_name: str,
    deadline: int,
    now: datetime,
) -> float | None:
    """Set ``Progressing`` (Kubernetes' syncRolloutStatus) from the last status ``old`` and
    the new one; the seconds after which the deadline is to be checked again, if any."""
    before = conditions.get(PROGRESSING)
    if paused:
        if before is None or before.get("reason") != PAUSED:
            mark(conditions, PROGRESSING, "Unknown", PAUSED, "Deployment is paused", now)
        return None
    if before is not None and before.get("reason") == PAUSED:
        mark(
            conditions,
            PROGRESSING,
            "Unknown",
            "DeploymentResumed",
            "Deployment is resumed",
            now,
        )
        before = conditions[PROGRESSING]
    if complete:
        mark(
            conditions,
            PROGRESSING,
            "True",
            COMPLETE,
            f'ReplicaSet "{name}" has successfully progressed.',
            now,
        )
        return None
    if created_name:
        mark(
            conditions,
            PROGRESSING,
            "True",
            "NewReplicaSetCreated",
            f'Created new replica set "{created_name}"',
            now,
            touch=True,
        )
        return float(deadline)
    if moved(old, status) or before is None:
        mark(
            conditions,
            PROGRESSING,
            "True",
            "ReplicaSetUpdated",
            f'ReplicaSet "{name}" is progressing.',
            now,
            touch=True,
        )
        return float(deadline)
    if before.get("status") == "True" and before.get("reason") != COMPLETE:
        since = common.parse_time(before.get("lastUpdateTime"))
        due = since + timedelta(seconds=deadline) if since else now
        if due <= now:
            mark(
                conditions,
                PROGRESSING,
                "False",
                TIMED_OUT,
                f'ReplicaSet "{name}" has timed out progressing.',
                now,
            )
        else:
            return (due - now).total_seconds()
    return None


def moved(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether the rollout made progress since the last status (Kubernetes'
    DeploymentProgressing)."""

    def num(status: Mapping[str, Any], field: str) -> int:
        value = status.get(field)
        return value if isinstance(value, int) else 0

    old_olds = num(old, "replicas") - num(old, "updatedReplicas")
    new_olds = num(new, "replicas") - num(new, "updatedReplicas")
    return (
        num(new, "updatedReplicas") > num(old, "updatedReplicas")
        or new_olds < old_olds
        or num(new, "readyReplicas") > num(old, "readyReplicas")
        or num(new, "availableReplicas") > num(old, "availableReplicas")
    )


def mark(
    conditions: dict[str, dict[str, Any]],
    type_: str,
    status: str,
    reason: str,
    message: str,
    now: datetime,
    *,
    touch: bool = False,
) -> None:
    """Set a condition: ``lastTransitionTime`` moves when the status changes,
    ``lastUpdateTime`` when anything does (or, with ``touch``, always: progress was made)."""
    stamp = format_time(now)
    before = conditions.get(type_)
    same = before is not None and (
        before.get("status"),
        before.get("reason"),
        before.get("message"),
    ) == (status, reason, message)
    if same and not touch:
        return
    transition = (
        before["lastTransitionTime"]
        if before is not None
        and before.get("status") == status
        and before.get("lastTransitionTime")
        else stamp
    )
    conditions[type_] = {
        "type": type_,
        "status": status,
        "lastUpdateTime": stamp,
        "lastTransitionTime": transition,
        "reason": reason,
        "message": message,
    }
