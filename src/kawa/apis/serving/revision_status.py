"""A Revision's status from its Pods and its image (pure: the reconciler fetches them).

Knative's conditions: ``ResourcesAvailable`` (``True`` once a Pod has been Ready; it stays
``True`` when the Revision scales to zero; ``False``/``ProgressDeadlineExceeded`` when no Pod
was ever Ready within the progress deadline), ``ContainerHealthy`` (``False`` with reason
``ExitCode<N>`` or ``CrashLoopBackOff`` when the container keeps failing, or
``ImageNotRunnable`` when kawa has no program for the image), ``Ready`` from both, and
``Active`` (severity Info: ``True`` while a Pod is Ready, ``False``/``NoTraffic`` when scaled
to zero). A Revision whose initial scale is 0 (:func:`starts_at_zero`: Knative's
``initial-scale: "0"``, allowed by ``allow-zero-initial-scale``) is ``ResourcesAvailable``
and ``Ready`` without ever having a Pod, as Knative's PodAutoscaler reports its scale target
initialized at 0; its first request starts it. Also ``actualReplicas`` (Ready Pods),
``desiredReplicas`` and ``containerStatuses``. Called by the Revision reconciler with the
Pods labelled ``serving.knative.dev/revision=<name>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from kawa.apis import meta
from kawa.apis.conditions import Clock, get_condition
from kawa.apis.serving import autoscaling, revision

RESOURCES_AVAILABLE: Final = revision.RESOURCES_AVAILABLE
CONTAINER_HEALTHY: Final = revision.CONTAINER_HEALTHY
ACTIVE: Final = "Active"
CONDITIONS: Final = revision.REVISION_CONDITIONS
DESIRED_SCALE_ANNOTATION: Final = "autoscaling.knative.dev/desired-scale"
"""Where the autoscaler may publish the scale it wants (read when present)."""

DEPLOYING: Final = "Deploying"
NO_TRAFFIC: Final = "NoTraffic"
NO_TRAFFIC_MESSAGE: Final = "The target is not receiving traffic."
IMAGE_NOT_RUNNABLE: Final = "ImageNotRunnable"
PROGRESS_DEADLINE_EXCEEDED: Final = "ProgressDeadlineExceeded"

_FATAL_WAITING: Final = frozenset(
    {
        "ImageNotRunnable",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
        "InvalidImageName",
        "ErrImagePull",
        "ImagePullBackOff",
    }
)
"""Waiting reasons that do not go away by waiting."""


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def pod_is_ready(pod: Mapping[str, Any]) -> bool:
    """A Pod that receives traffic: condition ``Ready`` ``True`` and not being deleted."""
    if meta.metadata_of(pod).get("deletionTimestamp"):
        return False
    ready = get_condition(_mapping(pod.get("status")), "Ready")
    return ready is not None and ready.is_true


def _container_status(pod: Mapping[str, Any], container: str) -> Mapping[str, Any] | None:
    statuses = _mapping(pod.get("status")).get("containerStatuses")
    if not isinstance(statuses, list):
        return None
    found = [s for s in statuses if isinstance(s, Mapping)]
    for item in found:
        if item.get("name") == container:
            return item
    return found[0] if len(found) == 1 else None


LOST_WITH_KAWA: Final = "ContainerStatusUnknown"
"""The reason the kubelet gives a container whose process died with a previous kawa."""


def container_failure(pod: Mapping[str, Any], container: str) -> tuple[str, str] | None:
    """``(reason, message)`` when the Pod's container failed (crashed or cannot start)."""
    status = _container_status(pod, container)
    if status is None:
        return None
    name = str(meta.metadata_of(pod).get("name", ""))
    state = _mapping(status.get("state"))
    last = _mapping(status.get("lastState"))
    waiting = _mapping(state.get("waiting"))
    reason = str(waiting.get("reason") or "")
    if reason in _FATAL_WAITING:
        return reason, str(waiting.get("message") or reason)
    terminated = _mapping(state.get("terminated")) or _mapping(last.get("terminated"))
    code = _int(terminated.get("exitCode"))
    # a process lost with a previous kawa (the kubelet restarts it) is not the program's fault
    lost = terminated.get("reason") == LOST_WITH_KAWA
    if terminated and code != 0 and not lost:
        detail = str(terminated.get("message") or "").strip()
        if not detail:
            detail = (
                f"{terminated.get('reason') or 'Error'} (exit code {code}); "
                f"its output: kubectl logs {name} -c {container} --previous"
            )
        return f"ExitCode{code}", f"Container failed with: {detail}"
    if reason == "CrashLoopBackOff":
        return reason, str(waiting.get("message") or "Back-off restarting failed container")
    return None


