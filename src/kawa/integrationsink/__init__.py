"""The IntegrationSink data plane: kawa runs every log IntegrationSink itself, in process.

Knative runs each IntegrationSink as a Deployment of an Apache Camel Kamelet; kawa serves the
log sinks on its data-plane port at ``/integrationsinks/<namespace>/<name>`` (the address the
reconciler, :mod:`kawa.controllers.integrationsink`, publishes): :mod:`.live` keeps every sink
from an informer; :mod:`.handler` logs each event (:mod:`.logline` formats it) and keeps the
last lines per sink. :class:`IntegrationSinkPlane` puts them together for :mod:`kawa.runtime`.
"""

from __future__ import annotations

from aiohttp import web

from kawa.dispatch.ingress import Authorize
from kawa.integrationsink.handler import LINES_KEPT, LOGGER_PREFIX, ROUTE, LogSinkHandler, SinkLines
from kawa.integrationsink.live import LiveSinks, RunningSink
from kawa.integrationsink.logline import format_line
from kawa.store.base import ResourceStore

__all__ = [
    "LINES_KEPT",
    "LOGGER_PREFIX",
    "ROUTE",
    "IntegrationSinkPlane",
    "LiveSinks",
    "LogSinkHandler",
    "RunningSink",
    "SinkLines",
    "format_line",
]


class IntegrationSinkPlane:
    """Every IntegrationSink, served: :meth:`routes` go into kawa's data-plane application,
    :meth:`run` follows the IntegrationSinks until cancelled, :meth:`lines` are what a sink
    logged lately."""

    def __init__(self, store: ResourceStore, *, max_event_size: int) -> None:
        self.kept = SinkLines()
        self.sinks = LiveSinks(store, on_gone=self.kept.drop)
        self._max = max_event_size

    def policies_of(self, namespace: str, name: str) -> tuple[str, ...]:
        """The EventPolicies that apply to sink ``namespace/name``."""
        return self.sinks.policies_of(namespace, name)

    def lines(self, namespace: str, name: str) -> list[str]:
        """The last lines sink ``namespace/name`` logged, oldest first."""
        return self.kept.of(namespace, name)

    def routes(self, authorize: Authorize | None = None) -> list[web.RouteDef]:
        handler = LogSinkHandler(
            self.sinks, self.kept, max_event_size=self._max, authorize=authorize
        )
        return handler.routes()

    async def run(self) -> None:
        await self.sinks.run()
