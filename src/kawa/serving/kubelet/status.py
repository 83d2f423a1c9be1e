"""A Pod's ``status`` from the state of its container runners: the phase (Kubernetes'
``getPhase``), the conditions (PodScheduled, Initialized, ContainersReady, Ready), the
addresses and the container statuses. Pure functions of the runners, used by
:class:`~kawa.serving.kubelet.worker.PodWorker` when it writes the status.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from kawa.apis.conditions import Clock, format_time
from kawa.apis.core import pod_status as ps
from kawa.serving.kubelet.container import ContainerRunner

HOST_IP: Final = "127.0.0.1"
TERMINAL: Final = ("Succeeded", "Failed")
CONDITIONS: Final = ps.POD_CONDITIONS


def pod_phase(
    runners: Sequence[ContainerRunner],
    *,
    initialized: bool,
    init_failed: bool,
    restart_policy: str,
) -> str:
    """Kubernetes' ``getPhase`` over the containers' states."""
    if init_failed:
        return "Failed"
    if not initialized:
        return "Pending"
    waiting = running = stopped = succeeded = 0
    for runner in runners:
        state = runner.state
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            if state["terminated"].get("exitCode") == 0:
                succeeded += 1
        elif "terminated" in runner.last_state:
            stopped += 1
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if restart_policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


def fill_status(
    status: dict[str, Any],
    runners: Sequence[ContainerRunner],
    init_runners: Sequence[ContainerRunner],
    *,
    phase: str,
    initialized: bool,
    pod_ip: str = HOST_IP,
    host_ip: str = HOST_IP,
    clock: Clock,
) -> None:
    """Bring ``status`` (the Pod's, kept by its worker) up to date, in place."""
    status.setdefault("startTime", format_time(clock()))
    status["phase"] = phase
    status["hostIP"] = host_ip
    status["hostIPs"] = [{"ip": host_ip}]
    status["podIP"] = pod_ip
    status["podIPs"] = [{"ip": pod_ip}]
    status["qosClass"] = "BestEffort"
    CONDITIONS.mark_true(status, ps.POD_SCHEDULED, clock=clock)
    if initialized:
        CONDITIONS.mark_true(status, ps.INITIALIZED, clock=clock)
    else:
        pending = [r.name for r in init_runners if "terminated" not in r.state]
        CONDITIONS.mark_false(
            status,
            ps.INITIALIZED,
            "ContainersNotInitialized",
            f"containers with incomplete status: [{' '.join(pending)}]",
            clock=clock,
        )
    unready = [r for r in runners if not r.ready]
    if phase in TERMINAL:
        CONDITIONS.mark_false(status, ps.CONTAINERS_READY, "PodCompleted", "", clock=clock)
    elif unready:
        message = f"containers with unready status: [{' '.join(r.name for r in unready)}]"
        hints = [f"{r.name}: {r.hint}" for r in unready if r.hint and r.running]
        CONDITIONS.mark_false(
            status,
            ps.CONTAINERS_READY,
            "ContainersNotReady",
            "; ".join([message, *hints]),
            clock=clock,
        )
    else:
        CONDITIONS.mark_true(status, ps.CONTAINERS_READY, clock=clock)
    if init_runners:
        status["initContainerStatuses"] = [r.status_entry() for r in init_runners]
    status["containerStatuses"] = [r.status_entry() for r in runners]
