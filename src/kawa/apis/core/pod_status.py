"""A Pod's status: its declaration, the helpers the process supervisor uses and ``kubectl get
pods`` cells.

:class:`PodStatus` declares what the kubelet writes (the schema of ``status``, with
``conditions`` merged by ``type`` and ``podIPs`` by ``ip``).

The supervisor that runs a Pod's containers as processes reports them with
:func:`set_container_status` (one ``containerStatuses`` entry: ready, restarts, state) and
:func:`set_pod_phase`; :data:`POD_CONDITIONS` derives ``Ready`` from ``PodScheduled``,
``Initialized`` and ``ContainersReady``. :func:`status_cell` reproduces the STATUS column of
kubectl (Kubernetes' ``printPod``): the phase, or the reason of a waiting or terminated
container (``CrashLoopBackOff``, ``Completed``, ``Error``), ``Init:...`` while init
containers run, ``Terminating`` while the Pod is deleted. :func:`grace_of` tells the
kubelet the grace period of a Pod the API server is deleting gracefully.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal, get_args

from kawa.apis.conditions import Clock, ConditionSet, format_time, get_condition
from kawa.apis.core.pod_spec import DEFAULT_GRACE_PERIOD
from kawa.apis.model.base import MergeKey, Model, doc
from kawa.apis.model.types import DateTime

POD_SCHEDULED: Final = "PodScheduled"
INITIALIZED: Final = "Initialized"
CONTAINERS_READY: Final = "ContainersReady"
READY: Final = "Ready"

POD_CONDITIONS: Final = ConditionSet((POD_SCHEDULED, INITIALIZED, CONTAINERS_READY))
"""A Pod is ``Ready`` when scheduled, initialized and all its containers are ready."""

Phase = Literal["Pending", "Running", "Succeeded", "Failed", "Unknown"]
PHASES: Final[tuple[str, ...]] = get_args(Phase)
_TERMINAL: Final = ("Succeeded", "Failed")
_NONE: Final = "<none>"


# -- the status, declared ----------------------------------------------------------------------


class PodCondition(Model):
    """A condition of the Pod."""

    type: Annotated[str, doc("The condition's type.")] = ""
    status: Annotated[str, doc("True, False or Unknown.")] = ""
    reason: Annotated[str, doc("A CamelCase reason for the status.")] = ""
    message: Annotated[str, doc("A human-readable explanation.")] = ""
    last_probe_time: Annotated[DateTime | None, doc("When the condition was last probed.")] = None
    last_transition_time: Annotated[DateTime | None, doc("When the status last changed.")] = None


class ContainerStateWaiting(Model):
    """The container is not running yet."""

    reason: Annotated[str, doc("Why (ContainerCreating, CrashLoopBackOff...).")] = ""
    message: Annotated[str, doc("Details.")] = ""


class ContainerStateRunning(Model):
    """The container is running."""

    started_at: Annotated[DateTime | None, doc("When it last started.")] = None


class ContainerStateTerminated(Model):
    """The container has exited."""

    exit_code: Annotated[int, doc("The process's exit code.")] = 0
    signal: Annotated[int | None, doc("The signal that ended the process, if any.")] = None
    reason: Annotated[str, doc("Why (Completed, Error, OOMKilled...).")] = ""
    message: Annotated[str, doc("Details.")] = ""
    started_at: Annotated[DateTime | None, doc("When it started.")] = None
    finished_at: Annotated[DateTime | None, doc("When it exited.")] = None
    container_id: Annotated[str, doc("The runtime's id of the container.", alias="containerID")] = (
        ""
    )


class ContainerState(Model):
    """What the container is doing: one of waiting, running or terminated."""

    waiting: Annotated[ContainerStateWaiting | None, doc("The container is not running yet.")] = (
        None
    )
    running: Annotated[ContainerStateRunning | None, doc("The container is running.")] = None
    terminated: Annotated[ContainerStateTerminated | None, doc("The container has exited.")] = None


class ContainerStatus(Model):
    """The observed state of one container."""

    name: Annotated[str, doc("Name of the container.")]
    ready: Annotated[bool | None, doc("Whether the container passes its readiness probe.")] = None
    started: Annotated[bool | None, doc("Whether the container has started.")] = None
    restart_count: Annotated[
        int | None, doc("How many times the container has been restarted.", ge=0)
    ] = None
    image: Annotated[str, doc("The image the container runs.")] = ""
    image_id: Annotated[str, doc("The exact image the container runs.", alias="imageID")] = ""
    container_id: Annotated[
        str,
        doc("The runtime's id of the container (a process id for kawa).", alias="containerID"),
    ] = ""
    state: Annotated[ContainerState | None, doc("What the container is doing now.")] = None
    last_state: Annotated[ContainerState | None, doc("The container's previous state.")] = None


class PodIP(Model):
    """An IP address of the Pod."""

    ip: Annotated[str, doc("The address.")] = ""


class HostIP(Model):
    """An IP address of the Pod's node."""

    ip: Annotated[str, doc("The address.")] = ""


