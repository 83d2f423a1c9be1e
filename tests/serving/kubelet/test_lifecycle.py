"""Pods run as real processes: phases, restarts, readiness, environment, deletion, Events."""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path

from kawa.store.base import ResourceKey

from ...waiting import eventually
from .kubelet_support import (
    HTTP_SERVER,
    PYTHON,
    Node,
    alive,
    conditions,
    container_status,
    free_port,
    pid_of,
    pod_obj,
    session_members,
    sh,
)


async def _phases(node: Node, name: str, until: str, since: int) -> list[str]:
    """The phases a Pod goes through, as a watcher of the store sees them."""
    seen: list[str] = []
    async for event in node.store.watch("pods", since=since):
        if event.object["metadata"]["name"] != name:
            continue
        phase = event.object.get("status", {}).get("phase", "")
        if not seen or seen[-1] != phase:
            seen.append(phase)
        if phase == until:
            return seen
    return seen


async def test_pod_runs_to_succeeded(node: Node, tmp_path: Path) -> None:
    (tmp_path / "listed-file").write_text("x")
    since = (await node.store.list("pods")).resource_version  # before the Pod exists
    watcher = asyncio.create_task(_phases(node, "ls", "Succeeded", since))
    obj = pod_obj(
        "ls",
        [{"name": "c", "image": "busybox", "args": ["sh", "-c", f"sleep 0.3; ls {tmp_path}"]}],
        restart_policy="Never",
    )
    await node.create(obj)
    phases = await asyncio.wait_for(watcher, 10)
    assert phases[-3:] == ["Pending", "Running", "Succeeded"] or phases[-2:] == [
        "Running",
        "Succeeded",
    ]
    pod = await node.get("ls")
    assert pod["spec"]["nodeName"] == "kawa"
    status = pod["status"]
    assert status["hostIP"] == "127.0.0.1"
    assert status["podIP"].startswith("127.")
    assert not status["podIP"].startswith("127.0.")
    assert status["podIPs"] == [{"ip": status["podIP"]}]
    assert status["startTime"]
    assert conditions(pod) == {
        "PodScheduled": "True",
        "Initialized": "True",
        "ContainersReady": "False",
        "Ready": "False",
    }
    entry = container_status(pod)
    terminated = entry["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed")
    assert entry["containerID"].startswith("kawa://")
    assert entry["restartCount"] == 0
    assert "listed-file" in node.log_file(pod).read_text()
    events = await node.wait_events("ls", {"Scheduled", "Pulled", "Created", "Started"})
    by_reason = {e["reason"]: e for e in events}
    assert by_reason["Scheduled"]["source"]["component"] == "default-scheduler"
    assert by_reason["Scheduled"]["message"] == "Successfully assigned default/ls to kawa"
    assert by_reason["Pulled"]["message"] == 'Container image "busybox" already present on machine'
    assert by_reason["Started"]["source"]["component"] == "kubelet"
    assert by_reason["Started"]["involvedObject"]["uid"] == pod["metadata"]["uid"]
    # as the kubelet's: which container, and the node as the source's host
    container = pod["spec"]["containers"][0]["name"]
    assert by_reason["Started"]["involvedObject"]["fieldPath"] == f"spec.containers{{{container}}}"
    assert by_reason["Started"]["source"] == {"component": "kubelet", "host": "kawa"}
    assert "fieldPath" not in by_reason["Scheduled"]["involvedObject"]
    assert "host" not in by_reason["Scheduled"]["source"]


