"""``kawa why``'s printing: an answer kawa would not give is one line, never a traceback."""

from __future__ import annotations

from typing import Any

import pytest

from kawa.cli.client import CliError
from kawa.cli.why import render

BROKER = {"namespace": "default", "name": "default", "ready": {"status": "True"}}
EVENT = {"id": "1", "source": "/s", "type": "t"}


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({}, "expected broker and event objects"),
        ({"broker": BROKER, "event": EVENT}, "expected a triggers array of objects"),
        ({"broker": BROKER, "event": EVENT, "triggers": [1]}, "expected a triggers array"),
    ],
)
def test_an_unexpected_answer_is_named(answer: dict[str, Any], expected: str) -> None:
    with pytest.raises(CliError, match=f"unexpected answer to POST /why: {expected}"):
        render(answer, "POST /why")


def test_no_triggers_and_a_broker_not_ready() -> None:
    broker = BROKER | {"ready": {"status": "False", "reason": "Missing", "message": "no log"}}
    text = render({"broker": broker, "event": EVENT, "triggers": []}, "POST /why")
    assert text.splitlines() == [
        "Broker default/default: not Ready (Missing: no log)",
        "Event: id=1 source=/s type=t",
        "",
        "no triggers on broker default/default",
    ]


def test_nested_alternatives_are_indented_under_why() -> None:
    inner = {
        "path": "p.any[1].any",
        "reason": "none",
        "alternatives": [{"path": "q", "reason": "r"}],
    }
    rejection = {"path": "p.any", "reason": "none of its 2", "alternatives": [
        {"path": "p.any[0].exact.type", "reason": "type differs"}, inner]}  # fmt: skip
    trigger = {"name": "t", "ready": {"status": "True"}, "matched": False, "rejection": rejection}
    lines = render({"broker": BROKER, "event": EVENT, "triggers": [trigger]}, "x").splitlines()
    assert lines[3:8] == [
        "TRIGGER   READY   MATCHED   WHY",
        "t         True    no        p.any: none of its 2",
        "                              p.any[0].exact.type: type differs",
        "                              p.any[1].any: none",
        "                                q: r",
    ]
    assert lines[-1] == "0 of 1 triggers would deliver the event"
