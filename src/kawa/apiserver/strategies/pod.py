"""The Pod strategy: graceful deletion, as the Kubernetes API server decides it, and the node.

Deleting a Pod that runs on a node does not remove it at once: the API server sets
``metadata.deletionTimestamp`` (now + the grace period) and
``metadata.deletionGracePeriodSeconds``, the node's kubelet stops the containers (SIGTERM,
SIGKILL once the grace period is over) and then removes the object. A Pod that was never
bound to a node, or whose phase is already ``Succeeded`` or ``Failed``, and a deletion with
a grace period of 0 (``kubectl delete --grace-period=0 --force``) remove it at once. A second
deletion may only shorten the grace period, and updates keep the deletion fields (only a
delete sets them, :class:`~kawa.apiserver.strategies.base.Strategy`).

kawa has one node, ``kawa`` (:data:`kawa.apis.core.pod.NODE_NAME`): a Pod may not be created
or bound with another ``spec.nodeName`` (no kubelet would ever run or stop it), and a Pod
stored bound to another node (by an older kawa) is deleted at once, as Kubernetes' Pod
garbage collector force-deletes the Pods of nodes that do not exist.

Pure: :func:`plan_deletion` is the deletion hook of :class:`PodStrategy`, which the generic
CRUD calls (looked up by :func:`kawa.apiserver.strategies.for_kind`); the kubelet reads the
fields with :func:`kawa.apis.core.pod_status.grace_of`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from kawa.apis.conditions import format_time
from kawa.apis.core.pod import DEFAULT_GRACE_PERIOD, NODE_NAME
from kawa.apiserver.strategies.base import IMMEDIATE, Deletion, Strategy
from kawa.errors import FieldError

NODES: Final = frozenset({NODE_NAME})
"""The nodes a kubelet runs Pods on (kawa has one)."""
_TERMINAL: Final = ("Succeeded", "Failed")


class PodStrategy(Strategy):
    """Pods: graceful deletion, one node (see the module docstring)."""

    def validate(self, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[FieldError]:
        errors = super().validate(old, new)
        node = _section(new, "spec").get("nodeName")
        binding = old is None or not _section(old, "spec").get("nodeName")
        if binding and node and node not in NODES:
            errors.append(
                FieldError(
                    "spec.nodeName",
                    f"invalid value {node!r}: there is no node of that name; kawa runs Pods on "
                    f"its one node, {NODE_NAME!r} (leave spec.nodeName empty and kawa binds "
                    "the Pod to it)",
                )
            )
        return errors

    def plan_deletion(
        self, obj: Mapping[str, Any], grace_period: int | None, now: datetime
    ) -> Deletion:
        return plan_deletion(obj, grace_period, now)


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
    if spec.get("nodeName") not in NODES or status.get("phase") in _TERMINAL:
        return IMMEDIATE  # never run here (no kubelet to stop it), or finished
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
