"""kawa's channel annotations carried from a parent (Channel, Sequence, Parallel) to its
channels: what is carried, what is removed, and when nothing needs writing."""

from __future__ import annotations

from typing import Any

from kawa.reconciler.carried_annotations import CARRIED_LIST, carried, carried_to, with_carried

RETENTION, LINEAGE, STORE = "kawa.dev/retention", "kawa.dev/lineage", "kawa.dev/dead-letter-store"


def test_only_kawas_channel_switches_are_carried() -> None:
    given = {RETENTION: "PT1H", "kawa.dev/max-rate": "5", "team": "a", LINEAGE: "off"}
    assert carried(given) == {RETENTION: "PT1H", LINEAGE: "off"}
    assert carried(None) == {}


def test_what_was_carried_and_is_gone_is_removed_and_the_rest_stays() -> None:
    first = with_carried({"limits.kawa.dev/u1": "{}"}, {RETENTION: "PT1H", LINEAGE: "off"})
    assert first == {
        "limits.kawa.dev/u1": "{}",
        RETENTION: "PT1H",
        LINEAGE: "off",
        CARRIED_LIST: f"{LINEAGE},{RETENTION}",
    }
    set_here = {**first, STORE: "false"}  # set on the channel alone
    assert with_carried(set_here, {RETENTION: "P7D"}) == {
        "limits.kawa.dev/u1": "{}",
        RETENTION: "P7D",
        STORE: "false",
        CARRIED_LIST: RETENTION,
    }
    assert with_carried(set_here, {}) == {"limits.kawa.dev/u1": "{}", STORE: "false"}


def test_a_channel_already_as_wanted_is_the_same_object() -> None:
    child: dict[str, Any] = {"metadata": {"name": "c"}, "spec": {}}
    assert carried_to(child, {"team": "a"}) is child  # nothing to carry: no write
    made = carried_to(child, {LINEAGE: "off"})
    assert made is not child
    assert made["metadata"] == {
        "name": "c",
        "annotations": {LINEAGE: "off", CARRIED_LIST: LINEAGE},
    }
    assert carried_to(made, {LINEAGE: "off"}) is made
    assert carried_to(made, {})["metadata"] == {"name": "c"}  # all it had was carried: gone
