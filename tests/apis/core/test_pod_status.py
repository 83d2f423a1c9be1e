from __future__ import annotations

from typing import Any

import pytest

from kawa.apis import core
from kawa.apis.core import pod_status as ps

from ..helpers import FakeClock

T0 = "2024-05-01T12:00:00Z"


def pod(
    statuses: list[dict[str, Any]] | None = None,
    *,
    containers: int = 1,
    phase: str = "Running",
    init: int = 0,
    init_statuses: list[dict[str, Any]] | None = None,
    **status: Any,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {
            "containers": [{"name": f"c{i}", "image": "x"} for i in range(containers)],
            "initContainers": [{"name": f"i{i}", "image": "x"} for i in range(init)],
        },
        "status": {"phase": phase, **status},
    }
    if statuses is not None:
        obj["status"]["containerStatuses"] = statuses
    if init_statuses is not None:
        obj["status"]["initContainerStatuses"] = init_statuses
    return obj


def cs(state: dict[str, Any], *, ready: bool = False, restarts: int = 0) -> dict[str, Any]:
    return {"name": "c", "ready": ready, "restartCount": restarts, "state": state}


RUNNING = ps.running(T0)


@pytest.mark.parametrize(
    ("obj", "ready", "status", "restarts"),
    [
        (pod(phase="Pending"), "0/1", "Pending", 0),
        (
            pod([cs(ps.waiting("ContainerCreating"))], phase="Pending"),
            "0/1",
            "ContainerCreating",
            0,
        ),
        (pod([cs(RUNNING, ready=True)]), "1/1", "Running", 0),
        (pod([cs(RUNNING, ready=True), cs(RUNNING)], containers=2), "1/2", "Running", 0),
        (
            pod([cs(ps.waiting("CrashLoopBackOff", "back-off 5m0s"), restarts=5)]),
            "0/1",
            "CrashLoopBackOff",
            5,
        ),
        (pod([cs(ps.terminated(0, T0, T0))], phase="Succeeded"), "0/1", "Completed", 0),
        (pod([cs(ps.terminated(1, T0, T0), restarts=2)], phase="Failed"), "0/1", "Error", 2),
        (
            pod([{"name": "c", "state": {"terminated": {"exitCode": 3}}}], phase="Failed"),
            "0/1",
            "ExitCode:3",
            0,
        ),
        (
            pod([{"name": "c", "state": {"terminated": {"exitCode": 137, "signal": 9}}}]),
            "0/1",
            "Signal:9",
            0,
        ),
        (pod(phase="Failed", reason="Evicted"), "0/1", "Evicted", 0),
    ],
)
def test_cells(obj: dict[str, Any], ready: str, status: str, restarts: int) -> None:
    assert ps.ready_cell(obj) == ready
    assert ps.status_cell(obj) == status
    assert ps.restarts_cell(obj) == restarts


def test_completed_container_next_to_a_running_one() -> None:
    statuses = [cs(ps.terminated(0, T0, T0)), cs(RUNNING, ready=True)]
    obj = pod(statuses, containers=2)
    assert ps.status_cell(obj) == "NotReady"
    obj["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    assert ps.status_cell(obj) == "Running"


def test_init_containers() -> None:
    waiting_init = pod(
        [cs(ps.waiting("PodInitializing"))],
        phase="Pending",
        init=2,
        init_statuses=[cs(ps.terminated(0, T0, T0)), cs(RUNNING, restarts=1)],
    )
    assert ps.status_cell(waiting_init) == "Init:1/2"
    assert ps.restarts_cell(waiting_init) == 1
    crashing = pod(phase="Pending", init=1, init_statuses=[cs(ps.waiting("CrashLoopBackOff"))])
    assert ps.status_cell(crashing) == "Init:CrashLoopBackOff"
    failed = pod(phase="Failed", init=1, init_statuses=[cs(ps.terminated(2, T0, T0))])
    assert ps.status_cell(failed) == "Init:Error"
    done = pod(
        [cs(RUNNING, ready=True, restarts=4)],
        init=1,
        init_statuses=[cs(ps.terminated(0, T0, T0), restarts=9)],
    )
    assert (ps.status_cell(done), ps.restarts_cell(done)) == ("Running", 4)


def test_terminating() -> None:
    obj = pod([cs(RUNNING, ready=True)])
    obj["metadata"]["deletionTimestamp"] = T0
    assert ps.status_cell(obj) == "Terminating"
    finished = pod([cs(ps.terminated(0, T0, T0))], phase="Succeeded")
    finished["metadata"]["deletionTimestamp"] = T0
    assert ps.status_cell(finished) == "Completed"


def test_wide_cells() -> None:
    bare = pod()
    assert (ps.ip_cell(bare), ps.node_cell(bare), ps.nominated_node_cell(bare)) == (
        "<none>",
        "<none>",
        "<none>",
    )
    assert ps.readiness_gates_cell(bare) == "<none>"
    obj = pod(podIP="127.0.0.1", conditions=[{"type": "kawa.dev/ok", "status": "True"}])
    obj["spec"]["nodeName"] = "kawa"
    obj["spec"]["readinessGates"] = [{"conditionType": "kawa.dev/ok"}, {"conditionType": "x"}]
    assert (ps.ip_cell(obj), ps.node_cell(obj), ps.readiness_gates_cell(obj)) == (
        "127.0.0.1",
        "kawa",
        "1/2",
    )
    values = [c.value(obj) for c in core.POD.printer_columns if c.value is not None]
    assert values == ["0/1", "Running", 0, "127.0.0.1", "kawa", "<none>", "1/2"]


def test_status_helpers_drive_the_cells() -> None:
    clock = FakeClock()
    obj = pod(phase="Pending")
    ps.set_pod_phase(obj, "Pending", clock=clock)
    assert "startTime" not in obj["status"]
    ps.set_container_status(
        obj, "c0", image="x", state=ps.waiting("ContainerCreating"), ready=False, restart_count=0
    )
    assert ps.status_cell(obj) == "ContainerCreating"
    ps.set_pod_phase(obj, "Running", clock=clock)
    assert obj["status"]["startTime"] == "2024-05-01T12:00:00Z"
    ps.set_container_status(obj, "c0", image="x", state=ps.running(T0), ready=True, restart_count=0)
    entry = obj["status"]["containerStatuses"][0]
    assert entry["started"] is True
    assert entry["lastState"] == ps.waiting("ContainerCreating")
    assert len(obj["status"]["containerStatuses"]) == 1
    assert (ps.ready_cell(obj), ps.status_cell(obj)) == ("1/1", "Running")
    for condition in (ps.POD_SCHEDULED, ps.INITIALIZED, ps.CONTAINERS_READY):
        ps.POD_CONDITIONS.mark_true(obj["status"], condition, clock=clock)
    assert ps.POD_CONDITIONS.is_ready(obj["status"])
    ps.set_container_status(
        obj, "c0", image="x", state=ps.terminated(1, T0, T0), ready=False, restart_count=1
    )
    assert obj["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "Error"
    assert (ps.status_cell(obj), ps.restarts_cell(obj)) == ("Error", 1)


def test_grace_of_a_pod_being_deleted() -> None:
    running: dict[str, Any] = {"metadata": {"name": "p"}}
    assert ps.grace_of(running) is None
    deleting = {"metadata": {"deletionTimestamp": "x", "deletionGracePeriodSeconds": 3}}
    assert ps.grace_of(deleting) == 3.0
    assert ps.grace_of({"metadata": {"deletionTimestamp": "x"}}) == 30.0  # the default
    assert ps.grace_of({"metadata": 5}) is None
