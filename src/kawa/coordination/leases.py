"""What a Lease says and what a candidate may do with it: pure functions, no I/O, no clock.

A :class:`Record` is the part of a Lease's ``spec`` leader election reads and writes
(Kubernetes' ``LeaderElectionRecord``). Expiry is judged as client-go judges it, on the
candidate's own monotonic clock and never on the times written in the record (other
machines' clocks may be skewed): an :class:`Observation` remembers the record a candidate
last saw and *when it first saw it*; the holder is presumed alive until that moment plus the
record's ``leaseDurationSeconds`` (:func:`expired`). A lease with no holder is free at once
(a clean stop releases it so: :func:`released`); a candidate may always renew its own
(:func:`may_take`). :func:`taken` is the record a candidate writes to acquire or renew.

Used by :mod:`kawa.coordination.election` and :mod:`kawa.coordination.node_lease`; the
times passed in come from their injected clocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

from kawa.apis.coordination import lease as lease_kind

API_VERSION: Final = lease_kind.API_VERSION
KIND: Final = lease_kind.KIND
RELEASED_DURATION: Final = 1
"""The ``leaseDurationSeconds`` of a released lease (as client-go writes it)."""


@dataclass(frozen=True, slots=True)
class Record:
    """A Lease's holder, duration, times (MicroTime strings) and transitions."""

    holder: str = ""
    duration: int = 0
    acquire_time: str | None = None
    renew_time: str | None = None
    transitions: int = 0


def read(obj: Mapping[str, Any]) -> Record:
    """The record of a stored Lease (missing or malformed fields read as absent)."""
    spec = obj.get("spec")
    spec = spec if isinstance(spec, Mapping) else {}
    holder = spec.get("holderIdentity")
    duration = spec.get("leaseDurationSeconds")
    transitions = spec.get("leaseTransitions")
    acquire, renew = spec.get("acquireTime"), spec.get("renewTime")
    return Record(
        holder=holder if isinstance(holder, str) else "",
        duration=duration if isinstance(duration, int) and not isinstance(duration, bool) else 0,
        acquire_time=acquire if isinstance(acquire, str) else None,
        renew_time=renew if isinstance(renew, str) else None,
        transitions=(
            transitions if isinstance(transitions, int) and not isinstance(transitions, bool) else 0
        ),
    )


def spec(record: Record) -> dict[str, Any]:
    """The Lease ``spec`` of ``record`` (no ``holderIdentity`` when it has no holder)."""
    out: dict[str, Any] = {}
    if record.holder:
        out["holderIdentity"] = record.holder
    if record.duration > 0:
        out["leaseDurationSeconds"] = record.duration
    if record.acquire_time is not None:
        out["acquireTime"] = record.acquire_time
    if record.renew_time is not None:
        out["renewTime"] = record.renew_time
    out["leaseTransitions"] = record.transitions
    return out


def lease(name: str, namespace: str, record: Record, **metadata: Any) -> dict[str, Any]:
    """A new Lease object holding ``record`` (more ``metadata`` fields if given)."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace, **metadata},
        "spec": spec(record),
    }


def micro_time(moment: datetime) -> str:
    """Kubernetes' MicroTime of ``moment``."""
    return lease_kind.micro_time(moment.astimezone(UTC))


@dataclass(frozen=True, slots=True)
class Observation:
    """A record as a candidate saw it: its resourceVersion and the candidate's monotonic time
    when this version was first seen."""

    record: Record
    resource_version: str
    seen_at: float


def observe(previous: Observation | None, record: Record, version: str, now: float) -> Observation:
    """The observation after reading ``record`` at ``version`` at monotonic time ``now``: the
    first-seen time is kept while the version is the one seen before."""
    if previous is not None and previous.resource_version == version:
        return previous
    return Observation(record, version, now)


def expired(observation: Observation, now: float) -> bool:
    """Whether the holder has not renewed for its lease duration, by the observer's clock (a
    lease without holder is expired)."""
    if not observation.record.holder:
        return True
    return now >= observation.seen_at + observation.record.duration


def may_take(observation: Observation, identity: str, now: float) -> bool:
    """Whether ``identity`` may write itself as the holder: the lease is its own, free, or
    expired."""
    return observation.record.holder == identity or expired(observation, now)


def taken(record: Record | None, identity: str, duration: int, wall: datetime) -> Record:
    """The record ``identity`` writes to renew (it holds ``record``) or to acquire (another
    held it, or nobody: one more transition) at wall-clock time ``wall``."""
    now = micro_time(wall)
    if record is not None and record.holder == identity:
        return replace(record, duration=duration, renew_time=now)
    transitions = 0 if record is None else record.transitions + 1
    return Record(identity, duration, now, now, transitions)


def released(record: Record, wall: datetime) -> Record:
    """The record a holder leaves on a clean stop: no holder, a one-second duration, so any
    candidate takes it at once."""
    now = micro_time(wall)
    return Record("", RELEASED_DURATION, now, now, record.transitions)
