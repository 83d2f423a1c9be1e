"""Fixtures of the kubelet tests: a Kubelet per test, and a check that no container outlives it;
kubectl against an API server over it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from .kubelet_support import Kubectl, Node, kubectl_for, running_kubelet


def _session_leader_children() -> list[int]:
    """Children of this process that lead their own session (what the kubelet spawns)."""
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        state, ppid, sid = fields[0], int(fields[1]), int(fields[3])
        if ppid == me and sid == int(entry) and state != "Z":
            found.append(int(entry))
    return found


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    before = set(_session_leader_children())
    async with running_kubelet(tmp_path / "data") as running:
        yield running
    left = set(_session_leader_children()) - before
    assert not left, f"containers outlived the kubelet: pids {sorted(left)}"


@pytest.fixture
async def kubectl(node: Node, tmp_path: Path) -> AsyncIterator[Kubectl]:
    async with kubectl_for(node, tmp_path) as running:
        yield running