def starts_at_zero(rev: Mapping[str, Any], config: autoscaling.AutoscalerConfig) -> bool:
    """Whether ``rev`` starts with no instance under ``config`` (ConfigMap
    ``config-autoscaler``): its effective initial scale is 0.

    That is the annotation ``autoscaling.knative.dev/initial-scale`` (else the config's
    ``initial-scale``) at 0 with ``allow-zero-initial-scale: "true"`` (without it 0 counts as
    1), and no ``min-scale`` above 0 and scale to zero enabled (Knative waits for
    ``max(min-scale, initial-scale)`` ready Pods).
    """
    settings, _ = autoscaling.revision_settings(rev, config)
    return settings.initial_scale == 0


def compute_status(
    status: dict[str, Any],
    rev: Mapping[str, Any],
    pods: Sequence[Mapping[str, Any]],
    *,
    image_problem: str | None,
    clock: Clock,
    deadline_exceeded: str | None = None,
    zero_initial_scale: bool = False,
) -> None:
    """Update ``status`` (a working copy of the Revision's) from its Pods and the verdict on
    its image (``image_problem``: the message saying how to make it runnable).

    ``deadline_exceeded``: the message when the progress deadline passed without a ready Pod
    (:mod:`kawa.controllers.serving.progress`); ``ResourcesAvailable`` is then ``False``.
    ``zero_initial_scale``: the Revision starts at zero (:func:`starts_at_zero`), so it is
    available without a Pod (and ``Active`` ``False``/``NoTraffic`` while it has none).
    """
    CONDITIONS.initialize(status, clock=clock)
    spec = _mapping(rev.get("spec"))
    containers = spec.get("containers")
    first = _mapping(containers[0]) if isinstance(containers, list) and containers else {}
    container = str(first.get("name") or revision.DEFAULT_CONTAINER_NAME)
    live = [p for p in pods if not meta.metadata_of(p).get("deletionTimestamp")]
    ready = [p for p in live if pod_is_ready(p)]
    available = get_condition(status, RESOURCES_AVAILABLE)
    was_available = available is not None and available.is_true
    # Knative: the scale target is initialized once max(min-scale, initial-scale) Pods are
    # ready, at once when that is 0
    initialized_at_zero = zero_initial_scale and not was_available and image_problem is None

    if image_problem is not None:
        if not was_available:
            CONDITIONS.mark_false(
                status, RESOURCES_AVAILABLE, IMAGE_NOT_RUNNABLE, image_problem, clock=clock
            )
        CONDITIONS.mark_false(
            status, CONTAINER_HEALTHY, IMAGE_NOT_RUNNABLE, image_problem, clock=clock
        )
    elif ready:
        CONDITIONS.mark_true(status, RESOURCES_AVAILABLE, clock=clock)
        CONDITIONS.mark_true(status, CONTAINER_HEALTHY, clock=clock)
    else:
        failure = next(
            (f for f in (container_failure(p, container) for p in live) if f is not None), None
        )
        if failure is not None:
            CONDITIONS.mark_false(status, CONTAINER_HEALTHY, *failure, clock=clock)
        else:
            healthy = get_condition(status, CONTAINER_HEALTHY)
            if initialized_at_zero:
                CONDITIONS.mark_true(status, CONTAINER_HEALTHY, clock=clock)
            elif healthy is None or not healthy.is_true:
                CONDITIONS.mark_unknown(status, CONTAINER_HEALTHY, DEPLOYING, "", clock=clock)
        if initialized_at_zero:
            CONDITIONS.mark_true(status, RESOURCES_AVAILABLE, clock=clock)
        elif not was_available and deadline_exceeded is not None:
            CONDITIONS.mark_false(
                status,
                RESOURCES_AVAILABLE,
                PROGRESS_DEADLINE_EXCEEDED,
                deadline_exceeded,
                clock=clock,
            )
        elif not was_available:
            CONDITIONS.mark_unknown(status, RESOURCES_AVAILABLE, DEPLOYING, "", clock=clock)

    if ready:
        CONDITIONS.mark_true(status, ACTIVE, clock=clock)
    elif (not live and (was_available or initialized_at_zero)) or image_problem is not None:
        CONDITIONS.mark_false(status, ACTIVE, NO_TRAFFIC, NO_TRAFFIC_MESSAGE, clock=clock)
    else:
        CONDITIONS.mark_unknown(
            status,
            ACTIVE,
            "Queued",
            "Requests to the target are being buffered as resources are provisioned.",
            clock=clock,
        )

    status["actualReplicas"] = len(ready)
    desired = _desired_scale(rev)
    status["desiredReplicas"] = desired if desired is not None else len(live)
    status["containerStatuses"] = [{"name": container, "imageDigest": str(first.get("image", ""))}]


def _desired_scale(rev: Mapping[str, Any]) -> int | None:
    annotations = meta.metadata_of(rev).get("annotations")
    value = annotations.get(DESIRED_SCALE_ANNOTATION) if isinstance(annotations, Mapping) else None
    try:
        return max(0, int(str(value))) if value is not None else None
    except ValueError:
        return None
