"""The Lease kind (coordination.k8s.io/v1, namespaced): a named holder with a time to live.

kawa uses Leases as Kubernetes does: ``kube-system/kawa-controllers`` says which node runs
the controllers (:mod:`kawa.coordination.election`), and each node renews a Lease of its
own name in ``kube-node-lease`` (:mod:`kawa.coordination.node_lease`). The times are
Kubernetes' MicroTime: RFC 3339 with microseconds, in UTC (:func:`micro_time`). Declared in
:mod:`kawa.apis.coordination`; :func:`holder_cell` is the HOLDER column of ``kubectl get
leases``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from kawa.apis.model.base import Model, doc
from kawa.apis.model.objects import KubeObject
from kawa.apis.model.types import DateTime

GROUP: Final = "coordination.k8s.io"
API_VERSION: Final = f"{GROUP}/v1"
KIND: Final = "Lease"


def micro_time(moment: datetime) -> str:
    """Kubernetes' MicroTime: RFC 3339 with microseconds, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseSpec(Model):
    """Who holds the lease, since when, and for how long."""

    holder_identity: Annotated[str | None, doc("The identity of the holder of the lease.")] = None
    lease_duration_seconds: Annotated[
        int | None,
        doc(
            "How long, in seconds, candidates wait after the last observed renewal before "
            "they may take the lease (greater than 0).",
            ge=1,
        ),
    ] = None
    acquire_time: Annotated[
        DateTime | None, doc("When the current holder acquired the lease (MicroTime).")
    ] = None
    renew_time: Annotated[
        DateTime | None, doc("When the current holder last renewed the lease (MicroTime).")
    ] = None
    lease_transitions: Annotated[
        int | None, doc("How many times the lease changed holders.", ge=0)
    ] = None


class Lease(KubeObject):
    """A Lease: a lock with a holder and a duration (leader election, node heartbeats)."""

    spec: Annotated[LeaseSpec | None, doc("The lease's holder and times.")] = None


def holder_cell(obj: Mapping[str, Any]) -> str:
    """``kubectl get leases``' HOLDER: the holder identity (empty when none)."""
    spec = obj.get("spec")
    holder = spec.get("holderIdentity") if isinstance(spec, Mapping) else None
    return holder if isinstance(holder, str) else ""
