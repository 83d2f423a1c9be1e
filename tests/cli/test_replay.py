"""``kawa replay``'s pure parts: TIME flags, the Replay it creates, what the bar shows; and
bad flags refused with exit code 2 before anything is sent."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner

from kawa.apis.registry import SCHEME
from kawa.cli.main import main
from kawa.cli.replay import manifest, progress_of, replay_name, resolve_time

NOW = datetime(2026, 12, 7, 9, 30, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-12-07T08:00:00Z", "2026-12-07T08:00:00Z"),
        ("2026-12-07T08:00:00.25+01:00", "2026-12-07T08:00:00.25+01:00"),
        ("now", "2026-12-07T09:30:00.000000Z"),
        ("-90m", "2026-12-07T08:00:00.000000Z"),
        ("-1h30m", "2026-12-07T08:00:00.000000Z"),
        ("-PT2H", "2026-12-07T07:30:00.000000Z"),
    ],
)
def test_times(text: str, moment: str) -> None:
    assert resolve_time(text, NOW) == moment


@pytest.mark.parametrize(
    "text",
    ["yesterday", "-", "-2x", "-P1Y", "2026-12-07", "90m", "-P999999D", "-PT99999999999H"],
)
def test_bad_times(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        resolve_time(text, NOW)


def test_the_replay_it_creates_is_valid() -> None:
    name = replay_name("orders-to-audit")
    assert name.startswith("orders-to-audit-replay-")
    obj = manifest(name, "shop", "default", "orders", "2026-12-07T08:00:00Z", None, "type = 'x'")
    SCHEME.validate(SCHEME.default(obj))
    assert "to" not in obj["spec"]


def test_the_bar_reads_the_status() -> None:
    waiting = progress_of(
        {
            "status": {
                "conditions": [
                    {"type": "Ready", "status": "False", "message": "trigger t does not exist"},
                    {"type": "Succeeded", "status": "Unknown", "reason": "Pending"},
                ]
            }
        }
    )
    assert (waiting.records, waiting.succeeded, waiting.state) == (
        None,
        None,
        "trigger t does not exist",
    )
    status: dict[str, Any] = {
        "window": {"firstSeq": 4, "lastSeq": 9},
        "progress": {"records": 6, "done": 6, "delivered": 5, "filteredOut": 1},
        "conditions": [
            {"type": "Ready", "status": "True"},
            {"type": "Succeeded", "status": "True", "message": "6 events replayed"},
        ],
    }
    done = progress_of({"status": status})
    assert (done.records, done.done, done.succeeded) == (6, 6, True)
    assert done.counts == "5 delivered, 1 filtered out"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--trigger", "t", "--from", "now"], "missing --broker"),
        (["--broker", "b", "--trigger", "t", "--from", "soon"], "Invalid value for '--from'"),
        (
            ["--broker", "b", "--trigger", "t", "--from", "-1h", "--to", "-2h"],
            "is after --to",
        ),
        (
            ["--broker", "b", "--trigger", "t", "--from", "-1h", "--filter", "type ="],
            "invalid CloudEvents SQL expression",
        ),
    ],
)
def test_bad_flags_exit_2(args: list[str], says: str, tmp_path: Any) -> None:
    result = CliRunner().invoke(main, ["replay", *args, "--data-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert says in result.output
