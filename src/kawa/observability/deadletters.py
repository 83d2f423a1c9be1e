"""``.../namespaces/<ns>/brokers/<name>/deadletters``: the broker's dead-letter store.

The events the broker's triggers gave up without a dead-letter sink
(:mod:`kawa.dispatch.deadletter_store`); ``.../inmemorychannels/<name>/deadletters`` is the
same for a channel's subscribers (named by their Subscription). Every method takes the same
filters: ``trigger`` (or ``subscription``: a name), ``since`` and ``until`` (unix seconds),
``status`` (the last status code; 0: no answer) and ``id`` (entry ids, comma-separated); as
query parameters, or for POST in the JSON body.

- ``GET``: the entries, oldest first (``limit``, default 500, the newest that many), each with
  its event's ``id``, ``source`` and ``type``; with ``full=true`` the whole event (the
  CloudEvents JSON format) and its forwarded ``headers`` too (``kawa deadletters show``).
- ``POST {"to": URL?, ...filters}``: redrive: each entry is sent once to its trigger's
  subscriber as that trigger sends now (:mod:`kawa.dispatch.redrive`; nothing is published
  to the broker), or to ``to``, and leaves the store once delivered; the answer lists each
  entry's ``delivered``, ``status`` and ``error``.
- ``DELETE``: purge: removes the entries the filters match, answers how many.

Any process sharing the log answers (redrive sends from the process that answers, through
its data planes' view of the trigger). Subresource verbs as for any request (``get``,
``create``, ``delete`` on ``brokers/deadletters``). Registered by
:mod:`kawa.observability.subresources`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import orjson
from aiohttp import web

from kawa.apis.messaging import INMEMORYCHANNEL, SUBSCRIPTION
from kawa.apis.registry import BROKER
from kawa.apiserver.requests import Target
from kawa.apiserver.responses import json_response
from kawa.broker.dataplane import broker_stream
from kawa.channels.dataplane import channel_stream
from kawa.cloudevents.jsonformat import to_json_obj
from kawa.delivery.sender import Dispatcher
from kawa.dispatch import deadletters, envelope
from kawa.dispatch.deadletter_store import DeadLetterStore
from kawa.dispatch.deadletters import DeadLetter, Query
from kawa.dispatch.redrive import Route, redeliver
from kawa.errors import FieldError, KawaError, MethodNotAllowedError, ValidationError
from kawa.store.base import ResourceKey, ResourceStore

SUBRESOURCE: Final = "deadletters"
DEFAULT_LIMIT: Final = 500
MAX_LIMIT: Final = 10_000

RouteOf = Callable[[DeadLetter], Route | None]
"""Where an entry's own trigger or subscriber gets events now (``None``: gone, not Ready)."""


