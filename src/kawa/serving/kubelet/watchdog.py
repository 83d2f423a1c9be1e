"""The kubelet's watchdog: kills every container process when kawa dies, however it dies.

Every container process is started with ``KAWA_KUBELET=<node id>/<pod uid>/<container>`` in
its environment (:data:`MARKER`), and whatever it starts inherits it, even past ``setsid``,
``nohup`` or a double fork. The kubelet (:mod:`kawa.serving.kubelet.kubelet`) starts this
module as a separate small process (``python -I -S watchdog.py <node id> <kawa pid>
<pids dir>``, run by path so that it imports nothing but the standard library) with a pipe
on its stdin. The watchdog asks Linux for SIGTERM when kawa dies (``PR_SET_PDEATHSIG``),
checks that kawa is still its parent, then waits: on end of file on stdin (kawa closed the
pipe, or died, whatever the thread that started it) or SIGTERM it SIGKILLs, until none is
left, every process whose ``/proc/<pid>/environ`` carries the node's marker and the
sessions recorded under the pid files, then exits.

The same functions serve the kubelet at startup (what a previous run left) and when a
container ends (what that container left). A process that clears its environment *and*
leaves its container's session cannot be found this way (it would take cgroups).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import types
from pathlib import Path

MARKER = "KAWA_KUBELET"
"""The environment variable that marks a container's processes (and their descendants)."""
PR_SET_PDEATHSIG = 1
_PASSES = 50
"""Sweeps at most (a process forking while it is killed is found by the next one)."""


def start_time(pid: int) -> str | None:
    """The start time of ``pid`` (clock ticks since boot), None when it is not running."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]


def session_members(sid: int) -> list[int]:
    """Processes whose session id is ``sid``."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # fields: state ppid pgrp session ...
            found.append(int(entry.name))
    return found


def marker_value(node_id: str, *parts: str) -> str:
    """The marker of a node (``node_id``) or of one of its containers (uid, name)."""
    return "/".join((node_id, *parts))


def marked(prefix: str) -> list[int]:
    """Processes (not this one) whose environment marks them as under ``prefix``."""
    wanted = f"{MARKER}={prefix}".encode()
    me = os.getpid()
    found: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read()
        except OSError:
            continue
        for item in environ.split(b"\0"):
            if item == wanted or item.startswith(wanted + b"/"):
                found.append(int(entry))
                break
    return found


def kill_marked(prefix: str) -> list[int]:
    """SIGKILL every process marked under ``prefix`` until none is left; the pids killed."""
    killed: list[int] = []
    for _ in range(_PASSES):
        found = [pid for pid in marked(prefix) if pid not in killed or _alive(pid)]
        if not found:
            break
        for pid in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
    return killed


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def kill_recorded(directory: Path) -> list[int]:
    """SIGKILL the sessions recorded in the pid files of ``directory`` (removed); the pids.

    A file is named by the container's pid and holds its start time, so a recycled pid is
    never taken for the container; a gone leader's session may live on in its children.
    """
    if not directory.is_dir():
        return []
    killed: list[int] = []
    for path in directory.iterdir():
        if not path.name.isdigit():
            continue
        pid = int(path.name)
        with contextlib.suppress(OSError):
            recorded = path.read_text().strip()
            now = start_time(pid)
            if now is None or now == recorded:
                for member in session_members(pid):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(member, signal.SIGKILL)
                        killed.append(member)
            path.unlink()
    return killed


def sweep(node_id: str, pids: Path) -> list[int]:
    """Kill everything a node's containers run: recorded sessions, then marked processes."""
    return kill_recorded(pids) + kill_marked(node_id)


def _arm_death_signal() -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def main(argv: list[str]) -> int:
    """``watchdog.py NODE_ID KAWA_PID PIDS_DIR``: wait for kawa's end, then sweep."""
    if len(argv) != 3 or not argv[1].isdigit():
        print("usage: watchdog.py NODE_ID KAWA_PID PIDS_DIR", file=sys.stderr)
        return 2
    node_id, parent, pids = argv[0], int(argv[1]), Path(argv[2])

    def on_term(signum: int, frame: types.FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        _arm_death_signal()
        if os.getppid() == parent:  # else kawa died before the death signal was armed
            while os.read(0, 4096):
                pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sweep(node_id, pids)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
