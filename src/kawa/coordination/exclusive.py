"""Exclusive rights among the processes sharing kawa's store: one holder per name.

:class:`LeaseGate` is a :class:`kawa.dispatch.running.Gate`: ``gate.hold(name, run)`` runs
``run()`` while this process holds the Lease ``kube-system/<name>`` and stops it when the
lease is lost, with the timings and rules of the controllers' leader election
(:mod:`kawa.coordination.election`). kawa uses it for ordered triggers when several processes
pull from one durable JetStream consumer: per-partition-key order needs one puller, and a
dead holder's right passes to another process within the lease duration; ``gate.drop(name)``
deletes the Lease once its trigger is gone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from kawa.coordination.election import LEASES, SYSTEM_NAMESPACE, LeaderElector, Timing
from kawa.errors import NotFoundError
from kawa.store.base import ResourceKey, ResourceStore

Run = Callable[[], Coroutine[Any, Any, None]]


class LeaseGate:
    """A :class:`kawa.dispatch.running.Gate` of Leases in ``store`` for the candidate
    ``identity`` (see the module)."""

    def __init__(self, store: ResourceStore, identity: str, timing: Timing | None = None) -> None:
        self._store = store
        self._identity = identity
        self._timing = timing

    async def hold(self, name: str, run: Run) -> None:
        elector = LeaderElector(self._store, self._identity, name=name, timing=self._timing)
        await elector.run(run)

    async def drop(self, name: str) -> None:
        """Delete the Lease of ``name`` (its consumer is gone; every node may ask)."""
        with contextlib.suppress(NotFoundError):
            await self._store.delete(ResourceKey(LEASES, SYSTEM_NAMESPACE, name))
