"""kawa's heartbeats (Knative's ``cmd/heartbeats``) as a child process: heartbeat events to
``$K_SINK`` every ``--period``, with upstream's flags, extensions, overrides and source."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kawa.samples.heartbeats import (
    ConfigError,
    Heartbeats,
    UsageError,
    parse_duration,
    parse_flags,
)

from ..waiting import eventually
from .support import Sink, program, start_sink

pytestmark = pytest.mark.slow

POD = {"POD_NAME": "heartbeats-pod", "POD_NAMESPACE": "event-test"}


async def test_beats_to_the_sink_every_period(tmp_path: Path) -> None:
    sink = Sink()
    runner = await start_sink(sink)
    try:
        env = {
            **POD,
            "K_SINK": sink.url,
            "K_CE_OVERRIDES": json.dumps({"extensions": {"extra": "test", "heart": "maybe"}}),
        }
        args = ["--period=100ms", "-label", '"my label"', "--msg", "hi"]
        with program("heartbeats", tmp_path, env, args, listens=False) as beats:

            async def three() -> bool:
                assert beats.proc.poll() is None, beats.log()
                return len(sink.events) >= 3

            await eventually(three, 20, "three heartbeats")
        first, second = sink.events[0], sink.events[1]
        assert first.type == "dev.knative.eventing.samples.heartbeat"
        assert (
            first.source
            == "https://knative.dev/eventing-contrib/cmd/heartbeats/#event-test/heartbeats-pod"
        )
        assert first.specversion == "1.0"
        assert first.datacontenttype == "application/json"
        assert first.get("the") == "42"  # binary mode: extension values arrive as strings
        assert first.get("beats") == "true"
        assert first.get("heart") == "maybe"  # K_CE_OVERRIDES wins
        assert first.get("extra") == "test"
        assert first.get("time")
        assert first.id != second.id
        assert json.loads(first.data or b"") == {"id": 1, "label": "my label", "msg": "hi"}
        assert json.loads(second.data or b"") == {"id": 2, "label": "my label", "msg": "hi"}
        assert "ce-specversion" in {k.lower() for k in sink.headers[0]}
        assert "sending cloudevent to " + sink.url in beats.log()
    finally:
        await runner.cleanup()


async def test_one_shot_sends_once_and_exits_and_flags_set_source_and_type(
    tmp_path: Path,
) -> None:
    sink = Sink()
    runner = await start_sink(sink)
    try:
        env = {**POD, "ONE_SHOT": "true"}
        args = ["-sink", sink.url, "--eventType=my.type", "--eventSource", "urn:beats"]
        with program("heartbeats", tmp_path, env, args, listens=False) as beats:

            async def exited() -> bool:
                return beats.proc.poll() is not None

            await eventually(exited, 20, "heartbeats never exited")
            assert beats.proc.returncode == 0, beats.log()
        assert len(sink.events) == 1
        assert sink.events[0].type == "my.type"
        assert sink.events[0].source == "urn:beats"
        assert json.loads(sink.events[0].data or b"") == {"id": 1, "label": ""}
    finally:
        await runner.cleanup()


async def test_failed_sends_are_retried_then_logged(tmp_path: Path) -> None:
    sink = Sink(status=400, first_statuses=[503, 429, 202])
    runner = await start_sink(sink)
    try:
        env = {**POD, "K_SINK": sink.url}
        with program("heartbeats", tmp_path, env, ["--period=50ms"], listens=False) as beats:

            async def failed() -> bool:
                return "failed to send cloudevent: 400" in beats.log()

            await eventually(failed, 20, "a failed beat logged")
        # the first beat: 503 and 429 retried, then accepted; the second: 400, not retried
        assert [json.loads(e.data or b"")["id"] for e in sink.events[:4]] == [1, 1, 1, 2]
        assert sink.events[0].id == sink.events[2].id  # a retry resends the same event
        assert beats.log().count("failed to send") >= 1
    finally:
        await runner.cleanup()


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("POD_NAME", "POD_NAMESPACE")}
    return subprocess.run(
        [sys.executable, "-m", "kawa.samples.heartbeats", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_bad_flags_exit_2_and_bad_environment_exits_1() -> None:
    unknown = _run(["--nope=1"], POD)
    assert unknown.returncode == 2
    assert "flag provided but not defined: -nope" in unknown.stderr
    assert _run(["-h"], POD).returncode == 0
    missing = _run([], {"POD_NAME": "p"})
    assert missing.returncode == 1
    assert "required key POD_NAMESPACE missing value" in missing.stderr
    period = _run(["--period", "soon"], POD)
    assert period.returncode == 1
    assert 'Invalid period interval provided: "soon"' in period.stderr


def test_go_durations_and_flags() -> None:
    assert parse_duration("5s") == 5.0
    assert parse_duration("10") == 10.0
    assert parse_duration("1m30s") == 90.0
    assert parse_duration("1.5h") == 5400.0
    assert parse_duration("250ms") == pytest.approx(0.25)
    with pytest.raises(ConfigError):
        parse_duration("5 s")
    with pytest.raises(ConfigError):
        parse_duration("")
    assert parse_flags(["-period", "1", "--label=x", "rest", "--msg=y"]) == {
        "period": "1",
        "label": "x",
    }
    with pytest.raises(UsageError):
        parse_flags(["--period"])
    with pytest.raises(ConfigError):
        Heartbeats.configure(["--period=0s"], POD)
    with pytest.raises(ConfigError):
        Heartbeats.configure([], {**POD, "K_CE_OVERRIDES": "{not json"})
    beats = Heartbeats.configure(["--sink", "http://flag"], {**POD, "K_SINK": "http://env"})
    assert beats.sink == "http://env"
    assert beats.period == 5.0
