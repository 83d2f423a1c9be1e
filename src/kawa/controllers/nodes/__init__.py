"""Pods across nodes: the scheduler and the node lifecycle controller, run by the leader.

:class:`NodeControllers` follows Nodes, heartbeat Leases and Pods (:mod:`.view`), binds
unbound Pods to Ready nodes whenever something changes (:mod:`.scheduler`, its choice a pure
function in :mod:`.choice`) and, every :data:`CHECK_INTERVAL` at most, marks the nodes whose
Lease was not renewed within the grace period lost and fails their Pods (:mod:`.lifecycle`,
liveness in :mod:`.health`). Started by :func:`kawa.leader.run_once` on the leader only;
docs/distributed.md describes the behaviour and the timings.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Final

from kawa.apis.conditions import Clock, system_clock
from kawa.controllers.nodes.health import Health
from kawa.controllers.nodes.lifecycle import NodeLifecycle
from kawa.controllers.nodes.scheduler import RETRY, Scheduler
from kawa.controllers.nodes.view import ClusterView
from kawa.store.base import ResourceStore

DEFAULT_GRACE_PERIOD: Final = 20.0
"""Seconds a node may go without renewing its Lease before it is lost
(``kawa up --node-monitor-grace-period``)."""
CHECK_INTERVAL: Final = 1.0


class NodeControllers:
    """The scheduler and the node lifecycle controller of the leader (see the module)."""

    name = "nodes"

    def __init__(
        self,
        store: ResourceStore,
        *,
        me: str,
        grace_period: float = DEFAULT_GRACE_PERIOD,
        clock: Clock = system_clock,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.health = Health(grace_period, me)
        self.view = ClusterView(store, self.health, monotonic)
        self.scheduler = Scheduler(store, self.view, clock=clock, monotonic=monotonic)
        self.lifecycle = NodeLifecycle(store, self.view, clock=clock, monotonic=monotonic)
        self.check_interval = min(CHECK_INTERVAL, grace_period / 4)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self.view.run(), name="nodes-view")
            await self.view.synced.wait()
            group.create_task(self._schedule(), name="scheduler")
            group.create_task(self._watch_nodes(), name="node-lifecycle")

    async def _schedule(self) -> None:
        changed = self.view.changed
        while True:
            changed.clear()
            left = await self.scheduler.schedule_pending()
            timeout = RETRY if left else None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await changed.wait()

    async def _watch_nodes(self) -> None:
        while True:
            await asyncio.sleep(self.check_interval)
            await self.lifecycle.check()
