"""PingSource in kawa: a reconciler for its status and a scheduler that sends its events.

:func:`ping_sources` builds both for :mod:`kawa.runtime`, which runs each returned object's
``run()`` in its task group until shutdown. The scheduler keeps its per-source state under
``<data_dir>/sources/ping/``. How it behaves, and the restart rule, are in
``docs/sources-ping.md``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Final, Protocol

from kawa.apis.conditions import Clock, system_clock
from kawa.delivery.sender import Dispatcher
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.loop import Controller, Watch, own_key
from kawa.sources.ping.reconciler import PingSourceReconciler
from kawa.sources.ping.scheduler import PINGSOURCES, PingScheduler
from kawa.sources.ping.state import TickStore
from kawa.sources.sink import SinkSender
from kawa.store.base import ResourceKey, ResourceStore, WatchEvent

__all__ = ["PINGSOURCES", "PingScheduler", "Runnable", "ping_sources"]

ADDRESSABLES: Final = (
    "brokers.eventing.knative.dev",
    "services.serving.knative.dev",
    "channels.messaging.knative.dev",
    "inmemorychannels.messaging.knative.dev",
)
"""Kinds a sink most often refers to: a change re-resolves the sinks of their namespace (the
controller's periodic resync covers any other kind)."""


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
        store, SinkSender(dispatcher), TickStore(data_dir / "sources" / "ping"), clock=clock
    )
    recorder = EventRecorder(store, "pingsource-controller", clock=clock)
    reconciler = PingSourceReconciler(store, scheduler, clock, recorder)

    async def own(event: WatchEvent) -> Iterable[ResourceKey]:
        return [own_key(event, PINGSOURCES)]

    async def sources_of_namespace(event: WatchEvent) -> Iterable[ResourceKey]:
        namespace = event.object["metadata"].get("namespace", "")
        listed = await store.list(PINGSOURCES, namespace)
        return [ResourceKey(PINGSOURCES, namespace, i["metadata"]["name"]) for i in listed.items]

    controller = Controller(
        "pingsource",
        store,
        reconciler.reconcile,
        [Watch(PINGSOURCES, own), *(Watch(r, sources_of_namespace) for r in ADDRESSABLES)],
    )

    def delivery_changed(namespace: str, name: str) -> None:
        controller.queue.add(ResourceKey(PINGSOURCES, namespace, name))

    scheduler.on_delivery = delivery_changed
    return [controller, scheduler]
