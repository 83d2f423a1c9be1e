"""IntegrationSource in kawa: a reconciler for its status and the timers that send its events.

:func:`integration_sources` builds both for :mod:`kawa.leader`, which runs each returned
object's ``run()`` on the elected leader only. How they behave is in
``docs/integrations.md``.
"""

from __future__ import annotations

from typing import Protocol

from kawa.apis.conditions import Clock, system_clock
from kawa.apis.integration import INTEGRATIONSOURCE
from kawa.delivery.sender import Dispatcher
from kawa.sources.controller import source_controller, source_recorder
from kawa.sources.integration.reconciler import IntegrationSourceReconciler
from kawa.sources.integration.timers import TimerSources, timer_event
from kawa.sources.sink import SinkSender
from kawa.store.base import ResourceStore

__all__ = ["Runnable", "TimerSources", "integration_sources", "timer_event"]


class Runnable(Protocol):
    """What the leader runs: a name (for logs and task names) and ``run()``."""

    @property
    def name(self) -> str: ...

    async def run(self) -> None: ...


def integration_sources(
    store: ResourceStore, dispatcher: Dispatcher, *, clock: Clock = system_clock
) -> list[Runnable]:
    """The IntegrationSource controller and the timers, ready to ``run()``; ``dispatcher``
    is the process's open :class:`Dispatcher`."""
    timers = TimerSources(store, SinkSender(dispatcher))
    recorder = source_recorder(store, INTEGRATIONSOURCE, clock)
    reconciler = IntegrationSourceReconciler(store, timers, clock, recorder)
    controller = source_controller(INTEGRATIONSOURCE, reconciler)

    def delivery_changed(namespace: str, name: str) -> None:
        controller.enqueue(INTEGRATIONSOURCE.resource, namespace, name)

    timers.deliveries.on_change = delivery_changed
    return [controller, timers]
