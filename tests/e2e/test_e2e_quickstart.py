"""The Quickstart (``kawa demo --once``) as a user runs it, and what an idle trigger logs.

``kawa demo --once`` starts kawa, a Broker, a Trigger and ``kawa event-display``, sends three
sample events and must exit 0 once they are displayed.
"""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

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
    wait_until,
)

pytestmark = pytest.mark.slow

HEADER = "☁️  cloudevents.Event"


def test_demo_once_displays_three_events(tmp_path: Path) -> None:
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
        out, err = proc.communicate(timeout=60)
    finally:
        stop(proc)
    stdout, stderr = out.decode(), err.decode()
    assert proc.returncode == 0, f"{stdout}\n{stderr}"
    assert time.monotonic() - started < 60
    blocks = stdout.split(HEADER)[1:]
    assert len(blocks) == 3, stdout
    types = [b.split("  type: ")[1].split("\n")[0] for b in blocks]
    assert sorted(types) == sorted(
        ["dev.kawa.demo.greeting", "dev.kawa.demo.order.created", "dev.kawa.demo.order.shipped"]
    )
    for block in blocks:
        assert block.startswith("\nContext Attributes,\n  specversion: 1.0\n"), block
        assert "\nData,\n  {\n" in block, block
    assert not (tmp_path / "data" / "server.json").exists()  # a clean exit cleans up


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
        time.sleep(3.5)  # nothing to do for a while
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