async def test_pod_fails_with_restart_policy_never(node: Node) -> None:
    await node.create(pod_obj("fail", [sh("echo broken >&2; exit 3")], restart_policy="Never"))
    pod = await node.wait_phase("fail", "Failed")
    terminated = container_status(pod)["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (3, "Error")
    assert "broken" in terminated["message"]


async def test_on_failure_restarts_until_success(node: Node, tmp_path: Path) -> None:
    marker = tmp_path / "ran-once"
    script = f"if [ -e {marker} ]; then exit 0; fi; touch {marker}; exit 1"
    await node.create(pod_obj("retry", [sh(script)], restart_policy="OnFailure"))
    pod = await node.wait_phase("retry", "Succeeded")
    entry = container_status(pod)
    assert entry["restartCount"] == 1
    assert entry["lastState"]["terminated"]["exitCode"] == 1


async def test_crash_loop_back_off(node: Node) -> None:
    await node.configure(
        "config-kawa-kubelet",
        {"crash-loop-backoff-initial": "300ms", "crash-loop-backoff-max": "600ms"},
    )
    await node.create(pod_obj("crash", [sh("echo oops; exit 1")]))
    pod = await node.wait_pod(
        "crash",
        lambda p: (
            container_status(p).get("state", {}).get("waiting", {}).get("reason")
            == "CrashLoopBackOff"
        ),
    )
    entry = container_status(pod)
    assert pod["status"]["phase"] == "Running"
    assert entry["state"]["waiting"]["message"].startswith("back-off 0.3s ")
    assert (
        "restarting failed container=c pod=crash_default(" in entry["state"]["waiting"]["message"]
    )
    assert entry["lastState"]["terminated"]["exitCode"] == 1
    assert conditions(pod)["Ready"] == "False"
    pod = await node.wait_pod("crash", lambda p: container_status(p)["restartCount"] >= 3)
    events = await node.wait_events("crash", {"BackOff"})
    backoff = next(e for e in events if e["reason"] == "BackOff")
    assert backoff["type"] == "Warning"
    assert backoff["message"].startswith("Back-off restarting failed container c in pod crash_")
    assert backoff["count"] >= 1


async def test_readiness_from_the_declared_port(node: Node) -> None:
    port = free_port()
    container = {
        "name": "user-container",
        "image": "example.com/app",
        "command": [PYTHON, "-c", HTTP_SERVER],
        "ports": [{"containerPort": port}],
    }
    began = time.perf_counter()
    await node.create(pod_obj("web", [container]))
    pod = await node.wait_pod("web", lambda p: conditions(p).get("Ready") == "True")
    elapsed = time.perf_counter() - began
    assert elapsed < 5.0  # typically ~0.1 s; generous for a loaded machine
    assert pod["status"]["phase"] == "Running"
    assert container_status(pod, "user-container")["ready"] is True
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.0\r\n\r\n")
    assert b"200" in await reader.readline()
    writer.close()


async def test_readiness_probes_http_and_exec(node: Node, tmp_path: Path) -> None:
    port = free_port()
    http = {
        "name": "c",
        "image": "x",
        "command": [PYTHON, "-c", HTTP_SERVER],
        "env": [{"name": "PORT", "value": str(port)}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": port}, "periodSeconds": 1},
    }
    flag = tmp_path / "ready-flag"
    exec_probe = sh(
        "sleep 60",
        name="e",
        readinessProbe={"exec": {"command": ["test", "-e", str(flag)]}, "periodSeconds": 1},
    )
    await node.create(pod_obj("probed", [http, exec_probe]))
    pod = await node.wait_pod("probed", lambda p: container_status(p, "c").get("ready") is True)
    assert container_status(pod, "e")["ready"] is False
    assert conditions(pod)["ContainersReady"] == "False"
    assert "[e]" in next(
        c["message"] for c in pod["status"]["conditions"] if c["type"] == "ContainersReady"
    )
    flag.write_text("")
    pod = await node.wait_pod("probed", lambda p: conditions(p).get("Ready") == "True")
    assert container_status(pod, "e")["ready"] is True


async def test_env_value_from_and_working_dir(node: Node, tmp_path: Path) -> None:
    await node.store.create(
        ResourceKey("configmaps", "default", "settings"),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings"},
            "data": {"color": "blue"},
        },
    )
    await node.store.create(
        ResourceKey("secrets", "default", "creds"),
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds"},
            "data": {"token": base64.b64encode(b"s3cret").decode()},
        },
    )
    env = [
        {"name": "GREETING", "value": "hello"},
        {"name": "MESSAGE", "value": "$(GREETING) world $$(GREETING)"},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "POD_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "color"}}},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
        {
            "name": "MAYBE",
            "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "x", "optional": True}},
        },
    ]
    workdir = tmp_path / "work"
    workdir.mkdir()
    script = (
        'echo "$GREETING|$MESSAGE|$POD_NAME|$POD_NS|$POD_UID|$POD_IP|$COLOR|$TOKEN|'
        '${MAYBE-unset}|$PORT|$HOSTNAME|$(pwd)"'
    )
    container = sh(script, env=env, workingDir=str(workdir), ports=[{"containerPort": 9999}])
    container["args"].append("ignored-$(COLOR)")  # $(VAR) expands in args too
    created = await node.create(pod_obj("envy", [container], restart_policy="Never"))
    pod = await node.wait_phase("envy", "Succeeded")
    line = node.log_file(pod).read_text().splitlines()[0].split(" ", 3)[3]
    assert line.split("|") == [
        "hello",
        "hello world $(GREETING)",
        "envy",
        "default",
        created["metadata"]["uid"],
        pod["status"]["podIP"],  # the Pod's own loopback address
        "blue",
        "s3cret",
        "unset",
        "9999",
        "envy",
        str(workdir),
    ]


