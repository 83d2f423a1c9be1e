"""No container outlives kawa: not when kawa is SIGKILLed (PR_SET_PDEATHSIG kills the
container, the next kawa kills what it left in its session from the pid files)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from kawa.store.sqlite import SqliteResourceStore

from .kubelet_support import (
    alive,
    conditions,
    container_status,
    eventually,
    pid_of,
    pod_obj,
    running_kubelet,
    session_members,
    sh,
)

PARENT = Path(__file__).with_name("kubelet_parent.py")


async def test_sigkilled_parent_leaves_no_container(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    parent = await asyncio.create_subprocess_exec(
        sys.executable, str(PARENT), str(data_dir), stdout=asyncio.subprocess.PIPE
    )
    survivors: list[int] = []
    try:
        assert parent.stdout is not None
        line = await asyncio.wait_for(parent.stdout.readline(), 20)
        pid_text, uid = line.decode().split()
        leader = int(pid_text)
        assert alive(leader)
        assert (data_dir / "kubelet" / "pids" / str(leader)).exists()
        members = await eventually(
            lambda: _at_least(leader, 2), what="the container and its background sleep"
        )
        survivors = [m for m in members if m != leader]
        parent.send_signal(signal.SIGKILL)
        await parent.wait()
        # the container itself dies with its parent (PR_SET_PDEATHSIG)...
        await eventually(lambda: _dead(leader), timeout=5, what="the container to die")
        # ...its background child is left in the session: the next kubelet reaps it
        assert [pid for pid in survivors if alive(pid)] == survivors
        async with running_kubelet(data_dir):
            await eventually(lambda: _all_dead(survivors), timeout=5, what="leftovers killed")
            assert not session_members(leader)
            assert not (data_dir / "kubelet" / "pids" / str(leader)).exists()
            # the dead Pod's logs went with it (the new store does not know it)
            assert not list((data_dir / "kubelet" / "logs").glob(f"*_{uid}"))
    finally:
        if parent.returncode is None:
            parent.kill()
            await parent.wait()
        for pid in survivors:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


async def _at_least(sid: int, count: int) -> list[int] | None:
    members = session_members(sid)
    return members if len(members) >= count else None


async def _dead(pid: int) -> bool:
    return not alive(pid)


async def _all_dead(pids: list[int]) -> bool:
    return not [pid for pid in pids if alive(pid)]


async def test_a_new_kubelet_restarts_the_pods_of_the_last_one(tmp_path: Path) -> None:
    store = SqliteResourceStore(str(tmp_path / "store.db"))
    try:
        async with running_kubelet(tmp_path / "data", store) as node:
            await node.create(pod_obj("keep", [sh("echo up; sleep 60")]))
            await node.create(pod_obj("once", [sh("sleep 60")], restart_policy="Never"))
            for name in ("keep", "once"):
                await node.wait_pod(name, lambda p: conditions(p).get("Ready") == "True")
            old = pid_of(await node.get("keep"))
        assert not alive(old)
        async with running_kubelet(tmp_path / "data", store) as node:
            pod = await node.wait_pod(
                "keep",
                lambda p: (
                    conditions(p).get("Ready") == "True"
                    and container_status(p)["restartCount"] == 1
                ),
            )
            assert pid_of(pod) != old
            last = container_status(pod)["lastState"]["terminated"]
            assert (last["exitCode"], last["reason"]) == (137, "ContainerStatusUnknown")
            previous = node.log_file(pod, suffix=".previous.log").read_text()
            assert previous.endswith(" stdout F up\n")
            pod = await node.wait_phase("once", "Failed")
            assert container_status(pod)["state"]["terminated"]["exitCode"] == 137
    finally:
        await store.close()
