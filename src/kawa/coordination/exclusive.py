"""Exclusive rights among the processes sharing kawa's store: one holder per name.

:func:`lease_gate` gives a :data:`kawa.dispatch.running.Gate`: ``gate(name, run)`` runs
``run()`` while this process holds the Lease ``kube-system/<name>`` and stops it when the
lease is lost, with the timings and rules of the controllers' leader election
(:mod:`kawa.coordination.election`). kawa uses it for ordered triggers when several processes
pull from one durable JetStream consumer: per-partition-key order needs one puller, and a
dead holder's right passes to another process within the lease duration.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from kawa.coordination.election import LeaderElector, Timing
from kawa.store.base import ResourceStore

Run = Callable[[], Coroutine[Any, Any, None]]


def lease_gate(
    store: ResourceStore, identity: str, timing: Timing | None = None
) -> Callable[[str, Run], Coroutine[Any, Any, None]]:
    """A gate of Leases in ``store`` for the candidate ``identity`` (see the module)."""

    async def hold(name: str, run: Run) -> None:
        await LeaderElector(store, identity, name=name, timing=timing).run(run)

    return hold