async def test_missing_config_map_then_created(node: Node) -> None:
    await node.configure("config-kawa-kubelet", {"crash-loop-backoff-initial": "100ms"})
    env = [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "late", "key": "x"}}}]
    await node.create(pod_obj("late", [sh('echo "x=$X"', env=env)], restart_policy="Never"))
    pod = await node.wait_pod(
        "late",
        lambda p: (
            container_status(p).get("state", {}).get("waiting", {}).get("reason")
            == "CreateContainerConfigError"
        ),
    )
    assert pod["status"]["phase"] == "Pending"
    assert 'configmap "late" not found' in container_status(pod)["state"]["waiting"]["message"]
    await node.store.create(
        ResourceKey("configmaps", "default", "late"),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}, "data": {"x": "1"}},
    )
    pod = await node.wait_phase("late", "Succeeded")
    assert "x=1" in node.log_file(pod).read_text()
    events = await node.events("late")
    assert any(e["reason"] == "Failed" and "not found" in e["message"] for e in events)


async def test_missing_working_dir_and_command_are_start_errors(node: Node, tmp_path: Path) -> None:
    await node.create(
        pod_obj("nodir", [sh("pwd", workingDir=str(tmp_path / "absent"))], restart_policy="Never")
    )
    await node.create(
        pod_obj(
            "nocmd",
            [{"name": "c", "image": "busybox", "args": ["no-such-program-kawa"]}],
            restart_policy="Never",
        )
    )
    pod = await node.wait_phase("nodir", "Failed")
    terminated = container_status(pod)["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (128, "StartError")
    assert "chdir" in terminated["message"]
    pod = await node.wait_phase("nocmd", "Failed")
    terminated = container_status(pod)["state"]["terminated"]
    assert 'exec: "no-such-program-kawa": executable file not found' in terminated["message"]
    events = await node.wait_events("nocmd", {"Failed"})
    assert any(e["type"] == "Warning" for e in events if e["reason"] == "Failed")


async def test_image_not_runnable_until_mapped(node: Node) -> None:
    container = {"name": "c", "image": "example.com/team/tool:v1", "args": ["hi"]}
    await node.create(pod_obj("tool", [container], restart_policy="Never"))
    pod = await node.wait_pod(
        "tool",
        lambda p: (
            container_status(p).get("state", {}).get("waiting", {}).get("reason")
            == "ImageNotRunnable"
        ),
    )
    assert pod["status"]["phase"] == "Pending"
    assert "config-kawa-images" in container_status(pod)["state"]["waiting"]["message"]
    await node.wait_events("tool", {"Failed"})
    await node.configure("config-kawa-images", {"team.tool": "echo tool says"})
    pod = await node.wait_phase("tool", "Succeeded")
    assert "tool says hi" in node.log_file(pod).read_text()


async def test_init_containers_run_first(node: Node, tmp_path: Path) -> None:
    marker = tmp_path / "init-done"
    obj = pod_obj(
        "inits",
        [sh(f"cat {marker}")],
        init_containers=[sh(f"echo prepared > {marker}", name="setup")],
        restart_policy="Never",
    )
    await node.create(obj)
    pod = await node.wait_phase("inits", "Succeeded")
    assert "prepared" in node.log_file(pod).read_text()
    (init,) = pod["status"]["initContainerStatuses"]
    assert init["state"]["terminated"]["exitCode"] == 0


async def test_deletion_stops_the_process_group(node: Node) -> None:
    script = "trap '' TERM; sleep 60 & sleep 60 & wait"
    await node.create(pod_obj("stubborn", [sh(script)], grace=1))
    pod = await node.wait_pod("stubborn", lambda p: conditions(p).get("Ready") == "True")
    pid = pid_of(pod)
    await eventually(lambda: _members(pid, 3), message="the group's three processes")
    began = time.perf_counter()
    await node.store.delete(ResourceKey("pods", "default", "stubborn"))
    await eventually(lambda: _gone(pid), timeout=10, message="the process group to end")
    assert time.perf_counter() - began >= 0.9  # SIGTERM was ignored: SIGKILL after the grace
    events = await node.wait_events("stubborn", {"Killing"})
    killing = next(e for e in events if e["reason"] == "Killing")
    assert killing["message"] == "Stopping container c"
    log_dir = node.log_file(pod).parent
    await eventually(lambda: _absent(log_dir), message="the logs to be removed")


async def test_deletion_sigterm_is_enough_for_a_polite_process(node: Node) -> None:
    await node.create(pod_obj("polite", [sh("sleep 60")]))
    pod = await node.wait_pod("polite", lambda p: container_status(p).get("ready") is True)
    pid = pid_of(pod)
    began = time.perf_counter()
    await node.store.delete(ResourceKey("pods", "default", "polite"))
    await eventually(lambda: _gone(pid), message="the process to end")
    assert time.perf_counter() - began < 5


async def _members(sid: int, count: int) -> bool:
    return len(session_members(sid)) >= count


async def _gone(sid: int) -> bool:
    return not alive(sid) and not session_members(sid)


async def _absent(path: Path) -> bool:
    return not await asyncio.to_thread(path.exists)


async def test_stopping_the_kubelet_stops_every_container(tmp_path: Path) -> None:
    from .kubelet_support import running_kubelet

    pids: list[int] = []
    async with running_kubelet(tmp_path / "data") as node:
        for name in ("a", "b"):
            await node.create(pod_obj(name, [sh("sleep 60 & wait")]))
        for name in ("a", "b"):
            pod = await node.wait_pod(name, lambda p: conditions(p).get("Ready") == "True")
            pids.append(pid_of(pod))
    for pid in pids:
        await eventually(lambda pid=pid: _gone(pid), timeout=5, message=f"session {pid} to end")  # type: ignore[misc]


async def test_failing_readiness_probe_reports_unhealthy(node: Node) -> None:
    port = free_port()  # nothing listens there
    probe = {"tcpSocket": {"port": port}, "periodSeconds": 1}
    await node.create(pod_obj("sick", [sh("sleep 60", readinessProbe=probe)]))
    events = await node.wait_events("sick", {"Unhealthy"})
    unhealthy = next(e for e in events if e["reason"] == "Unhealthy")
    assert unhealthy["type"] == "Warning"
    pod_ip = (await node.get("sick"))["status"]["podIP"]
    assert unhealthy["message"].startswith(f"Readiness probe failed: dial tcp {pod_ip}:{port}")
    pod = await node.get("sick")
    assert pod["status"]["phase"] == "Running"
    assert conditions(pod)["Ready"] == "False"
