"""coordination.k8s.io/v1 Lease: validation, the HOLDER cell, names and MicroTime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from kawa.apis import coordination
from kawa.apis.coordination import lease
from kawa.apis.registry import SCHEME

from ..helpers import field_errors

KIND = coordination.LEASE


def a_lease(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "kawa-controllers", "namespace": "kube-system"},
        "spec": spec,
    }


def test_a_lease_is_valid_and_shows_its_holder() -> None:
    obj = KIND.default(
        a_lease(
            holderIdentity="node-a",
            leaseDurationSeconds=15,
            acquireTime="2026-01-02T03:04:05.123456Z",
            renewTime="2026-01-02T03:04:07.000001Z",
            leaseTransitions=2,
        )
    )
    KIND.validate(obj)
    assert lease.holder_cell(obj) == "node-a"
    assert lease.holder_cell(a_lease()) == ""
    assert lease.holder_cell({"spec": None}) == ""
    for name in ("lease", "leases", "Lease", "leases.coordination.k8s.io"):
        assert SCHEME.resolve(name) is KIND
    assert KIND.namespaced
    assert [c.name for c in KIND.printer_columns] == ["Holder", "Age"]


def test_invalid_leases() -> None:
    found = field_errors(
        lambda: KIND.validate(
            a_lease(leaseDurationSeconds=0, leaseTransitions=-1, renewTime="yesterday")
        )
    )
    assert set(found) == {
        "spec.leaseDurationSeconds",
        "spec.leaseTransitions",
        "spec.renewTime",
    }
    found = field_errors(lambda: KIND.validate(a_lease(holderIdentity=7)))
    assert set(found) == {"spec.holderIdentity"}


def test_micro_time_is_utc_with_microseconds() -> None:
    moment = datetime(2026, 1, 2, 4, 4, 5, 7, tzinfo=timezone(timedelta(hours=1)))
    assert lease.micro_time(moment) == "2026-01-02T03:04:05.000007Z"
    assert lease.micro_time(datetime(2026, 1, 2, tzinfo=UTC)) == "2026-01-02T00:00:00.000000Z"
