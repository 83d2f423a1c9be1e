"""``kubectl get -w`` against a kawa whose header, idle and body timeouts are all half a
second: the watch is a request in progress, so it outlives every timeout, silent or not
(kawa.transport.server closes idle connections, never a streaming one)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ..e2e.e2e_support import kawa_up
from .kubectl_support import Kubectl

pytestmark = pytest.mark.slow


def test_a_kubectl_watch_outlives_every_timeout(tmp_path: Path) -> None:
    timeouts = ("--header-timeout=0.5", "--idle-timeout=0.5", "--body-timeout=0.5")
    with kawa_up(tmp_path, *timeouts) as kawa:
        kubectl = Kubectl(kawa.data_dir / "kubeconfig", tmp_path / "kube-cache")
        kubectl.ok("create", "configmap", "first")
        args = ("get", "configmaps", "-w", "--output-watch-events")
        with kubectl.watch(tmp_path / "watch.out", *args) as watch:
            watch.wait_for(lambda lines: any("first" in line for line in lines), "no first")
            # the behaviour under test: four times every timeout without a change
            time.sleep(2.0)
            kubectl.ok("create", "configmap", "second")
            lines = watch.wait_for(lambda lines: any("second" in ln for ln in lines), "no second")
            assert any(line.startswith("ADDED") and "second" in line for line in lines)
            assert watch.proc.poll() is None  # still watching
