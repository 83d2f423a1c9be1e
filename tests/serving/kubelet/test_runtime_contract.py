"""One contract for every container runtime (ADR 0060): the same Pods, the same assertions,
run against the process runtime (image ``busybox``: the host's shell) and the podman runtime
(``podman_support.IMAGE``, built here from busybox-static; skipped where podman cannot run,
failed under ``CI=true``). A runtime states what it does not do (``enforces_root_fs``,
``pulls``) and the tests of it say so as a skip with that reason.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kawa import images
from kawa.serving.kubelet import podman as podman_mod
from kawa.store.base import ResourceKey

from . import podman_support
from .kubelet_support import Node, container_status, pod_obj, running_kubelet


@dataclass(frozen=True)
class Runtime:
    name: str
    image: str
    scheme: str
    enforces_root_fs: bool
    pulls: bool
    limits: bool


PROCESS = Runtime("process", "busybox", "kawa", enforces_root_fs=False, pulls=False, limits=False)
PODMAN = Runtime(
    "podman", podman_support.IMAGE, "podman", enforces_root_fs=True, pulls=True, limits=True
)


@pytest.fixture(scope="module")
def podman_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test image, built once per module; kawa's containers.conf for the tests' calls."""
    podman_support.require()
    workdir = tmp_path_factory.mktemp("contract-image")
    conf = podman_support.write_conf(workdir)
    podman_support.build_image(workdir, conf)
    return conf


@pytest.fixture(params=[PROCESS, PODMAN], ids=lambda r: str(r.name))
def runtime(request: pytest.FixtureRequest) -> Runtime:
    chosen: Runtime = request.param
    if chosen is PODMAN:
        request.getfixturevalue("podman_image")
    return chosen


@pytest.fixture
async def node(runtime: Runtime, tmp_path: Path) -> AsyncIterator[Node]:
    data_dir = tmp_path / "data"
    podman = None
    if runtime is PODMAN:
        podman, why = podman_mod.find(data_dir)
        assert podman is not None, why
        images.set_container_engine(True)
    try:
        async with running_kubelet(data_dir, podman=podman) as running:
            yield running
    finally:
        images.set_container_engine(False)


def container(runtime: Runtime, script: str, **fields: Any) -> dict[str, Any]:
    return {"name": "c", "image": runtime.image, "command": ["sh", "-c", script], **fields}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def log_text(node: Node, pod: dict[str, Any]) -> str:
    return node.log_file(pod).read_text(errors="replace")


