"""``GET .../namespaces/<ns>/brokers/<name>/trace?id=ID[&source=S]``: what happened to an event.

The broker's stream is searched for the events with that ``id`` (and ``source``, when
given; a reply may keep the id of the event it answers, so there may be several), then its
lineage stream (:mod:`kawa.dispatch.lineage`) for their notes, which are put in time order.
A trigger's "not matched" is explained here, not on the delivery path: the stored event is
run through :func:`kawa.filters.explain.explain_trigger` with the trigger's filters as they
are now, and the answer says when those changed since the decision (``filtersChanged``) or
the trigger is gone. Both streams are read from the event log, so any process sharing the
log answers: a scan of what the log retains (a diagnostic, not a hot path).

The answer (JSON)::

    {"broker": {"namespace", "name", "lineage": true|false},
     "events": [{"seq", "event": {"id", "source", "type"}, "appendedAt",
                 "timeline": [{"at", "what", ...}, ...]}]}

``what`` is ``accepted`` (``by``, ``replyOf``), ``filter`` (``trigger``, ``matched``,
``rejection`` or ``explained: false`` with ``note``), ``attempt`` (``stage``, ``destination``,
``attempt``, ``status``, ``seconds``, ``error``), ``delivered``, ``dead-lettered``,
``dropped``, ``kept`` (``error``) or ``reply`` (``replyId``, ``dropped``); ``at`` is an
RFC 3339 time. No event with that id in the log (never accepted, or trimmed after the
retention, its lineage with it) is ``404``. A subresource of the Broker as ``why`` is
(``get`` on ``brokers/trace``); registered by :mod:`kawa.runtime`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from aiohttp import web

from kawa.apis import eventing
from kawa.apis.registry import BROKER, TRIGGER
from kawa.apiserver.requests import Target
from kawa.apiserver.responses import json_response
from kawa.broker.dataplane import broker_stream, filter_spec
from kawa.cloudevents import CloudEvent
from kawa.dispatch import envelope, lineage
from kawa.errors import KawaError, MethodNotAllowedError, NotFoundError, ValidationError
from kawa.eventlog.base import EventLog
from kawa.filters.explain import explain_trigger
from kawa.store.base import Obj, ResourceKey, ResourceStore

SUBRESOURCE: Final = "trace"
READ_BATCH: Final = 512


class Trace:
    """The ``trace`` subresource of Brokers, over the resource store and the event log."""

    def __init__(self, store: ResourceStore, event_log: EventLog) -> None:
        self._store = store
        self._log = event_log

    async def serve(self, request: web.Request, target: Target) -> web.StreamResponse:
        event_id, source = asked(request, BROKER.plural)
        namespace, name = target.namespace or "", target.name or ""
        broker = await self._store.get(ResourceKey(BROKER.resource, namespace, name))
        listed = await self._store.list(TRIGGER.resource, namespace)
        return json_response(await self.trace(broker, listed.items, event_id, source))

    async def trace(
        self, broker: Obj, triggers: Sequence[Obj], event_id: str, source: str | None
    ) -> dict[str, Any]:
        meta = broker.get("metadata") or {}
        stream = broker_stream(str(meta.get("uid", "")))
        found = await find_events(self._log, stream, event_id, source)
        where = f"broker {meta.get('namespace', '')}/{meta.get('name', '')}"
        if not found:
            raise not_found(event_id, source, where)
        notes = await find_notes(self._log, stream, {seq for seq, _, _ in found})
        by_uid = {str((t.get("metadata") or {}).get("uid", "")): t for t in triggers}
        return {
            "broker": {
                "namespace": meta.get("namespace", ""),
                "name": meta.get("name", ""),
                "lineage": lineage.enabled(meta.get("annotations")),
            },
            "events": [
                timeline(seq, appended_at, event, notes.get(seq, []), by_uid)
                for seq, appended_at, event in found
            ],
        }


def asked(request: web.Request, plural: str) -> tuple[str, str | None]:
    """The ``id`` and ``source`` a trace request asks for (405: not a GET; 422: no id)."""
    if request.method != "GET":
        raise MethodNotAllowedError(
            f"{request.method} is not allowed on {plural}/{SUBRESOURCE}: GET ?id=ID"
        )
    event_id = request.query.get("id", "")
    if not event_id:
        raise ValidationError.single("id", "the id of the event to trace is required")
    return event_id, request.query.get("source") or None


async def find_events(
    event_log: EventLog, stream: str, event_id: str, source: str | None
) -> list[tuple[int, float, CloudEvent]]:
    """The records of ``stream`` holding an event with ``event_id`` (and ``source``): seq,
    append time and event (a scan of what the log retains)."""
    found = []
    after = 0
    while records := await event_log.read(stream, after, READ_BATCH):
        for record in records:
            try:
                event, _ = envelope.unwrap(record.payload)
            except (KawaError, ValueError):
                continue
            if event.id == event_id and (source is None or event.source == source):
                found.append((record.seq, record.appended_at, event))
        after = records[-1].seq
    return found


async def find_notes(
    event_log: EventLog, stream: str, seqs: set[int]
) -> dict[int, list[dict[str, Any]]]:
    """The lineage notes of the events at ``seqs`` of ``stream``, by seq."""
    notes: dict[int, list[dict[str, Any]]] = {}
    after = 0
    lineage_of = lineage.lineage_stream(stream)
    while records := await event_log.read(lineage_of, after, READ_BATCH):
        for record in records:
            for note in lineage.decode(record.payload):
                if note["seq"] in seqs:
                    notes.setdefault(note["seq"], []).append(note)
        after = records[-1].seq
    return notes


def not_found(event_id: str, source: str | None, where: str) -> NotFoundError:
    what = f"id {event_id!r}" + ("" if source is None else f" and source {source!r}")
    return NotFoundError(
        f"no event with {what} in the log of {where} (never accepted, or trimmed after"
        " the log's retention, its lineage with it; a Broker or InMemoryChannel annotated"
        " kawa.dev/retention keeps its events longer)"
    )


def timeline(
    seq: int,
    appended_at: float,
    event: CloudEvent,
    notes: list[dict[str, Any]],
    triggers: Mapping[str, Obj],
) -> dict[str, Any]:
    """One event's answer: its notes in time order, each "not matched" explained."""
    steps = []
    for note in sorted(notes, key=lambda n: (n["at"], n["what"] != "accepted")):
        step = {k: v for k, v in note.items() if k != "seq" and v is not None}
        step["at"] = _time(note["at"])
        if note["what"] == "filter":
            step.pop("fingerprint", None)
            step.pop("uid", None)
            if not note["matched"]:
                step |= _why_not(note, event, triggers.get(note["uid"]))
        steps.append(step)
    return {
        "seq": seq,
        "event": {"id": event.id, "source": event.source, "type": event.type},
        "appendedAt": _time(appended_at),
        "timeline": steps,
    }


def _why_not(note: Mapping[str, Any], event: CloudEvent, obj: Obj | None) -> dict[str, Any]:
    if obj is None:
        return {"explained": False, "note": "the trigger is gone: its filters are unknown"}
    try:
        trigger = eventing.parse_trigger(obj)
    except KawaError as err:  # stored objects passed admission: not expected
        return {"explained": False, "note": f"the trigger cannot be read: {err}"}
    explained = explain_trigger(trigger, event)
    out: dict[str, Any] = {}
    if lineage.fingerprint(filter_spec(obj)) != note["fingerprint"]:
        out["filtersChanged"] = True
        out["note"] = "the trigger's filters changed since: explained with its filters now"
    if explained.rejection is not None:
        out["rejection"] = explained.rejection.to_json()
    elif "note" not in out:
        out["note"] = "its filters match the event now"
    return out


def _time(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
