from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from kawa.apis.conditions import Condition, ConditionSet, format_time, get_condition, system_clock

from .helpers import FakeClock, new_status

SET = ConditionSet(("A", "B"))


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c.get("reason", "")) for c in status["conditions"]}


def test_ready_is_unknown_until_every_dependent_is_true() -> None:
    clock, status = FakeClock(), new_status()
    SET.mark_true(status, "A", clock=clock)
    assert conditions(status) == {"A": ("True", ""), "Ready": ("Unknown", "")}
    assert not SET.is_ready(status)
    SET.mark_true(status, "B", clock=clock)
    assert conditions(status)["Ready"] == ("True", "")
    assert SET.is_ready(status)


def test_false_wins_over_unknown_and_carries_its_reason() -> None:
    clock, status = FakeClock(), new_status()
    SET.mark_unknown(status, "A", "Waiting", "not yet", clock=clock)
    SET.mark_false(status, "B", "Broken", "it broke", clock=clock)
    ready = SET.get(status, "Ready")
    assert ready == Condition("Ready", "False", "Broken", "it broke", "", "2024-05-01T12:00:00Z")
    SET.mark_true(status, "B", clock=clock)
    assert conditions(status)["Ready"] == ("Unknown", "Waiting")
    SET.mark_true(status, "A", clock=clock)
    assert conditions(status)["Ready"] == ("True", "")


def test_first_false_dependent_in_declared_order_names_the_reason() -> None:
    clock, status = FakeClock(), new_status()
    SET.mark_false(status, "B", "BReason", "b", clock=clock)
    SET.mark_false(status, "A", "AReason", "a", clock=clock)
    assert conditions(status)["Ready"] == ("False", "AReason")


def test_last_transition_time_changes_only_when_status_changes() -> None:
    clock, status = FakeClock(), new_status()
    SET.mark_false(status, "A", "R1", "m1", clock=clock)
    first = get_condition(status, "A")
    assert first is not None
    assert first.last_transition_time == "2024-05-01T12:00:00Z"
    clock.advance(60)
    SET.mark_false(status, "A", "R2", "m2", clock=clock)
    second = get_condition(status, "A")
    assert second is not None
    assert (second.reason, second.message) == ("R2", "m2")
    assert second.last_transition_time == "2024-05-01T12:00:00Z"
    clock.advance(60)
    SET.mark_true(status, "A", clock=clock)
    third = get_condition(status, "A")
    assert third is not None
    assert third.last_transition_time == "2024-05-01T12:02:00Z"
    ready = get_condition(status, "Ready")
    # Ready was False since 12:00 and is Unknown now (B unreported).
    assert ready is not None
    assert ready.last_transition_time == "2024-05-01T12:02:00Z"


def test_marking_the_same_thing_twice_leaves_the_dict_equal() -> None:
    clock, status = FakeClock(), new_status()
    SET.mark_true(status, "A", clock=clock)
    SET.mark_false(status, "B", "R", "m", clock=clock)
    before = [dict(c) for c in status["conditions"]]
    clock.advance(10)
    SET.mark_false(status, "B", "R", "m", clock=clock)
    SET.mark_true(status, "A", clock=clock)
    assert status["conditions"] == before


def test_conditions_are_sorted_and_empty_fields_omitted() -> None:
    clock, status = FakeClock(), new_status()
    SET.mark_true(status, "B", clock=clock)
    SET.mark_true(status, "A", clock=clock)
    assert [c["type"] for c in status["conditions"]] == ["A", "B", "Ready"]
    assert status["conditions"][0] == {
        "type": "A",
        "status": "True",
        "lastTransitionTime": "2024-05-01T12:00:00Z",
    }


def test_other_conditions_have_info_severity_and_do_not_touch_ready() -> None:
    clock, status = FakeClock(), new_status()
    SET.mark_true(status, "A", clock=clock)
    SET.mark_true(status, "B", clock=clock)
    SET.mark_false(status, "Extra", "Meh", "informational", clock=clock)
    extra = SET.get(status, "Extra")
    assert extra is not None
    assert extra.severity == "Info"
    assert SET.is_ready(status)


def test_mark_true_with_reason() -> None:
    clock, status = FakeClock(), new_status()
    SET.mark_true(status, "A", "NotConfigured", "nothing to do", clock=clock)
    assert conditions(status)["A"] == ("True", "NotConfigured")


def test_initialize_reports_missing_conditions_as_unknown_only() -> None:
    clock, status = FakeClock(), new_status()
    SET.mark_false(status, "A", "R", "m", clock=clock)
    SET.initialize(status, clock=clock)
    assert conditions(status) == {
        "A": ("False", "R"),
        "B": ("Unknown", ""),
        "Ready": ("False", "R"),
    }


def test_propagate_copies_another_objects_condition() -> None:
    clock, status = FakeClock(), new_status()
    kwargs: dict[str, Any] = {
        "reason_if_missing": "NotThere",
        "message_if_missing": "missing",
        "clock": clock,
    }
    SET.propagate(status, "A", None, **kwargs)
    assert conditions(status)["A"] == ("Unknown", "NotThere")
    SET.propagate(status, "A", Condition("Ready", "False", "Down", "down"), **kwargs)
    assert conditions(status)["A"] == ("False", "Down")
    SET.propagate(status, "A", Condition("Ready", "Unknown", "Maybe"), **kwargs)
    assert conditions(status)["A"] == ("Unknown", "Maybe")
    SET.propagate(status, "A", Condition("Ready", "True"), **kwargs)
    assert conditions(status)["A"] == ("True", "")


def test_condition_round_trip_and_odd_input() -> None:
    c = Condition("X", "False", "R", "m", "Warning", "2024-01-01T00:00:00Z")
    assert Condition.from_dict(c.to_dict()) == c
    assert Condition.from_dict({"type": "X", "status": "maybe"}).status == "Unknown"
    assert get_condition({"conditions": "nope"}, "X") is None
    assert get_condition({}, "X") is None


def test_happy_cannot_be_a_dependent() -> None:
    with pytest.raises(ValueError, match="depend on itself"):
        ConditionSet(("Ready",))


def test_time_format() -> None:
    assert format_time(FakeClock()()) == "2024-05-01T12:00:00Z"
    assert system_clock().tzinfo is not None
    with pytest.raises(ValueError, match="aware"):
        format_time(datetime(2024, 1, 1))


def test_a_warning_condition_leaves_ready_alone_and_can_be_cleared() -> None:
    clock, status = FakeClock(), new_status()
    SET.mark_true(status, "A", clock=clock)
    SET.mark_true(status, "B", clock=clock)
    SET.mark_warning(status, "LoopFree", "LoopDetected", "a loop", clock=clock)
    warning = get_condition(status, "LoopFree")
    assert warning is not None
    assert (warning.status, warning.reason, warning.severity) == (
        "False",
        "LoopDetected",
        "Warning",
    )
    assert SET.is_ready(status)
    SET.clear(status, "LoopFree")
    assert get_condition(status, "LoopFree") is None
    assert SET.is_ready(status)
    with pytest.raises(ValueError, match="takes part in 'Ready'"):
        SET.mark_warning(status, "A", "No", "a dependent is no warning", clock=clock)
