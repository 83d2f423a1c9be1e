"""PingSource in kawa: a reconciler for its status and a scheduler that sends its events.

:func:`ping_sources` builds both for :mod:`kawa.runtime`, which runs each returned object's
``run()`` in its task group until shutdown (on the elected leader only). The scheduler keeps
its per-source state in the resource store (:mod:`.state`), shared by the nodes; the files
older kawas kept under ``<data_dir>/sources/ping/`` are moved there. How it behaves, and the
restart rule, are in ``docs/sources-ping.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, Protocol

from kawa.apis import sources as sources_api
from kawa.apis.conditions import Clock, system_clock
from kawa.delivery.sender import Dispatcher
from kawa.sources.controller import source_controller, source_recorder
from kawa.sources.ping.reconciler import PingSourceReconciler
from kawa.sources.ping.scheduler import PingScheduler
from kawa.sources.ping.state import TickStore
from kawa.sources.sink import SinkSender
from kawa.store.base import ResourceStore

__all__ = ["PINGSOURCES", "PingScheduler", "Runnable", "ping_sources"]

PINGSOURCES: Final = sources_api.PINGSOURCE.resource


class Runnable(Protocol):
    """What :mod:`kawa.runtime` runs: a name (for logs and task names) and ``run()``."""

    @property
    def name(self) -> str: ...

    async def run(self) -> None: ...


def ping_sources(
    store: ResourceStore,
    dispatcher: Dispatcher,
    *,
    data_dir: Path,
    clock: Clock = system_clock,
) -> list[Runnable]:
    """The PingSource controller and the ping scheduler, ready to ``run()``.

    ``dispatcher`` is the process's open :class:`Dispatcher`; ``clock`` stamps conditions and
    drives the schedule (tests of the tick arithmetic pass a fixed one).
    """
    scheduler = PingScheduler(
        store, SinkSender(dispatcher), TickStore(store, data_dir), clock=clock
    )
    recorder = source_recorder(store, sources_api.PINGSOURCE, clock)
    reconciler = PingSourceReconciler(store, scheduler, clock, recorder)
    controller = source_controller(sources_api.PINGSOURCE, reconciler)

    def delivery_changed(namespace: str, name: str) -> None:
        controller.enqueue(PINGSOURCES, namespace, name)

    scheduler.deliveries.on_change = delivery_changed
    return [controller, scheduler]