def _remove(path: str) -> bool:
    """Remove ``path`` from the host; whether it was there."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def waiting_reason(pod: dict[str, Any]) -> str:
    return str(container_status(pod).get("state", {}).get("waiting", {}).get("reason", ""))


async def test_command_env_working_dir_and_exit_code(node: Node, runtime: Runtime) -> None:
    await node.store.create(
        ResourceKey("secrets", "default", "creds"),
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds", "namespace": "default"},
            "data": {"token": base64.b64encode(b"s3cret").decode()},
        },
    )
    name = unique("run")
    spec = container(
        runtime,
        'echo "$GREETING $TOKEN $(pwd)"; exit 3',
        workingDir="/tmp",
        env=[
            {"name": "GREETING", "value": "hello"},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
        ],
    )
    await node.create(pod_obj(name, [spec], restart_policy="Never"))
    pod = await node.wait_phase(name, "Failed", timeout=30)
    status = container_status(pod)
    assert status["state"]["terminated"]["exitCode"] == 3
    assert status["containerID"].startswith(f"{runtime.scheme}://")
    assert status["imageID"].startswith(f"{runtime.scheme}://")
    assert "hello s3cret /tmp" in log_text(node, pod)


async def test_a_failing_container_restarts(node: Node, runtime: Runtime) -> None:
    name = unique("crash")
    await node.create(pod_obj(name, [container(runtime, "echo once; exit 1")]))

    def restarted(pod: dict[str, Any]) -> bool:
        status = container_status(pod)
        last = status.get("lastState", {}).get("terminated", {})
        return bool(status.get("restartCount", 0) >= 1 and last.get("exitCode") == 1)

    await node.wait_pod(name, restarted, timeout=30)


async def test_an_exec_readiness_probe_runs_in_the_container(node: Node, runtime: Runtime) -> None:
    name = unique("ready")
    marker = f"/tmp/{name}"  # its own file: process runtime Pods share the host's /tmp
    spec = container(
        runtime,
        f"sleep 1; touch {marker}; exec sleep 3600",
        readinessProbe={"exec": {"command": ["test", "-e", marker]}, "periodSeconds": 1},
    )
    await node.create(pod_obj(name, [spec], grace=1))
    pod = await node.wait_pod(name, lambda p: container_status(p).get("ready") is True, timeout=30)
    assert container_status(pod)["state"].get("running")
    on_host = _remove(marker)
    assert on_host is (runtime is PROCESS)  # podman: the file is the container's


async def test_run_as_user_and_group(node: Node, runtime: Runtime) -> None:
    if runtime is PROCESS and os.geteuid() != 0:
        pytest.skip("host processes change user only when kawa runs as root")
    name = unique("user")
    spec = container(
        runtime,
        'echo "ids $(id -u):$(id -g)"',
        securityContext={"runAsUser": 1234, "runAsGroup": 5678},
    )
    await node.create(pod_obj(name, [spec], restart_policy="Never"))
    pod = await node.wait_phase(name, "Succeeded", timeout=30)
    assert "ids 1234:5678" in log_text(node, pod)


async def test_pod_level_run_as_user_applies_and_the_container_wins(
    node: Node, runtime: Runtime
) -> None:
    if runtime is PROCESS and os.geteuid() != 0:
        pytest.skip("host processes change user only when kawa runs as root")
    name = unique("podsc")
    obj = pod_obj(
        name,
        [container(runtime, 'echo "ids $(id -u):$(id -g)"', securityContext={"runAsGroup": 7})],
        restart_policy="Never",
    )
    obj["spec"]["securityContext"] = {"runAsUser": 2000, "runAsGroup": 3000}
    await node.create(obj)
    pod = await node.wait_phase(name, "Succeeded", timeout=30)
    assert "ids 2000:7" in log_text(node, pod)


async def test_run_as_non_root_refuses_a_root_image(node: Node, runtime: Runtime) -> None:
    if runtime is PROCESS and os.geteuid() != 0:
        pytest.skip("kawa does not run as root: its host processes are not root either")
    name = unique("nonroot")
    spec = container(runtime, "echo ran", securityContext={"runAsNonRoot": True})
    await node.create(pod_obj(name, [spec], restart_policy="Never"))
    pod = await node.wait_pod(
        name, lambda p: waiting_reason(p) == "CreateContainerConfigError", timeout=30
    )
    message = container_status(pod)["state"]["waiting"]["message"]
    assert message.startswith("container has runAsNonRoot and image will run as root"), message
    assert "container: c)" in message
    events = await node.wait_events(name, {"Failed"})
    assert any("runAsNonRoot" in e["message"] for e in events)
    # with a non-root runAsUser, the same container runs
    allowed = unique("nonroot-ok")
    spec = container(runtime, "echo ran", securityContext={"runAsNonRoot": True, "runAsUser": 1000})
    await node.create(pod_obj(allowed, [spec], restart_policy="Never"))
    await node.wait_phase(allowed, "Succeeded", timeout=30)


async def test_read_only_root_filesystem(node: Node, runtime: Runtime) -> None:
    if not runtime.enforces_root_fs:
        pytest.skip(f"the {runtime.name} runtime does not enforce readOnlyRootFilesystem")
    name = unique("rofs")
    spec = container(
        runtime,
        "touch /written && echo writable || echo refused",
        securityContext={"readOnlyRootFilesystem": True},
    )
    await node.create(pod_obj(name, [spec], restart_policy="Never"))
    pod = await node.wait_phase(name, "Succeeded", timeout=30)
    assert "refused" in log_text(node, pod)


async def test_dropped_capabilities(node: Node, runtime: Runtime) -> None:
    if runtime is PROCESS:
        pytest.skip("the process runtime does not apply capabilities")
    name = unique("caps")
    script = "grep CapEff /proc/self/status"
    spec = container(runtime, script, securityContext={"capabilities": {"drop": ["ALL"]}})
    await node.create(pod_obj(name, [spec], restart_policy="Never"))
    pod = await node.wait_phase(name, "Succeeded", timeout=30)
    assert "CapEff:\t0000000000000000" in log_text(node, pod)


async def test_resource_limits_are_cgroup_limits(node: Node, runtime: Runtime) -> None:
    if not runtime.limits:
        pytest.skip(f"the {runtime.name} runtime does not apply resources.limits")
    name = unique("limits")
    script = (  # cgroup v2, else v1
        "cat /sys/fs/cgroup/memory.max 2>/dev/null || "
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; "
        "cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us"
    )
    limits = {"limits": {"memory": "64Mi", "cpu": "500m"}}
    spec = container(runtime, script, resources=limits)
    await node.create(pod_obj(name, [spec], restart_policy="Never"))
    pod = await node.wait_phase(name, "Succeeded", timeout=30)
    lines = log_text(node, pod).split()
    assert str(64 * 1024 * 1024) in lines, lines
    assert "50000" in lines, lines  # half of a 100000 us period


async def test_if_not_present_uses_the_local_image(node: Node, runtime: Runtime) -> None:
    name = unique("ifnp")
    spec = container(runtime, "echo ran", imagePullPolicy="IfNotPresent")
    await node.create(pod_obj(name, [spec], restart_policy="Never"))
    await node.wait_phase(name, "Succeeded", timeout=30)
    events = await node.events(name)
    assert any(
        e["reason"] == "Pulled" and "already present on machine" in e["message"] for e in events
    )
    assert not any(e["reason"] == "Pulling" for e in events)


async def test_always_pulls_and_reports_err_image_pull(node: Node, runtime: Runtime) -> None:
    if not runtime.pulls:
        pytest.skip(f"the {runtime.name} runtime has no images to pull")
    name = unique("always")  # present locally, but Always pulls: no registry answers here
    spec = container(runtime, "echo ran", imagePullPolicy="Always")
    await node.create(pod_obj(name, [spec], restart_policy="Never"))
    pod = await node.wait_pod(
        name, lambda p: waiting_reason(p) in ("ErrImagePull", "ImagePullBackOff"), timeout=60
    )
    assert runtime.image in container_status(pod)["state"]["waiting"]["message"]
    reasons = {e["reason"] for e in await node.events(name)}
    assert {"Pulling", "Failed"} <= reasons


async def test_never_with_a_missing_image_is_err_image_never_pull(
    node: Node, runtime: Runtime
) -> None:
    if not runtime.pulls:
        pytest.skip(f"the {runtime.name} runtime has no images to pull")
    name = unique("never")
    missing = "localhost/kawa-test/nowhere:1"
    spec = {"name": "c", "image": missing, "imagePullPolicy": "Never"}
    await node.create(pod_obj(name, [spec], restart_policy="Never"))
    pod = await node.wait_pod(name, lambda p: waiting_reason(p) == "ErrImageNeverPull", timeout=30)
    message = container_status(pod)["state"]["waiting"]["message"]
    assert message == f'Container image "{missing}" is not present with pull policy of Never'
    assert not any(e["reason"] == "Pulling" for e in await node.events(name))
