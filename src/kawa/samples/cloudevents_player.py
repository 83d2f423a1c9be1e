"""The getting-started ``cloudevents-player`` (``quay.io/ruben/cloudevents-player``), as kawa
runs it.

Knative's getting-started tutorial uses it as both a source and a sink: a web page on
``$PORT`` (default 8080) whose form sends CloudEvents to a broker, and a receiver that lists
the events a Trigger delivers to it. Endpoints (as upstream's):

* ``GET /``: the page (the form and the activity list; without JavaScript the form still
  posts and the list is rendered on the server);
* ``POST /``: receive a CloudEvent (binary, structured or batched mode): recorded as
  ``RECEIVED``, answered ``202``; not a CloudEvent: ``400``;
* ``GET /messages?page=0&size=10``: the recorded events, newest first, as JSON;
* ``POST /messages``: send the CloudEvent in the request (binary or structured mode; the same
  mode is used towards the broker) or the page's form fields (``id``, ``type``, ``source``,
  ``specversion``, ``subject``, ``message``); recorded as ``SENT`` or, when the broker does
  not accept it, ``FAILED``; answered ``202`` (a form gets ``303`` back to the page);
* ``DELETE /messages``: forget every recorded event.

Where events go, first found: ``$BROKER_URL`` or ``$BROKER_URI``, ``$K_SINK`` (the tutorial's
SinkBinding sets it), ``$PLAYER_MODE=LOCAL`` (to itself). Without any, sending is recorded
as ``FAILED`` with the reason in the log. The last 200 events are kept, in memory.

Run as ``python -m kawa.samples.cloudevents_player``.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

import aiohttp
from aiohttp import web

from kawa.cloudevents import http as ce_http
from kawa.cloudevents import validation
from kawa.cloudevents.event import AttributeValue, CloudEvent
from kawa.cloudevents.jsonformat import attribute_json, is_json_media_type
from kawa.errors import ValidationError
from kawa.samples import player_page
from kawa.samples.common import listen_host, listen_port, log, serve_forever

MAX_MESSAGES: Final = 200
DEFAULT_PAGE_SIZE: Final = 10
SEND_TIMEOUT: Final = 30.0
FORM: Final = "application/x-www-form-urlencoded"

Kind = Literal["SENT", "RECEIVED", "FAILED"]


def sink_from_env(env: Mapping[str, str], port: int) -> str:
    """Where the player sends events ("" when nothing says)."""
    for name in ("BROKER_URL", "BROKER_URI", "K_SINK"):
        if env.get(name):
            return env[name]
    if env.get("PLAYER_MODE", "").upper() == "LOCAL":
        return f"http://{listen_host(env)}:{port}/"
    return ""


def _data_json(event: CloudEvent) -> Any:
    data = event.data
    if data is None:
        return None
    if is_json_media_type(event.datacontenttype):
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True, slots=True)
class Message:
    """One recorded event: what happened to it, and when."""

    event: CloudEvent
    kind: Kind
    at: datetime

    def to_json(self) -> dict[str, Any]:
        event = self.event
        attributes = {
            k: attribute_json(v) for k, v in event.attributes.items() if k not in event.extensions()
        }
        extensions = {k: attribute_json(v) for k, v in event.extensions().items()}
        data = _data_json(event)
        return {
            "id": event.id,
            "receivedAt": self.at.isoformat(),
            "type": self.kind,
            "eventType": event.type,
            "source": event.source,
            "subject": event.get("subject"),
            "specversion": event.specversion,
            "extensions": extensions,
            "data": data,
            "event": {"attributes": attributes, "data": data, "extensions": extensions},
        }


@dataclass(slots=True)
class Player:
    """The player's state: its sink and the events it has sent and received."""

    sink: str = ""
    messages: deque[Message] = field(default_factory=lambda: deque(maxlen=MAX_MESSAGES))
    session: aiohttp.ClientSession | None = None

    def record(self, event: CloudEvent, kind: Kind) -> None:
        self.messages.append(Message(event, kind, datetime.now(UTC)))

    def page(self, page: int, size: int) -> list[dict[str, Any]]:
        newest = list(reversed(self.messages))
        return [m.to_json() for m in newest[page * size : page * size + size]]

    async def send(self, event: CloudEvent, structured: bool) -> Kind:
        """Send ``event`` to the sink; SENT when it answers 2xx, else FAILED (logged)."""
        kind: Kind = "FAILED"
        if not self.sink:
            log("Unable to send cloudEvent: no broker; set BROKER_URL, or bind a sink (K_SINK)")
        else:
            headers, body = (ce_http.to_structured if structured else ce_http.to_binary)(event)
            session = self.session
            assert session is not None, "the player's client session is not open"
            try:
                async with session.post(self.sink, data=body, headers=headers) as resp:
                    await resp.read()
                    if resp.status < 400:
                        kind = "SENT"
                    else:
                        log(f"Unable to send cloudEvent. StatusCode: {resp.status}")
            except (aiohttp.ClientError, TimeoutError, OSError) as err:
                log(f"Unable to send cloudEvent to {self.sink}: {type(err).__name__}: {err}")
        self.record(event, kind)
        return kind


