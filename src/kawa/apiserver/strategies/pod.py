"""The Pod strategy: graceful deletion, as the Kubernetes API server decides it, and the node.

Deleting a Pod that runs on a node does not remove it at once: the API server sets
``metadata.deletionTimestamp`` (now + the grace period) and
``metadata.deletionGracePeriodSeconds``, the node's kubelet stops the containers (SIGTERM,
SIGKILL once the grace period is over) and then removes the object. A Pod that was never
bound to a node, or whose phase is already ``Succeeded`` or ``Failed``, and a deletion with
a grace period of 0 (``kubectl delete --grace-period=0 --force``) remove it at once. A second
deletion may only shorten the grace period, and updates keep the deletion fields (only a
delete sets them, :class:`~kawa.apiserver.strategies.base.Strategy`).

A Pod may be created or bound (``spec.nodeName`` set where it was empty) only with the name
of an existing Node, or none (the scheduler binds it, :mod:`kawa.controllers.nodes`): the
CRUD looks up the Node :meth:`PodStrategy.references` names, and refuses a missing one
(``spec.nodeName: Not found: node "x" not found``). A Pod of a node that is gone is failed
by the node lifecycle controller and then goes at once.

Pure: :func:`plan_deletion` is the deletion hook of :class:`PodStrategy`, which the generic
CRUD calls (looked up by :func:`kawa.apiserver.strategies.for_kind`); the kubelet reads the
fields with :func:`kawa.apis.core.pod_status.grace_of`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from kawa.apis.conditions import format_time
from kawa.apis.core import NODE
from kawa.apis.core.pod import DEFAULT_GRACE_PERIOD
from kawa.apiserver.strategies.base import IMMEDIATE, Deletion, Reference, Strategy

_TERMINAL: Final = ("Succeeded", "Failed")


class PodStrategy(Strategy):
    """Pods: graceful deletion, an existing node (see the module docstring)."""

    def references(self, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[Reference]:
        node = _section(new, "spec").get("nodeName")
        binding = old is None or not _section(old, "spec").get("nodeName")
        if not (binding and node and isinstance(node, str)):
            return []
        message = (
            f'Not found: node "{node}" not found (kubectl get nodes lists the nodes; leave '
            "spec.nodeName empty and the scheduler binds the Pod to one)"
        )
        return [Reference("spec.nodeName", NODE.resource, node, message)]

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
    if not spec.get("nodeName") or status.get("phase") in _TERMINAL:
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
