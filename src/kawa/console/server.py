"""The console's routes on kawa's HTTP application.

- ``GET /console/`` and ``/console/static/<file>``: the page, its script modules and style
  (package data beside this module; ES modules the browser loads itself, no build step).
  They hold no data, so they are served without a token
  (:data:`kawa.apiserver.access.PUBLIC_PATHS`), and only over TLS: on the plain-HTTP port they
  answer 404 with a pointer to the HTTPS port, so a browser never learns to send the
  token in clear. The page asks for the token (or takes it from the URL's ``#token=``
  fragment, which never reaches a server) and sends it as ``Authorization: Bearer`` with
  every API request it makes; without a valid one it shows only its login form.
- ``GET /console/events/namespaces/<ns>/brokers/<name>?type=&source=&cesql=``: the broker's
  events from now on, as subscribers get them, as server-sent events
  (:mod:`kawa.console.live`), behind the API's token like every path outside the public
  ones. It reads the broker's stream as consumers do (:meth:`kawa.eventlog.base.EventLog.read`
  and ``wait`` after the last seq at connect) without a cursor, so it acks nothing and moves
  no trigger's position; it follows the stream the broker had when the request came (a
  re-created broker is a new stream). ``.../inmemorychannels/<name>`` and
  ``.../channels/<name>`` are the same for a channel's events (a Channel's are those of its
  backing InMemoryChannel, ``status.channel``).
- ``GET /console/numbers/namespaces/<ns>/triggers/<name>``: a Trigger's numbers as JSON, from
  its consumer in the process that answers (behind the token): the counts since that consumer
  started (``matched``, ``filteredOut``, ``delivered``, ``failed`` (deliveries whose every
  attempt failed), ``retries`` (attempts after the first), ``deadLettered``, ``dropped``,
  ``replies``, ``lastError``), their ``rates`` (``perSecond`` of each count over the last
  ``windowSeconds``, a minute or since the consumer started: :mod:`kawa.dispatch.rates`), its
  ``backlog`` and ``oldestUndeliveredSeconds`` (measured now, as the metrics' gauges are:
  :mod:`kawa.dispatch.backlog`). A Trigger whose consumer runs elsewhere (another worker or
  node) or not at all is ``"running": false``; no such Trigger is a 404.
  ``.../subscriptions/<name>`` is the same for a Subscription's subscriber (its ``channel``
  instead of the ``broker``).
- ``GET /console/deadletters/namespaces/<ns>/brokers/<name>?trigger=&limit=``: the events the
  broker's triggers (or one trigger) dead-lettered recently, newest first, as JSON (behind
  the token): found in the latest :data:`kawa.console.deadletters.SCAN_RECORDS` records of
  the broker's lineage stream, ``limit`` (default 50, at most 200) of them, each with the
  event's ``id``, ``source`` and ``type`` when the log still holds it
  (:mod:`kawa.console.deadletters`), and the entries of the broker's dead-letter store
  (:mod:`kawa.dispatch.deadletter_store`: events given up without a dead-letter sink; each
  with ``store``, its id there, for ``kawa deadletters``). A broker whose lineage is off lists
  only the latter.

Installed by :mod:`kawa.runtime`.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import logging
import time
from collections.abc import Callable
from typing import Any, Final

from aiohttp import web

from kawa.apis.messaging import CHANNEL, INMEMORYCHANNEL, SUBSCRIPTION
from kawa.apis.registry import BROKER, TRIGGER
from kawa.apiserver import status
from kawa.apiserver.access import CONSOLE_FILES
from kawa.apiserver.responses import json_response
from kawa.broker import ttl
from kawa.broker.dataplane import broker_stream
from kawa.broker.envelope import unwrap
from kawa.channels.dataplane import channel_stream
from kawa.console import deadletters, live
from kawa.dispatch import lineage
from kawa.dispatch.backlog import behind
from kawa.dispatch.consumer import Consumer
from kawa.dispatch.deadletter_store import DeadLetterStore
from kawa.dispatch.deadletters import Query
from kawa.errors import KawaError, NotFoundError, ValidationError
from kawa.eventlog.base import EventLog
from kawa.store.base import ResourceKey, ResourceStore

log = logging.getLogger(__name__)

PREFIX: Final = "/console/"
STATIC: Final = {"index.html": "text/html"} | {
    name: "text/css" if name.endswith(".css") else "text/javascript" for name in CONSOLE_FILES
}
"""The files the console serves, with their content types."""
SECURITY_HEADERS: Final = {
    # only kawa's own script and style, no inline code, no frames around it
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
KEEP_ALIVE: Final = 15.0
"""Seconds between comments on an idle event stream (proxies and browsers keep it open)."""
BATCH: Final = 100
"""Records read from the log at a time."""
LIVE_KINDS: Final = {"brokers": "broker", "channels": "channel", "inmemorychannels": "channel"}
"""What the live-events endpoint follows: a broker's or a channel's stream."""


def _static(name: str) -> bytes:
    return importlib.resources.files("kawa.console").joinpath("static", name).read_bytes()


class Console:
    """Serves the console's files and its live-events endpoint."""

    def __init__(
        self,
        store: ResourceStore,
        event_log: EventLog,
        trigger_consumer: Callable[[str, str], Consumer | None] = lambda namespace, name: None,
        subscription_consumer: Callable[[str, str], Consumer | None] = lambda namespace, uid: None,
        dead_letters: DeadLetterStore | None = None,
    ) -> None:
        self._store = store
        self._dead_letters = (
            dead_letters if dead_letters is not None else DeadLetterStore(event_log)
        )
        """The brokers' dead-letter stores (the data plane's)."""
        self._log = event_log
        self._trigger_consumer = trigger_consumer
        """The running consumer of a trigger (namespace, name) in this process, if any."""
        self._subscription_consumer = subscription_consumer
        """The same for a subscription (namespace, uid)."""
        self._streams: set[asyncio.Task[object]] = set()
        """The open event streams' handlers: ended when kawa stops (they never end alone)."""

    def install(self, app: web.Application) -> None:
        app.on_shutdown.append(self._end_streams)
        app.add_routes(
            [
                web.get("/console", self.redirect),
                web.get(PREFIX, self.page),
                web.get(PREFIX + "static/{name}", self.file),
                web.get(PREFIX + "events/namespaces/{namespace}/{plural}/{name}", self.events),
                web.get(PREFIX + "numbers/namespaces/{namespace}/{plural}/{name}", self.numbers),
                web.get(
                    PREFIX + "deadletters/namespaces/{namespace}/brokers/{name}", self.dead_letters
                ),
            ]
        )

    async def _end_streams(self, app: web.Application) -> None:
        for task in list(self._streams):
            task.cancel()

    async def redirect(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(PREFIX)

    async def page(self, request: web.Request) -> web.StreamResponse:
        return self._serve(request, "index.html")

    async def file(self, request: web.Request) -> web.StreamResponse:
        return self._serve(request, request.match_info["name"])

    def _serve(self, request: web.Request, name: str) -> web.StreamResponse:
        if not request.secure:
            return web.Response(
                status=404,
                text="kawa's console is served on its HTTPS API port (`kawa console` prints "
                "its URL)\n",
                headers={"Cache-Control": "no-store"},
            )
        content_type = STATIC.get(name)
        if content_type is None:
            return web.Response(status=404, text="not found\n")
        return web.Response(
            body=_static(name),
            content_type=content_type,
            charset="utf-8",
            headers=SECURITY_HEADERS,
        )

    async def events(self, request: web.Request) -> web.StreamResponse:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        plural = request.match_info["plural"]
        what = LIVE_KINDS.get(plural)
        if what is None:
            return web.Response(status=404, text="not found\n")
        try:
            wanted = live.event_filter(request.query)
            stream = await self._live_stream(plural, namespace, name)
        except NotFoundError:
            return status.error_response(NotFoundError(f"{what} {namespace}/{name} not found"))
        except KawaError as err:
            return status.error_response(err)
        after = await self._log.last_seq(stream)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        await response.write(live.comment(f"events of {what} {namespace}/{name} after {after}"))
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - aiohttp runs handlers in tasks
            return response
        self._streams.add(task)
        try:
            await self._follow(response, stream, after, wanted)
        finally:
            self._streams.discard(task)
        return response

    async def _live_stream(self, plural: str, namespace: str, name: str) -> str:
        """The stream of the broker or channel (NotFoundError: none, or a Channel without its
        backing InMemoryChannel yet)."""
        if plural == "brokers":
            broker = await self._store.get(ResourceKey(BROKER.resource, namespace, name))
            return broker_stream(broker["metadata"]["uid"])
        if plural == "channels":
            channel = await self._store.get(ResourceKey(CHANNEL.resource, namespace, name))
            backing = (channel.get("status") or {}).get("channel") or {}
            if backing.get("kind") != INMEMORYCHANNEL.kind or not backing.get("name"):
                raise NotFoundError(f"channel {namespace}/{name} has no InMemoryChannel yet")
            name = str(backing["name"])
        imc = await self._store.get(ResourceKey(INMEMORYCHANNEL.resource, namespace, name))
        return channel_stream(imc["metadata"]["uid"])

    async def numbers(self, request: web.Request) -> web.StreamResponse:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        plural = request.match_info["plural"]
        if plural not in (TRIGGER.plural, SUBSCRIPTION.plural):
            return web.Response(status=404, text="not found\n")
        trigger = plural == TRIGGER.plural
        resource = TRIGGER.resource if trigger else SUBSCRIPTION.resource
        try:
            obj = await self._store.get(ResourceKey(resource, namespace, name))
        except NotFoundError:
            what = "trigger" if trigger else "subscription"
            return status.error_response(NotFoundError(f"{what} {namespace}/{name} not found"))
        if trigger:
            consumer = self._trigger_consumer(namespace, name)
        else:
            consumer = self._subscription_consumer(namespace, obj["metadata"]["uid"])
        if consumer is None:
            return json_response(consumer_numbers(namespace, name, None, 0, 0.0))
        last = await self._log.last_seq(consumer.stream)
        backlog, age = await behind(self._log, consumer, last, time.time())
        return json_response(consumer_numbers(namespace, name, consumer, backlog, age))

    async def dead_letters(self, request: web.Request) -> web.StreamResponse:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        try:
            limit = _limit(request.query.get("limit"))
            broker = await self._store.get(ResourceKey(BROKER.resource, namespace, name))
        except NotFoundError:
            return status.error_response(NotFoundError(f"broker {namespace}/{name} not found"))
        except KawaError as err:
            return status.error_response(err)
        meta = broker["metadata"]
        stream = broker_stream(meta["uid"])
        notes_stream = lineage.lineage_stream(stream)
        after = max(0, await self._log.last_seq(notes_stream) - deadletters.SCAN_RECORDS)
        records = await self._log.read(notes_stream, after, deadletters.SCAN_RECORDS)
        notes = (note for record in records for note in lineage.decode(record.payload))
        trigger = request.query.get("trigger") or None
        found = deadletters.collect(notes, trigger, limit)
        for entry in found:
            entry["event"] = await self._event(stream, entry["seq"])
        kept = await self._dead_letters.entries(stream, Query(name=trigger))
        found = deadletters.merge(found, kept[-limit:], limit)
        return json_response(
            {
                "broker": {
                    "namespace": namespace,
                    "name": name,
                    "lineage": lineage.enabled(meta.get("annotations")),
                },
                "scannedFromStart": after == 0,
                "deadLettered": found,
            }
        )

    async def _event(self, stream: str, seq: int) -> dict[str, Any] | None:
        """The id, source and type of the event at ``seq``; None when trimmed."""
        records = await self._log.read(stream, seq - 1, 1)
        if not records or records[0].seq != seq:
            return None
        try:
            event = unwrap(records[0].payload)[0]
        except (KawaError, ValueError):
            return None
        return {"id": event.id, "source": event.source, "type": event.type}

    async def _follow(
        self, response: web.StreamResponse, stream: str, after: int, wanted: live.EventFilter
    ) -> None:
        while True:
            records = await self._log.read(stream, after, BATCH)
            if not records:
                if not await self._log.wait(stream, after, KEEP_ALIVE):
                    await response.write(live.comment("idle"))
                continue
            for record in records:
                after = record.seq
                try:
                    event = ttl.strip(unwrap(record.payload)[0])  # as subscribers see it
                except (KawaError, ValueError) as err:
                    log.warning("console: unreadable record %d of %s: %s", record.seq, stream, err)
                    continue
                if wanted.matches(event):
                    await response.write(live.message(record.seq, record.appended_at, event))


def consumer_numbers(
    namespace: str, name: str, consumer: Consumer | None, backlog: int, age: float
) -> dict[str, Any]:
    """The answer of the numbers endpoint (see the module docstring)."""
    out: dict[str, Any] = {"namespace": namespace, "name": name, "running": consumer is not None}
    if consumer is None:
        return out
    counts = consumer.stats
    seconds, per_second = consumer.rates.per_second()
    parent = "broker" if consumer.target.kind == "trigger" else "channel"
    return (
        out
        | {parent: consumer.target.parent}
        | counts.counts()
        | {
            "lastError": counts.last_error,
            "rates": {
                "windowSeconds": round(seconds, 3),
                "perSecond": {field: round(rate, 3) for field, rate in per_second.items()},
            },
            "backlog": backlog,
            "oldestUndeliveredSeconds": round(age, 3),
        }
    )


def _limit(given: str | None) -> int:
    if given is None or given == "":
        return deadletters.DEFAULT_LIMIT
    try:
        limit = int(given)
    except ValueError:
        limit = 0
    if not 1 <= limit <= deadletters.MAX_LIMIT:
        raise ValidationError.single(
            "limit", f"limit must be a whole number from 1 to {deadletters.MAX_LIMIT}"
        )
    return limit
