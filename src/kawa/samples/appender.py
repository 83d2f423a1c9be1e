"""Knative's ``appender`` sample (``knative.dev/eventing/cmd/appender``), as kawa runs it.

A CloudEvents receiver on ``$PORT`` (default 8080) that decorates every event it receives and
replies with it, which is how the steps of Knative's Sequence and Parallel examples transform
events. The event's data is read as JSON into ``{"id": <integer>, "message": <string>}`` (Go's
rules: keys matched exactly, else ignoring case; other keys dropped; a missing field is
``0``/``""``; no data is an empty payload); ``$MESSAGE`` (default ``boring default msg, change
me with env[MESSAGE]``) is appended to ``message``. The reply (``200``, binary mode) is the
received event with the same ``id``, ``source`` and extensions, the new data as
``application/json`` (``{"id":N,"message":"..."}``) and, when ``$TYPE`` is set, that
``type``. Data that is not JSON (another ``datacontenttype``, invalid JSON, a non-integer
``id``, a non-string ``message``, not an object) gets ``400`` with the reason; so does a
request that is not a CloudEvent. Each event is logged to stderr, before and after.

Run as ``python -m kawa.samples.appender`` (the catalog's program for the appender images).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from kawa.cloudevents import http as ce_http
from kawa.cloudevents.event import CloudEvent
from kawa.cloudevents.jsonformat import is_json_media_type
from kawa.errors import ValidationError
from kawa.samples.common import listen_port, log, serve_forever

DEFAULT_MESSAGE: Final = "boring default msg, change me with env[MESSAGE]"
JSON: Final = "application/json"
_INT64: Final = (-(2**63), 2**63 - 1)
_GO_ESCAPES: Final = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


class DataError(ValueError):
    """The event's data cannot be read as the appender's payload."""


@dataclass(slots=True)
class Payload:
    """The data the appender understands: ``{"id": int, "message": str}``."""

    id: int = 0
    message: str = ""

    def to_json(self) -> bytes:
        """Compact JSON, escaped as Go's ``encoding/json`` escapes (``<``, ``>``, ``&``)."""
        text = json.dumps(
            {"id": self.id, "message": self.message}, separators=(",", ":"), ensure_ascii=False
        )
        for char, escaped in _GO_ESCAPES.items():
            text = text.replace(char, escaped)
        return text.encode("utf-8", "replace")

    def show(self) -> str:
        """Go's ``%+v`` of the payload struct."""
        return f"&{{Sequence:{self.id} Message:{self.message}}}"


def _field(obj: dict[str, Any], name: str) -> Any:
    """The value Go's decoder stores in field ``name``: an exact key, else any case."""
    if name in obj:
        return obj[name]
    found: Any = None
    for key, value in obj.items():
        if key.lower() == name:
            found = value
    return found


def decode_payload(event: CloudEvent) -> Payload:
    """The payload of ``event``'s data; raises :class:`DataError` when it has none."""
    data = event.data
    if not data:
        return Payload()
    media = event.datacontenttype
    if media is not None and not is_json_media_type(media):
        raise DataError(f"cannot read data of type {media!r} as JSON")
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise DataError(f"invalid JSON: {err}") from None
    if obj is None:
        return Payload()
    if not isinstance(obj, dict):
        raise DataError(f"cannot unmarshal {type(obj).__name__} into an object with id, message")
    payload = Payload()
    id_ = _field(obj, "id")
    if id_ is not None:
        if isinstance(id_, bool) or not isinstance(id_, int):
            raise DataError(f"id must be an integer, not {json.dumps(id_)}")
        if not _INT64[0] <= id_ <= _INT64[1]:
            raise DataError(f"id {id_} overflows a 64-bit integer")
        payload.id = id_
    message = _field(obj, "message")
    if message is not None:
        if not isinstance(message, str):
            raise DataError(f"message must be a string, not {json.dumps(message)}")
        payload.message = message
    return payload


@dataclass(frozen=True, slots=True)
class Appender:
    """Appends ``message`` to each event's ``message``; ``type_`` (if set) is the reply type."""

    message: str = DEFAULT_MESSAGE
    type_: str = ""

    @classmethod
    def from_env(cls) -> Appender:
        return cls(os.environ.get("MESSAGE", DEFAULT_MESSAGE), os.environ.get("TYPE", ""))

    def transform(self, event: CloudEvent) -> CloudEvent:
        """The reply to ``event``; raises :class:`DataError` when its data is not readable."""
        payload = decode_payload(event)
        log("Received a new event: ")
        log(f"[{_time(event)}] {event.source} {event.type}: {payload.show()}")
        payload.message += self.message
        changes: dict[str, str] = {"datacontenttype": JSON}
        if self.type_:
            changes["type"] = self.type_
        reply = CloudEvent({**event.attributes, **changes}, payload.to_json())
        log("Transform the event to: ")
        log(f"[{_time(reply)}] {reply.source} {reply.type}: {payload.show()}")
        return reply

    async def handle(self, request: web.Request) -> web.Response:
        if request.method != "POST":
            return web.Response(status=405, headers={"Allow": "POST"})
        body = await request.read()
        try:
            event = ce_http.from_http(request.headers, body)
        except ValidationError as err:
            log(f"rejected a request that is not a CloudEvent: {err}")
            return web.Response(status=400, text=f"not a CloudEvent: {err}\n")
        try:
            reply = self.transform(event)
        except DataError as err:
            log(f"Got error while unmarshalling data: {err}")
            return web.Response(status=400, text=f"got error while unmarshalling data: {err}\n")
        headers, data = ce_http.to_binary(reply)
        return web.Response(status=200, body=data, headers=headers)


def _time(event: CloudEvent) -> str:
    value = event.get("time")
    return "0001-01-01 00:00:00 +0000 UTC" if value is None else str(value)


def make_app(appender: Appender) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", appender.handle)
    return app


def main() -> None:
    """``python -m kawa.samples.appender``: listen on ``$PORT`` until SIGTERM."""
    appender = Appender.from_env()
    port, message = listen_port("appender"), json.dumps(appender.message)
    log(f"listening on {port}, appending {message} to events")
    serve_forever(make_app(appender), "appender")


if __name__ == "__main__":
    main()
