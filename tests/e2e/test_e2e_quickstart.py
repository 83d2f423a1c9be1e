"""The Quickstart (``kawa demo --once``) as a user runs it, and what an idle trigger logs.

``kawa demo --once`` runs the seed tutorial (examples/seed) in kawa and must exit 0 once the
event-display Service has displayed the busybox Pod's Kubernetes Events.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from ..waiting import wait_until
from .e2e_support import (
    CHILDREN,
    KAWA,
    broker,
    child_env,
    event_display,
    free_port,
    kawa_up,
    read_text,
    stop,
    trigger,
)

pytestmark = pytest.mark.slow

HEADER = "☁️  cloudevents.Event"


def test_demo_once_runs_the_seed_tutorial(tmp_path: Path) -> None:
    started = time.monotonic()
    proc = subprocess.Popen(
        [
            *KAWA,
            "demo",
            "--once",
            "--data-dir",
            str(tmp_path / "data"),
            "--port",
            str(free_port()),
            "--api-port",
            str(free_port()),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=child_env(),
    )
    CHILDREN.append(proc)
    try:
        out, err = proc.communicate(timeout=90)
    finally:
        stop(proc)
    stdout, stderr = out.decode(), err.decode()
    assert proc.returncode == 0, f"{stdout}\n{stderr}"
    assert time.monotonic() - started < 90
    # the tutorial's steps, in its order
    steps = [line for line in stderr.splitlines() if line.startswith("$ kubectl")]
    assert steps == [
        "$ kubectl apply --filename serviceaccount.yaml",
        "$ kubectl apply --filename k8s-events.yaml",
        "$ kubectl apply --filename service.yaml",
        "$ kubectl label namespace default knative-eventing-injection=enabled",
        "$ kubectl apply --filename trigger.yaml",
        "$ kubectl run busybox --image=busybox --restart=Never -- ls",
        "$ kubectl delete pod busybox",
        "$ kubectl logs -l serving.knative.dev/service=event-display -c user-container",
    ], stderr
    assert "apiserversource.sources.knative.dev/testevents created" in stdout
    assert "namespace/default labeled" in stdout
    # what the event-display Service printed: the busybox Pod's Kubernetes Events
    busybox = []
    for block in stdout.split(HEADER)[1:]:
        assert block.startswith("\nContext Attributes,\n  specversion: 1.0\n"), block
        if "type: dev.knative.apiserver.resource.add" not in block:
            continue
        data = json.loads(block.split("Data,", 1)[1])
        if data["involvedObject"]["name"] == "busybox":
            assert data["kind"] == "Event"
            assert data["involvedObject"]["kind"] == "Pod"
            busybox.append(data["reason"])
    assert busybox, stdout
    assert not (tmp_path / "data" / "server.json").exists()  # a clean exit cleans up
    # every container process stopped with kawa (the kubelet drops a pid file only once the
    # process is gone)
    pids = tmp_path / "data" / "kubelet" / "pids"
    assert pids.is_dir()
    assert not list(pids.iterdir())


def test_an_idle_trigger_logs_no_traceback_and_delivers_promptly(tmp_path: Path) -> None:
    """Regression: the SQLite log's read() once raised KeyError for a stream without records,
    so an idle trigger's consumer crashed in a loop (a traceback each time) with a backoff
    growing to 30 s, which delayed the first event after a quiet period."""
    with (
        kawa_up(tmp_path, "--log-level", "warning") as kawa,
        event_display(tmp_path) as (display_url, display_out),
    ):
        kawa.create(broker())
        kawa.create(trigger("idle", display_url))
        kawa.wait_ready("triggers", "idle")
        time.sleep(3.5)  # the behaviour under test: nothing to do for a while
        request = urllib.request.Request(
            kawa.broker_url(),
            data=b"x",
            method="POST",
            headers={"ce-specversion": "1.0", "ce-id": "late", "ce-source": "/e2e", "ce-type": "t"},
        )
        sent = time.monotonic()
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert resp.status == 202
        wait_until(lambda: "  id: late\n" in read_text(display_out), 10, "never displayed")
        assert time.monotonic() - sent < 1.0, "the first event after a quiet period was late"
        assert "Traceback" not in kawa.stderr, kawa.stderr
