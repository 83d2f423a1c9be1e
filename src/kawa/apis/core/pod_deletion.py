"""Graceful deletion of Pods, as the Kubernetes API server decides it.

Deleting a Pod that runs on a node does not remove it at once: the API server sets
``metadata.deletionTimestamp`` (now + the grace period) and
``metadata.deletionGracePeriodSeconds``, the node's kubelet stops the containers (SIGTERM,
SIGKILL once the grace period is over) and then removes the object. A Pod that was never
bound to a node, or whose phase is already ``Succeeded`` or ``Failed``, and a deletion with
a grace period of 0 (``kubectl delete --grace-period=0 --force``) remove it at once. A second
deletion may only shorten the grace period.

Pure: :func:`plan_deletion` is called by the API server's delete
(:mod:`kawa.apiserver.resources`), which also keeps these fields across updates
(:func:`keep_deletion`); the kubelet reads them (:func:`grace_of`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from kawa.apis.conditions import format_time

DELETION_FIELDS: Final = ("deletionTimestamp", "deletionGracePeriodSeconds")
DEFAULT_GRACE_PERIOD: Final = 30
_TERMINAL: Final = ("Succeeded", "Failed")


@dataclass(frozen=True, slots=True)
class Deletion:
    """What a delete request does to a Pod.

    ``immediate``: remove the object now (with ``metadata``: after setting it, so that the
    kubelet sees the grace period of 0 of a forced deletion). Otherwise ``metadata`` holds
    the fields to set (``None``: a graceful deletion is already pending and stays as is).
    """

    immediate: bool
    metadata: Mapping[str, Any] | None = None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _section(pod: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = pod.get(key)
    return value if isinstance(value, Mapping) else {}


def plan_deletion(pod: Mapping[str, Any], requested: int | None, now: datetime) -> Deletion:
    """Kubernetes' rules for deleting ``pod`` with the DeleteOptions' ``gracePeriodSeconds``
    ``requested`` (None: the Pod's ``terminationGracePeriodSeconds``) at ``now``."""
    spec, status, metadata = (
        _section(pod, "spec"),
        _section(pod, "status"),
        _section(pod, "metadata"),
    )
    grace = requested
    if grace is None:
        grace = _int(spec.get("terminationGracePeriodSeconds"))
        grace = DEFAULT_GRACE_PERIOD if grace is None else grace
    if not spec.get("nodeName") or status.get("phase") in _TERMINAL:
        return Deletion(immediate=True)
    grace = 1 if grace < 0 else grace
    if grace == 0:  # forced: the kubelet kills its processes at once
        return Deletion(True, _fields(now, 0))
    pending = _int(metadata.get("deletionGracePeriodSeconds"))
    if metadata.get("deletionTimestamp") and pending is not None:
        if requested is None or grace >= pending:
            return Deletion(immediate=False)
        start = _parse(metadata.get("deletionTimestamp"), now) - timedelta(seconds=pending)
        return Deletion(False, _fields(start + timedelta(seconds=grace), grace))
    return Deletion(False, _fields(now + timedelta(seconds=grace), grace))


def _fields(at: datetime, grace: int) -> dict[str, Any]:
    return {"deletionTimestamp": format_time(at), "deletionGracePeriodSeconds": grace}


def _parse(value: Any, default: datetime) -> datetime:
    """An RFC 3339 time (``2024-05-01T12:00:00Z``), ``default`` when it is not one."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return default
    return moment if moment.tzinfo is not None else default


def keep_deletion(old: Mapping[str, Any], new: dict[str, Any]) -> None:
    """Carry the deletion fields of ``old`` onto ``new`` (an update never sets or clears
    them, as in Kubernetes)."""
    old_meta = _section(old, "metadata")
    new_meta = new.get("metadata")
    if not isinstance(new_meta, dict):
        return
    for key in DELETION_FIELDS:
        if key in old_meta:
            new_meta[key] = old_meta[key]
        else:
            new_meta.pop(key, None)


def grace_of(pod: Mapping[str, Any]) -> float | None:
    """The grace period of a pending graceful deletion of ``pod``, None when there is none."""
    metadata = _section(pod, "metadata")
    if not metadata.get("deletionTimestamp"):
        return None
    grace = _int(metadata.get("deletionGracePeriodSeconds"))
    return float(grace) if grace is not None else float(DEFAULT_GRACE_PERIOD)
