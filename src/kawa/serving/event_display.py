"""The built-in event-display: a sink that prints every CloudEvent it receives.

Equivalent of Knative's ``event_display`` image (and the program the seed tutorial builds):
each event is printed to stdout in the current Knative format
(:func:`kawa.cloudevents.display.format_event`) and answered with 202. A request that is not
a valid CloudEvent gets 400 with the reason, and the reason is printed to stderr.

Run by ``kawa event-display --port PORT``.
"""

from __future__ import annotations

import sys
from typing import TextIO

from aiohttp import web

from kawa.cloudevents import display
from kawa.cloudevents import http as ce_http
from kawa.errors import ValidationError


class EventDisplay:
    """aiohttp handlers; ``out`` is where events are printed (stdout by default)."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self._out = out if out is not None else sys.stdout
        self._err = err if err is not None else sys.stderr
        self.received = 0

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.add_routes([web.post("/{tail:.*}", self.receive), web.get("/healthz", self.health)])
        return app

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            events = ce_http.from_http_batch(request.headers, body)
        except ValidationError as err:
            print(f"event-display: rejected a request: {err}", file=self._err, flush=True)
            return web.json_response({"error": str(err)}, status=400)
        for event in events:
            self.received += 1
            self._out.write(display.format_event(event))
            self._out.flush()
        return web.Response(status=202)
