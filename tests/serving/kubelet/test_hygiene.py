"""No container, nor anything it started, outlives kawa: not when kawa is SIGKILLed
(PR_SET_PDEATHSIG kills the container, the watchdog what it started, even in another
session), nor when the watchdog died too (the next kawa kills what is left, found by the
environment marker and the pid files), nor on a clean stop or when the container ends."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import signal
import sys
from asyncio.subprocess import Process
from collections.abc import AsyncIterator
from pathlib import Path

from kawa.store.sqlite import SqliteResourceStore

from ...waiting import eventually
from .kubelet_support import (
    Node,
    alive,
    conditions,
    container_status,
    pid_of,
    pod_obj,
    running_kubelet,
    session_members,
    sh,
)

PARENT = Path(__file__).with_name("kubelet_parent.py")
WATCHDOG = "kubelet/watchdog.py"


def _sleeps(script: str) -> str:
    """``script`` with its ``sleep N`` made unique to this test (found by command line)."""
    base = 100000 + secrets.randbelow(800000) * 10
    return re.sub(r"sleep ([1-9])(?![\d.])", lambda m: f"sleep {base + int(m[1])}", script)


def _running(script: str) -> list[int]:
    """Pids of the ``sleep N`` processes of ``script`` that run."""
    wanted = {f"sleep\0{word}\0" for word in script.split() if word.isdigit()}
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline") as f:
                cmdline = f.read()
        except OSError:
            continue
        if cmdline in wanted and alive(int(entry)):
            found.append(int(entry))
    return found


def _children(pid: int) -> list[tuple[int, str]]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rpartition(")")[2].split()[1])
                with open(f"/proc/{entry}/cmdline") as f:
                    cmdline = f.read()
            except OSError:
                continue
            if ppid == pid:
                found.append((int(entry), cmdline))
    return found


@contextlib.asynccontextmanager
async def _parent(data_dir: Path, script: str) -> AsyncIterator[tuple[Process, int, str]]:
    """A kawa stand-in running one Pod with ``sh -c script``: the process, container pid, uid."""
    parent = await asyncio.create_subprocess_exec(
        sys.executable, str(PARENT), str(data_dir), script, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert parent.stdout is not None
        line = await asyncio.wait_for(parent.stdout.readline(), 20)
        pid_text, uid = line.decode().split()
        yield parent, int(pid_text), uid
    finally:
        if parent.returncode is None:
            parent.kill()
            await parent.wait()
        for pid in _running(script):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# in its session, in a new session, detached from the terminal: none may outlive kawa
ESCAPES = "sleep 1 & setsid sleep 2 & nohup sleep 3 >/dev/null 2>&1 & sh -c 'sleep 4 &' ; wait"


async def test_a_sigkilled_kawa_leaves_no_process_of_its_containers(tmp_path: Path) -> None:
    script = _sleeps(ESCAPES)
    data_dir = tmp_path / "data"
    async with _parent(data_dir, script) as (parent, leader, _):
        assert (data_dir / "kubelet" / "pids" / str(leader)).exists()
        await eventually(lambda: _count(script, 4), message="the four sleeps")
        parent.send_signal(signal.SIGKILL)
        await parent.wait()
        # the container dies with kawa (PR_SET_PDEATHSIG), the watchdog kills the rest
        await eventually(lambda: _dead(leader), timeout=5, message="the container to die")
        await eventually(lambda: _count(script, 0), timeout=5, message="every sleep to die")
        assert not session_members(leader)


async def test_the_next_kawa_kills_what_a_killed_watchdog_let_live(tmp_path: Path) -> None:
    script = _sleeps(ESCAPES)
    data_dir = tmp_path / "data"
    async with _parent(data_dir, script) as (parent, leader, uid):
        await eventually(lambda: _count(script, 4), message="the four sleeps")
        watchdogs = [pid for pid, cmd in _children(parent.pid) if WATCHDOG in cmd]
        assert len(watchdogs) == 1, _children(parent.pid)
        os.kill(watchdogs[0], signal.SIGKILL)
        await eventually(lambda: _dead(watchdogs[0]), message="the watchdog to die")
        parent.send_signal(signal.SIGKILL)
        await parent.wait()
        await eventually(lambda: _dead(leader), timeout=5, message="the container to die")
        left = _running(script)
        assert len(left) == 4  # nobody watched: they live on, the setsid one in its own session
        async with running_kubelet(data_dir):
            await eventually(lambda: _count(script, 0), timeout=5, message="leftovers killed")
            assert not (data_dir / "kubelet" / "pids" / str(leader)).exists()
            # the dead Pod's logs went with it (the new store does not know it)
            assert not list((data_dir / "kubelet" / "logs").glob(f"*_{uid}"))


async def test_what_a_container_started_ends_with_it(node: Node, tmp_path: Path) -> None:
    go = tmp_path / "go"
    script = _sleeps(
        "setsid sleep 1 & nohup sleep 2 >/dev/null 2>&1 & sleep 3 & "
        f"while [ ! -e {go} ]; do sleep 0.02; done; echo done"
    )
    await node.create(pod_obj("brief", [sh(script)], restart_policy="Never"))
    await eventually(lambda: _count(script, 3), message="the three sleeps")
    go.touch()  # the container ends, its sleeps still running
    await node.wait_phase("brief", "Succeeded")
    await eventually(lambda: _count(script, 0), timeout=5, message="its processes to die")


async def test_a_clean_stop_leaves_no_process(tmp_path: Path) -> None:
    script = _sleeps("setsid sleep 1 & nohup sleep 2 >/dev/null 2>&1 & sleep 3 & wait")
    async with running_kubelet(tmp_path / "data") as node:
        await node.create(pod_obj("p", [sh(script)]))
        await eventually(lambda: _count(script, 3), message="the three sleeps")
        marked = _running(script)
    assert not [pid for pid in marked if alive(pid)]


async def _count(script: str, count: int) -> bool:
    return len(_running(script)) == count


async def _dead(pid: int) -> bool:
    return not alive(pid)


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
