"""Knative's progress deadline: how long a new Revision may take to get its first ready Pod.

The deadline is the Revision's annotation ``serving.knative.dev/progress-deadline`` if set,
else key ``progress-deadline`` of ConfigMap ``knative-serving/config-deployment`` (Knative's
default: 600s). A Revision that never had a ready Pod that long after its creation gets
``ResourcesAvailable=False`` (so ``Ready=False``), reason ``ProgressDeadlineExceeded``, and
Knative's message ``Initial scale was never achieved`` followed by what its Pod last said
(:func:`pod_hint`). A Revision whose initial scale is 0 has no deadline (it is available
before any Pod: :func:`kawa.apis.serving.revision_status.starts_at_zero`). Pure: the
Revision reconciler (:mod:`kawa.controllers.serving.revision`) reads the ConfigMap, the
Pods and their Events and calls these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from kawa.apis import duration, meta
from kawa.apis.conditions import get_condition
from kawa.apis.serving.annotations import progress_deadline as annotated_deadline

CONFIG_MAP: Final = "config-deployment"
CONFIG_NAMESPACE: Final = "knative-serving"
KEY: Final = "progress-deadline"
DEFAULT_DEADLINE: Final = 600.0
REASON: Final = "ProgressDeadlineExceeded"
NEVER_ACHIEVED: Final = "Initial scale was never achieved"


def deadline_from_configmap(data: Mapping[str, Any] | None) -> tuple[float, list[str]]:
    """Seconds in ``progress-deadline`` of ``config-deployment`` (600 when absent), and a
    warning for a bad value (which keeps the default: a typo must not stop serving)."""
    value = (data or {}).get(KEY)
    if value is None:
        return DEFAULT_DEADLINE, []
    try:
        seconds = duration.parse_go_duration(str(value), bare_seconds=True)
    except ValueError as exc:
        return DEFAULT_DEADLINE, [f"{KEY}: {exc}; using {DEFAULT_DEADLINE:g}s"]
    if seconds <= 0:
        return DEFAULT_DEADLINE, [
            f"{KEY}: expected a duration above 0, got {value!r}; using {DEFAULT_DEADLINE:g}s"
        ]
    return seconds, []


def revision_deadline(rev: Mapping[str, Any], default: float) -> float:
    """The Revision's own deadline (its annotation), else ``default``."""
    annotations = meta.metadata_of(rev).get("annotations")
    own = annotated_deadline(annotations) if isinstance(annotations, Mapping) else None
    return own if own is not None else default


def created_at(rev: Mapping[str, Any]) -> datetime | None:
    """``metadata.creationTimestamp`` of ``rev`` (None when missing or unreadable)."""
    value = meta.metadata_of(rev).get("creationTimestamp")
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def remaining(rev: Mapping[str, Any], deadline: float, now: datetime) -> float | None:
    """Seconds until ``rev``'s deadline (0 or less: passed); None without a creation time."""
    created = created_at(rev)
    if created is None:
        return None
    return deadline - (now - created).total_seconds()


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def pod_hint(
    pods: Sequence[Mapping[str, Any]],
    container: str,
    events: Sequence[Mapping[str, Any]] = (),
) -> str:
    """What the Revision's Pods last said about why they are not ready.

    The first found of: a container's waiting or terminated message (its current state, then
    its last one), the kubelet's latest ``Unhealthy`` Event (``Readiness probe failed: ...``)
    about one of the Pods, the Pod's ``Ready`` condition message. ``""`` when there is none.
    """
    live = [p for p in pods if not meta.metadata_of(p).get("deletionTimestamp")]
    for pod in live:
        statuses = _mapping(pod.get("status")).get("containerStatuses")
        for item in statuses if isinstance(statuses, list) else ():
            if not isinstance(item, Mapping) or item.get("name") not in (container, None):
                continue
            for which in ("state", "lastState"):
                state = _mapping(item.get(which))
                for kind in ("waiting", "terminated"):
                    detail = _mapping(state.get(kind))
                    message = str(detail.get("message") or "").strip()
                    if message:
                        reason = str(detail.get("reason") or kind)
                        return f"{reason}: {message[-512:]}"
    names = {meta.metadata_of(p).get("name") for p in live}
    unhealthy = [
        e
        for e in events
        if e.get("reason") == "Unhealthy" and _mapping(e.get("involvedObject")).get("name") in names
    ]
    if unhealthy:
        latest = max(unhealthy, key=lambda e: str(e.get("lastTimestamp") or ""))
        return str(latest.get("message") or "")
    for pod in live:
        ready = get_condition(_mapping(pod.get("status")), "Ready")
        if ready is not None and ready.message:
            return ready.message
    if not live:
        return "no instance is running"
    return ""


def exceeded_message(deadline: float, hint: str) -> str:
    """Knative's message, with how long the deadline was and what the Pod said."""
    text = (
        f"{NEVER_ACHIEVED}: no instance became ready within the progress deadline of {deadline:g}s"
    )
    return f"{text}; {hint}" if hint else text