class PodStatus(Model):
    """The observed state of the Pod."""

    phase: Annotated[Phase | None, doc("Where the Pod is in its life.")] = None
    conditions: Annotated[
        list[PodCondition],
        doc("PodScheduled, Initialized, ContainersReady and Ready."),
        MergeKey("type"),
    ] = []
    container_statuses: Annotated[list[ContainerStatus], doc("One entry per container.")] = []
    init_container_statuses: Annotated[
        list[ContainerStatus], doc("One entry per init container.")
    ] = []
    pod_ip: Annotated[str, doc("The Pod's IP address.", alias="podIP")] = ""
    pod_ips: Annotated[
        list[PodIP], doc("The Pod's IP addresses.", alias="podIPs"), MergeKey("ip")
    ] = []
    host_ip: Annotated[str, doc("The IP address of the Pod's node.", alias="hostIP")] = ""
    host_ips: Annotated[
        list[HostIP], doc("The IP addresses of the Pod's node.", alias="hostIPs")
    ] = []
    start_time: Annotated[DateTime | None, doc("When the node started the Pod.")] = None
    reason: Annotated[str, doc("Why the Pod is in its phase (such as Evicted).")] = ""
    message: Annotated[str, doc("Details about the Pod's phase.")] = ""
    nominated_node_name: Annotated[str, doc("A node the scheduler plans to run the Pod on.")] = ""
    qos_class: Annotated[str, doc("The Pod's quality of service class.")] = ""


# -- helpers for the process supervisor ----------------------------------------------------------


def set_pod_phase(obj: dict[str, Any], phase: str, *, clock: Clock) -> None:
    """Set ``status.phase``; the first move out of ``Pending`` records ``startTime``."""
    status = obj.setdefault("status", {})
    status["phase"] = phase
    if phase != "Pending" and not status.get("startTime"):
        status["startTime"] = format_time(clock())


def waiting(reason: str, message: str = "") -> dict[str, Any]:
    """A container state ``waiting`` (``ContainerCreating``, ``CrashLoopBackOff``...)."""
    state: dict[str, Any] = {"reason": reason}
    if message:
        state["message"] = message
    return {"waiting": state}


def running(started_at: str) -> dict[str, Any]:
    return {"running": {"startedAt": started_at}}


def terminated(
    exit_code: int, started_at: str, finished_at: str, reason: str = ""
) -> dict[str, Any]:
    """A container state ``terminated``; the reason defaults as the kubelet's does."""
    return {
        "terminated": {
            "exitCode": exit_code,
            "reason": reason or ("Completed" if exit_code == 0 else "Error"),
            "startedAt": started_at,
            "finishedAt": finished_at,
        }
    }


def set_container_status(
    obj: dict[str, Any],
    name: str,
    *,
    image: str,
    state: Mapping[str, Any],
    ready: bool,
    restart_count: int,
    init: bool = False,
) -> None:
    """Write the ``containerStatuses`` (or ``initContainerStatuses``) entry of ``name``."""
    status = obj.setdefault("status", {})
    key = "initContainerStatuses" if init else "containerStatuses"
    entries = status.setdefault(key, [])
    entry = {
        "name": name,
        "image": image,
        "ready": ready,
        "restartCount": restart_count,
        "started": "running" in state,
        "state": dict(state),
    }
    for i, old in enumerate(entries):
        if isinstance(old, Mapping) and old.get("name") == name:
            previous = old.get("state")
            if previous and previous != entry["state"]:
                entry["lastState"] = previous
            elif old.get("lastState"):
                entry["lastState"] = old["lastState"]
            entries[i] = entry
            return
    entries.append(entry)


# -- kubectl get pods cells --------------------------------------------------------------------


def _list(obj: Mapping[str, Any], *keys: str) -> list[Mapping[str, Any]]:
    value: Any = obj
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return [i for i in value if isinstance(i, Mapping)] if isinstance(value, list) else []


