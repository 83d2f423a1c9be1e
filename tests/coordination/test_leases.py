"""The pure rules of leases: reading and writing records, observing, expiry, taking over,
releasing; with explicit clocks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kawa.coordination import leases
from kawa.coordination.election import Timing
from kawa.coordination.leases import Observation, Record

WALL = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
NOW = "2026-03-04T05:06:07.890123Z"


def held(
    holder: str, duration: int = 15, seen_at: float = 100.0, version: str = "7"
) -> Observation:
    return Observation(Record(holder, duration, "t0", "t1", 3), version, seen_at)


def test_a_record_round_trips_through_a_lease() -> None:
    record = Record("a", 15, "t0", "t1", 2)
    obj = leases.lease("kawa-controllers", "kube-system", record)
    assert obj["apiVersion"] == "coordination.k8s.io/v1"
    assert obj["kind"] == "Lease"
    assert obj["metadata"] == {"name": "kawa-controllers", "namespace": "kube-system"}
    assert obj["spec"] == {
        "holderIdentity": "a",
        "leaseDurationSeconds": 15,
        "acquireTime": "t0",
        "renewTime": "t1",
        "leaseTransitions": 2,
    }
    assert leases.read(obj) == record


def test_a_missing_or_malformed_spec_reads_as_free() -> None:
    assert leases.read({}) == Record()
    assert leases.read({"spec": "x"}) == Record()
    bad = {"holderIdentity": 3, "leaseDurationSeconds": True, "leaseTransitions": "1"}
    assert leases.read({"spec": bad}) == Record()
    assert "holderIdentity" not in leases.spec(Record())


def test_the_first_sight_of_a_version_is_kept() -> None:
    record = Record("a", 15)
    first = leases.observe(None, record, "5", 10.0)
    assert first.seen_at == 10.0
    assert leases.observe(first, record, "5", 20.0) is first
    renewed = leases.observe(first, record, "6", 20.0)
    assert (renewed.resource_version, renewed.seen_at) == ("6", 20.0)


def test_expiry_is_judged_on_the_observers_clock() -> None:
    observation = held("a", duration=15, seen_at=100.0)
    assert not leases.expired(observation, 114.999)
    assert leases.expired(observation, 115.0)
    # no holder: free at once
    assert leases.expired(held("", duration=15, seen_at=100.0), 100.0)


@pytest.mark.parametrize(
    ("holder", "now", "may"),
    [
        ("me", 100.0, True),  # my own: renew
        ("", 100.0, True),  # released
        ("other", 110.0, False),  # alive
        ("other", 115.0, True),  # expired
    ],
)
def test_who_may_take_the_lease(holder: str, now: float, may: bool) -> None:
    assert leases.may_take(held(holder), "me", now) is may


def test_acquiring_and_renewing() -> None:
    created = leases.taken(None, "me", 15, WALL)
    assert created == Record("me", 15, NOW, NOW, 0)
    taken_over = leases.taken(Record("other", 15, "t0", "t1", 4), "me", 10, WALL)
    assert taken_over == Record("me", 10, NOW, NOW, 5)
    from_released = leases.taken(Record("", 1, "t0", "t1", 5), "me", 15, WALL)
    assert from_released.transitions == 6
    renewed = leases.taken(Record("me", 15, "t0", "t1", 5), "me", 15, WALL)
    assert renewed == Record("me", 15, "t0", NOW, 5)


def test_a_released_lease_has_no_holder_and_a_one_second_duration() -> None:
    released = leases.released(Record("me", 15, "t0", "t1", 5), WALL)
    assert released == Record("", 1, NOW, NOW, 5)
    assert "holderIdentity" not in leases.spec(released)
    assert leases.expired(Observation(released, "9", 50.0), 50.0)


def test_timings_must_nest() -> None:
    assert Timing().lease_seconds == 15
    assert Timing(2.5, 1.5, 0.3).lease_seconds == 3
    for bad in ((10, 10, 2), (15, 10, 10), (15, 10, 0), (1, 2, 0.5)):
        with pytest.raises(ValueError, match="retry period < renew deadline < lease duration"):
            Timing(*bad)