class DeadLetters:
    """The ``deadletters`` subresource of Brokers (or of InMemoryChannels: ``channels``)."""

    def __init__(
        self,
        store: ResourceStore,
        dead_letters: DeadLetterStore,
        dispatcher: Dispatcher,
        route: RouteOf,
        *,
        channels: bool = False,
    ) -> None:
        self._store = store
        self._dead_letters = dead_letters
        self._dispatcher = dispatcher
        self._route = route
        self._channels = channels

    async def serve(self, request: web.Request, target: Target) -> web.StreamResponse:
        namespace, name = target.namespace or "", target.name or ""
        owner = INMEMORYCHANNEL if self._channels else BROKER
        obj = await self._store.get(ResourceKey(owner.resource, namespace, name))
        uid = str(obj["metadata"]["uid"])
        stream = channel_stream(uid) if self._channels else broker_stream(uid)
        names = await self._subscription_names(namespace) if self._channels else {}
        if request.method == "POST":
            params = await _body(request)
        else:
            params = dict(request.query)
        query = parse(params, names)
        head = {"kind": owner.kind, "namespace": namespace, "name": name}
        if request.method == "GET":
            limit = _limit(params.get("limit"))
            full = params.get("full") in ("true", "1")
            found = await self._dead_letters.entries(stream, query)
            shown = [_shown(entry, names, full) for entry in found[-limit:]]
            return json_response(head | {"total": len(found), "deadLetters": shown})
        if request.method == "DELETE":
            async with self._dead_letters.lock(stream):
                found = await self._dead_letters.entries(stream, query)
                await self._dead_letters.remove(stream, [entry.id for entry in found])
            return json_response(head | {"purged": len(found)})
        if request.method == "POST":
            to = _to(params.get("to"))
            return json_response(head | await self._redrive(stream, query, to, names))
        raise MethodNotAllowedError(
            f"{request.method} is not allowed on {owner.plural}/{SUBRESOURCE}: GET lists,"
            " POST redrives, DELETE purges"
        )

    async def _redrive(
        self, stream: str, query: Query, to: str | None, names: Mapping[str, str]
    ) -> dict[str, Any]:
        outcomes: list[dict[str, Any]] = []
        async with self._dead_letters.lock(stream):
            found, seen = await self._dead_letters.scan(stream, query)
            for entry in found:
                route = None if to is not None else self._route(entry)
                outcome: dict[str, Any] = {
                    "id": entry.id,
                    "name": names.get(entry.name, entry.name),
                }
                if to is None and route is None:
                    what = "subscriber" if entry.kind == "subscription" else "trigger"
                    outcome |= {
                        "delivered": False,
                        "status": None,
                        "error": f"its {what} is gone or not Ready: redrive it with a URL (to)",
                    }
                    outcomes.append(outcome)
                    continue
                try:
                    redriven = await redeliver(self._dispatcher, entry, route, to)
                except (KawaError, ValueError) as err:
                    outcome |= {"delivered": False, "status": None, "error": str(err)}
                    outcomes.append(outcome)
                    continue
                result = redriven.result
                outcome |= {
                    "delivered": result.ok,
                    "status": result.status,
                    "error": None if result.ok else (result.error or f"status {result.status}"),
                }
                if redriven.reply_error is not None:
                    outcome["replyError"] = redriven.reply_error
                if result.ok:  # delivered: it leaves the store before the next one is sent
                    await self._dead_letters.remove(stream, [entry.id], seen)
                outcomes.append(outcome)
        delivered = sum(1 for outcome in outcomes if outcome["delivered"])
        return {
            "delivered": delivered,
            "failed": len(outcomes) - delivered,
            "redriven": outcomes,
        }

    async def _subscription_names(self, namespace: str) -> dict[str, str]:
        """Subscription names by uid in ``namespace`` (a channel's entries name the uid)."""
        listed = await self._store.list(SUBSCRIPTION.resource, namespace)
        return {
            str(item["metadata"].get("uid", "")): str(item["metadata"]["name"])
            for item in listed.items
        }


def parse(params: Mapping[str, Any], names: Mapping[str, str]) -> Query:
    """The filters of a request (names: a channel's Subscription names by uid, to map a
    ``subscription`` name to the uid its entries carry)."""
    text = {key: str(value) for key, value in params.items() if value is not None}
    query = deadletters.parse_query(text)
    if names and query.name is not None:
        by_name = {name: uid for uid, name in names.items()}
        query = query.with_name(by_name.get(query.name, query.name))
    return query


def _shown(entry: DeadLetter, names: Mapping[str, str], full: bool) -> dict[str, Any]:
    out = entry.summary()
    if entry.kind == "subscription":
        out["name"] = names.get(entry.name, entry.name)
    if full:
        try:
            event, headers = entry.event()
        except (KawaError, ValueError):
            out["cloudEvent"] = None
        else:
            headers.pop(envelope.STRUCTURED_KEY, None)
            out["cloudEvent"] = to_json_obj(event)
            out["headers"] = headers
    return out


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise ValidationError.single("body", f"expected a JSON object: {err}") from None
    if not isinstance(body, dict):
        raise ValidationError.single("body", "expected a JSON object")
    if isinstance(body.get("id"), Sequence) and not isinstance(body.get("id"), str):
        body["id"] = ",".join(str(n) for n in body["id"])
    return body


def _to(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ValidationError([FieldError("to", f"expected an http(s) URL, got {value!r}")])
    return value


def _limit(given: object) -> int:
    if given is None or given == "":
        return DEFAULT_LIMIT
    try:
        limit = int(str(given))
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError.single("limit", f"expected a whole number from 1 to {MAX_LIMIT}")
    return limit
