"""What the ReplicaSet and Deployment controllers share: resource names, controller owner
references (who controls an object, adopting and releasing), label selection and Pod
readiness as the ReplicaSet controller counts it.

Pure; used by :mod:`.replicaset` and :mod:`.deployment`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from kawa.apis import apps, core, meta
from kawa.apis.core.pod import DEFAULT_GRACE_PERIOD
from kawa.apis.label_selector import LabelSelector

PODS: Final = core.POD.resource
REPLICA_SETS: Final = apps.REPLICA_SET.resource
DEPLOYMENTS: Final = apps.DEPLOYMENT.resource
TERMINAL_PHASES: Final = ("Succeeded", "Failed")
LONG_AGO: Final = datetime.min.replace(tzinfo=UTC)


def owner_reference(owner: Mapping[str, Any]) -> dict[str, Any]:
    """The controller owner reference to ``owner`` (the garbage collector follows it; a
    foreground deletion of the owner waits for the dependent)."""
    return meta.controller_reference(owner)


def controller_of(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The owner reference with ``controller: true``, if any."""
    refs = meta.metadata_of(obj).get("ownerReferences")
    for ref in refs if isinstance(refs, list) else ():
        if isinstance(ref, Mapping) and ref.get("controller") is True:
            return ref
    return None


def controlled_by(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    ref = controller_of(obj)
    uid = meta.metadata_of(owner).get("uid")
    return ref is not None and bool(uid) and ref.get("uid") == uid


def adopted(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> dict[str, Any]:
    """``obj`` with ``owner`` added as its controller (kept at its resourceVersion, so a
    concurrent change makes the adoption a conflict)."""
    out = dict(obj)
    metadata = dict(meta.metadata_of(obj))
    refs = [r for r in metadata.get("ownerReferences") or [] if isinstance(r, Mapping)]
    metadata["ownerReferences"] = [*refs, owner_reference(owner)]
    out["metadata"] = metadata
    return out


def released(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> dict[str, Any]:
    """``obj`` without its owner reference to ``owner``."""
    out = dict(obj)
    metadata = dict(meta.metadata_of(obj))
    uid = meta.metadata_of(owner).get("uid")
    refs = [
        r
        for r in metadata.get("ownerReferences") or []
        if isinstance(r, Mapping) and r.get("uid") != uid
    ]
    if refs:
        metadata["ownerReferences"] = refs
    else:
        metadata.pop("ownerReferences", None)
    out["metadata"] = metadata
    return out


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    labels = meta.metadata_of(obj).get("labels")
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {}


def selects(selector: LabelSelector, obj: Mapping[str, Any]) -> bool:
    return selector.matches(labels_of(obj))


def deleting(obj: Mapping[str, Any]) -> bool:
    return bool(meta.metadata_of(obj).get("deletionTimestamp"))


def pod_active(pod: Mapping[str, Any]) -> bool:
    """Not being deleted and not finished: a Pod the ReplicaSet counts."""
    status = pod.get("status")
    phase = status.get("phase") if isinstance(status, Mapping) else None
    return not deleting(pod) and phase not in TERMINAL_PHASES


def ready_since(pod: Mapping[str, Any]) -> datetime | None:
    """When the Pod became Ready (``None``: it is not Ready)."""
    status = pod.get("status")
    conditions = status.get("conditions") if isinstance(status, Mapping) else None
    for condition in conditions if isinstance(conditions, list) else ():
        if (
            isinstance(condition, Mapping)
            and condition.get("type") == "Ready"
            and condition.get("status") == "True"
        ):
            return parse_time(condition.get("lastTransitionTime")) or LONG_AGO
    return None


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def waiting_problem(pod: Mapping[str, Any]) -> str | None:
    """``container c: ImageNotRunnable: ...`` when a container of the Pod waits for a reason
    other than starting (an image that cannot run, a missing ConfigMap, a crash loop)."""
    status = pod.get("status")
    statuses = status.get("containerStatuses") if isinstance(status, Mapping) else None
    for container in statuses if isinstance(statuses, list) else ():
        if not isinstance(container, Mapping):
            continue
        state = container.get("state")
        waiting = state.get("waiting") if isinstance(state, Mapping) else None
        if not isinstance(waiting, Mapping):
            continue
        reason = str(waiting.get("reason") or "")
        if reason and reason not in ("ContainerCreating", "PodInitializing"):
            message = str(waiting.get("message") or "")
            text = f"container {container.get('name')}: {reason}"
            return f"{text}: {message}" if message else text
    return None


def spec_selects(obj: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether the ``spec.selector`` of ``obj`` (a stored dict) selects ``labels`` (an empty
    or broken selector selects nothing)."""
    spec = obj.get("spec")
    selector = spec.get("selector") if isinstance(spec, Mapping) else None
    if not isinstance(selector, Mapping) or not selector:
        return False
    try:
        return LabelSelector.model_validate(selector).matches(labels)
    except ValueError:
        return False


def graceful_period(pod: Mapping[str, Any]) -> int | None:
    """The grace period a deletion of ``pod`` gives it (its
    ``terminationGracePeriodSeconds``): ``None`` when it goes at once, as the API server
    decides (never bound to a node, already finished, or a grace period of 0)."""
    spec = pod.get("spec")
    spec = spec if isinstance(spec, Mapping) else {}
    status = pod.get("status")
    phase = status.get("phase") if isinstance(status, Mapping) else None
    if not spec.get("nodeName") or phase in TERMINAL_PHASES:
        return None
    grace = spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_PERIOD)
    if not isinstance(grace, int) or isinstance(grace, bool) or grace <= 0:
        return None
    return grace
