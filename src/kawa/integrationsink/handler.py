"""The log sink's endpoint: ``POST /integrationsinks/{namespace}/{name}`` on the data-plane port.

Each request carries one CloudEvent (binary or structured mode; a batch is refused with 400).
The sink logs it (:func:`~kawa.integrationsink.logline.format_line`) through Python logging,
under the logger ``kawa.integrationsink.<namespace>.<name>`` at the sink's ``spec.log.level``
(TRACE as DEBUG, WARN as WARNING; OFF logs nothing), the line starting with ``[<loggerName>]``,
keeps the last :data:`LINES_KEPT` lines per sink (:class:`SinkLines`, whatever kawa's own
``--log-level``), and answers 204.

Other answers, each a JSON body ``{"error": ..., "reason": ...}``: 404 for an unknown sink,
400 for a request that is no CloudEvent, 413 above the size limit, 501 for an AWS sink
(``AWSNotSupported``: kawa does not run AWS connectors). With authentication-oidc the sender
is checked as at broker ingress (401, 403).
"""

from __future__ import annotations

import collections
import logging
from typing import Final

from aiohttp import web

from kawa.apis.integration.integrationsink import normal_level
from kawa.dispatch import endpoint
from kawa.dispatch.ingress import Authorize
from kawa.integrationsink.live import LiveSinks
from kawa.integrationsink.logline import format_line

ROUTE: Final = "/integrationsinks/{namespace}/{name}"
LOGGER_PREFIX: Final = "kawa.integrationsink"
LINES_KEPT: Final = 100
"""Logged lines kept per sink (the oldest go first)."""
_LEVELS: Final = {
    "TRACE": logging.DEBUG,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "ERROR": logging.ERROR,
}


class SinkLines:
    """The last :data:`LINES_KEPT` lines logged per sink, in memory."""

    def __init__(self) -> None:
        self._lines: dict[tuple[str, str], collections.deque[str]] = {}

    def add(self, namespace: str, name: str, line: str) -> None:
        kept = self._lines.get((namespace, name))
        if kept is None:
            kept = self._lines[(namespace, name)] = collections.deque(maxlen=LINES_KEPT)
        kept.append(line)

    def of(self, namespace: str, name: str) -> list[str]:
        """The lines sink ``namespace/name`` logged, oldest first."""
        return list(self._lines.get((namespace, name), ()))

    def drop(self, namespace: str, name: str) -> None:
        """The sink is gone: its lines go."""
        self._lines.pop((namespace, name), None)


class LogSinkHandler:
    """The endpoint's aiohttp handlers over :class:`LiveSinks`."""

    def __init__(
        self,
        sinks: LiveSinks,
        lines: SinkLines,
        *,
        max_event_size: int,
        authorize: Authorize | None = None,
    ) -> None:
        self._sinks = sinks
        self._lines = lines
        self._max = max_event_size
        self._authorize = authorize

    def routes(self) -> list[web.RouteDef]:
        return endpoint.post_routes(ROUTE, self.post)

    async def post(self, request: web.Request) -> web.Response:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        found = self._sinks.get(namespace, name)
        if found is None:
            return endpoint.problem(
                404, f"IntegrationSink {namespace}/{name} does not exist", "NotFound"
            )
        event = await endpoint.read_event(request, self._max, "an IntegrationSink")
        if isinstance(event, web.Response):
            return event
        refused = await endpoint.check_sender(self._authorize, namespace, name, request, event)
        if refused is not None:
            return refused
        if found.log is None:
            return endpoint.problem(
                501, f"IntegrationSink {namespace}/{name}: {found.refused}", "AWSNotSupported"
            )
        level = normal_level(found.log.level)
        if level != "OFF":
            line = format_line(found.log, dict(request.headers), event.data)
            logger = logging.getLogger(f"{LOGGER_PREFIX}.{namespace}.{name}")
            logger.log(_LEVELS.get(level, logging.INFO), "[%s] %s", found.log.logger_name, line)
            self._lines.add(namespace, name, line)
        return web.Response(status=204)