def _state(container: Mapping[str, Any], which: str) -> Mapping[str, Any] | None:
    state = container.get("state")
    found = state.get(which) if isinstance(state, Mapping) else None
    return found if isinstance(found, Mapping) else None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def ready_cell(obj: Mapping[str, Any]) -> str:
    """READY: ``ready/total`` containers (the total from the spec)."""
    total = len(_list(obj, "spec", "containers"))
    ready = sum(
        1
        for c in _list(obj, "status", "containerStatuses")
        if c.get("ready") is True and _state(c, "running") is not None
    )
    return f"{ready}/{total}"


def restarts_cell(obj: Mapping[str, Any]) -> int:
    """RESTARTS: the restarts of all containers (init ones while the Pod initializes)."""
    return _status_and_restarts(obj)[1]


def status_cell(obj: Mapping[str, Any]) -> str:
    """STATUS, as kubectl prints it (Kubernetes' ``printPod``)."""
    return _status_and_restarts(obj)[0]


def _exit_reason(term: Mapping[str, Any], prefix: str) -> str:
    if term.get("reason"):
        return f"{prefix}{term['reason']}"
    if _int(term.get("signal")):
        return f"{prefix}Signal:{_int(term.get('signal'))}"
    return f"{prefix}ExitCode:{_int(term.get('exitCode'))}"


def _status_and_restarts(obj: Mapping[str, Any]) -> tuple[str, int]:
    status = obj.get("status")
    status = status if isinstance(status, Mapping) else {}
    reason = str(status.get("reason") or status.get("phase") or "")
    restarts = 0
    initializing = False
    init_total = len(_list(obj, "spec", "initContainers"))
    for i, container in enumerate(_list(status, "initContainerStatuses")):
        restarts += _int(container.get("restartCount"))
        term = _state(container, "terminated")
        wait = _state(container, "waiting")
        if term is not None and _int(term.get("exitCode")) == 0:
            continue
        initializing = True
        if term is not None:
            reason = _exit_reason(term, "Init:")
        elif wait is not None and wait.get("reason") and wait["reason"] != "PodInitializing":
            reason = f"Init:{wait['reason']}"
        else:
            reason = f"Init:{i}/{init_total}"
        break
    initialized = get_condition(status, INITIALIZED)
    if not initializing or (initialized is not None and initialized.is_true):
        restarts = 0
        has_running = False
        for container in reversed(_list(status, "containerStatuses")):
            restarts += _int(container.get("restartCount"))
            wait, term = _state(container, "waiting"), _state(container, "terminated")
            if wait is not None and wait.get("reason"):
                reason = str(wait["reason"])
            elif term is not None:
                reason = _exit_reason(term, "")
            elif container.get("ready") is True and _state(container, "running") is not None:
                has_running = True
        if reason == "Completed" and has_running:
            ready = get_condition(status, READY)
            reason = "Running" if ready is not None and ready.is_true else "NotReady"
    metadata = obj.get("metadata")
    deleting = isinstance(metadata, Mapping) and metadata.get("deletionTimestamp")
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and status.get("phase") not in _TERMINAL:
        reason = "Terminating"
    return reason, restarts


def ip_cell(obj: Mapping[str, Any]) -> str:
    status = obj.get("status")
    ip = status.get("podIP") if isinstance(status, Mapping) else None
    return str(ip) if ip else _NONE


def node_cell(obj: Mapping[str, Any]) -> str:
    spec = obj.get("spec")
    node = spec.get("nodeName") if isinstance(spec, Mapping) else None
    return str(node) if node else _NONE


def nominated_node_cell(obj: Mapping[str, Any]) -> str:
    status = obj.get("status")
    node = status.get("nominatedNodeName") if isinstance(status, Mapping) else None
    return str(node) if node else _NONE


def readiness_gates_cell(obj: Mapping[str, Any]) -> str:
    """READINESS GATES: ``<none>``, or how many of the spec's gates have a True condition."""
    gates = _list(obj, "spec", "readinessGates")
    if not gates:
        return _NONE
    status = obj.get("status")
    status = status if isinstance(status, Mapping) else {}
    true = 0
    for gate in gates:
        condition = get_condition(status, str(gate.get("conditionType") or ""))
        if condition is not None and condition.is_true:
            true += 1
    return f"{true}/{len(gates)}"


def grace_of(pod: Mapping[str, Any]) -> float | None:
    """The grace period of a pending graceful deletion of ``pod`` (its
    ``metadata.deletionTimestamp`` is set), ``None`` when there is none."""
    metadata = pod.get("metadata")
    if not isinstance(metadata, Mapping) or not metadata.get("deletionTimestamp"):
        return None
    grace = metadata.get("deletionGracePeriodSeconds")
    if isinstance(grace, int) and not isinstance(grace, bool):
        return float(grace)
    return float(DEFAULT_GRACE_PERIOD)