def event_from_form(form: dict[str, str]) -> CloudEvent:
    """The CloudEvent of the page's form; raises :class:`ValidationError` when invalid."""
    attributes: dict[str, AttributeValue] = {
        "specversion": form.get("specversion") or "1.0",
        "id": form.get("id") or str(uuid.uuid4()),
        "source": form.get("source", ""),
        "type": form.get("type", ""),
    }
    if form.get("subject"):
        attributes["subject"] = form["subject"]
    message = form.get("message", "")
    data: bytes | None = None
    if message:
        data = message.encode("utf-8")
        try:
            json.loads(message)
        except ValueError:
            attributes["datacontenttype"] = "text/plain"
        else:
            attributes["datacontenttype"] = "application/json"
    validation.check(attributes)
    return CloudEvent(attributes, data)


def _is_form(request: web.Request) -> bool:
    return request.content_type in (FORM, "multipart/form-data")


def _paging(request: web.Request) -> tuple[int, int]:
    try:
        page = int(request.query.get("page", "0"))
        size = int(request.query.get("size", str(DEFAULT_PAGE_SIZE)))
    except ValueError:
        raise web.HTTPBadRequest(text="page and size must be integers\n") from None
    if page < 0 or size < 0:
        raise web.HTTPBadRequest(text="page and size must not be negative\n")
    return page, size


class Handlers:
    def __init__(self, player: Player) -> None:
        self.player = player

    async def index(self, request: web.Request) -> web.Response:
        html = player_page.render(self.player.sink, self.player.page(0, MAX_MESSAGES))
        return web.Response(text=html, content_type="text/html")

    async def receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            events = ce_http.from_http_batch(request.headers, body)
        except ValidationError as err:
            return web.Response(status=400, text=f"not a CloudEvent: {err}\n")
        for event in events:
            self.player.record(event, "RECEIVED")
        return web.Response(status=202)

    async def list_messages(self, request: web.Request) -> web.Response:
        page, size = _paging(request)
        return web.json_response(self.player.page(page, size))

    async def send(self, request: web.Request) -> web.Response:
        form = _is_form(request)
        try:
            if form:
                fields = {k: str(v) for k, v in (await request.post()).items()}
                event, structured = event_from_form(fields), fields.get("mode") == "structured"
            else:
                body = await request.read()
                event = ce_http.from_http(request.headers, body)
                structured = request.content_type == ce_http.STRUCTURED_JSON
        except ValidationError as err:
            return web.Response(status=400, text=f"not a valid CloudEvent: {err}\n")
        await self.player.send(event, structured)
        if form:
            raise web.HTTPSeeOther("./")  # relative: the page also lives under a path prefix
        return web.Response(status=202)

    async def clear(self, request: web.Request) -> web.Response:
        self.player.messages.clear()
        return web.Response(status=202)


def make_app(player: Player) -> web.Application:
    """The player's web app; it opens its client session on startup and closes it on cleanup."""
    handlers = Handlers(player)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_get("/", handlers.index)
    app.router.add_post("/", handlers.receive)
    app.router.add_get("/messages", handlers.list_messages)
    app.router.add_post("/messages", handlers.send)
    app.router.add_delete("/messages", handlers.clear)

    async def session(app: web.Application) -> Any:
        timeout = aiohttp.ClientTimeout(total=SEND_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as client:
            player.session = client
            yield
            player.session = None

    app.cleanup_ctx.append(session)
    return app


def main() -> None:
    """``python -m kawa.samples.cloudevents_player``: serve on ``$PORT`` until SIGTERM."""
    port = listen_port("cloudevents-player")
    player = Player(sink_from_env(os.environ, port))
    log(f"Broker endpoint: {player.sink or '(none: set BROKER_URL or K_SINK)'}")
    serve_forever(make_app(player), "cloudevents-player")


if __name__ == "__main__":
    main()
