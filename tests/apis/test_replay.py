"""The Replay kind at admission: a window whose end is before its start, a filter that does
not compile and times that are not RFC 3339 are refused at their field paths, all at once;
the spec is one run (immutable) but for ``cancelled``."""

from __future__ import annotations

from typing import Any

from kawa.apis.registry import SCHEME

from .helpers import field_errors


def replay(**spec: Any) -> dict[str, Any]:
    base = {"broker": "default", "trigger": "a", "from": "2026-12-07T08:00:00Z"}
    return {
        "apiVersion": "kawa.dev/v1alpha1",
        "kind": "Replay",
        "metadata": {"name": "r", "namespace": "default"},
        "spec": {**base, **spec},
    }


def test_a_valid_replay() -> None:
    rk = SCHEME.resolve("replays")
    parsed = rk.parse(replay(to="2026-12-07T09:00:00.5Z", filter="type = 'order'"))
    assert parsed.spec.from_ == "2026-12-07T08:00:00Z"  # type: ignore[attr-defined]
    assert SCHEME.resolve("replay.kawa.dev") is rk


def test_bad_fields_are_refused_together() -> None:
    errors = field_errors(
        lambda: SCHEME.validate(replay(**{"from": "yesterday", "filter": "type =", "to": 5}))
    )
    assert set(errors) == {"spec.from", "spec.filter", "spec.to"}
    assert "RFC 3339" in errors["spec.from"]
    assert "CloudEvents SQL" in errors["spec.filter"]


def test_the_window_may_not_end_before_it_starts() -> None:
    errors = field_errors(lambda: SCHEME.validate(replay(to="2026-12-07T07:59:59Z")))
    assert errors == {
        "spec.to": "must not be before from (2026-12-07T08:00:00Z), got 2026-12-07T07:59:59Z"
    }


def test_only_cancelled_may_change() -> None:
    old = replay()
    SCHEME.validate_update(old, replay(cancelled=True))
    errors = field_errors(lambda: SCHEME.validate_update(old, replay(trigger="b")))
    assert list(errors) == ["spec.trigger"]
