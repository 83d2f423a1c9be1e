"""EventType auto-creation (``eventtype-auto-create`` in ``knative-eventing/config-features``):
the event registry fills itself from the events brokers and channels take.

With the flag ``enabled``, each event a Broker or InMemoryChannel stores (from its ingress or
as a reply) makes sure an EventType (``eventing.knative.dev/v1beta3``) describes its ``type``
and ``source`` there, as Knative's ingresses do:

- named as Knative names them: ``et-<broker or channel>-<md5 of type, source, namespace,
  name>`` (made a valid object name), in the broker's or channel's namespace, owned by it
  (deleted with it);
- ``spec.reference`` is the broker or channel; ``spec.attributes`` lists ``type``,
  ``source`` and ``specversion`` with the event's values and ``id``, all required, and the
  first event's extensions (not required).

Beyond Knative, kawa infers a JSON Schema of the events' JSON ``data`` from the first
:data:`SCHEMA_SAMPLES` events of each type (:mod:`kawa.cloudevents.data_schema`, merged) and
keeps it in the annotation :data:`SCHEMA_ANNOTATION` (``kubectl describe`` and ``kawa get``
show it; the spec stays as created: it is immutable).

Never on the path of the 202: :meth:`EventTypeRecorder.seen` costs a flag check and a dict
lookup per event, queues at most ``SCHEMA_SAMPLES`` events per type (and none whose data is
larger than :data:`MAX_SAMPLE_BYTES`) in a bounded queue (full: the event is not sampled,
:attr:`EventTypeRecorder.dropped` counts it), and :meth:`EventTypeRecorder.run` writes the
EventTypes in the background. Used by :mod:`kawa.broker.dataplane` and
:mod:`kawa.channels.dataplane`; wired by :mod:`kawa.runtime`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from kawa.apis.eventing import EVENTTYPE
from kawa.apis.eventing import eventtype as eventtype_api
from kawa.cloudevents import data_schema
from kawa.cloudevents.event import CloudEvent
from kawa.errors import AlreadyExistsError, ConflictError, NotFoundError
from kawa.store.base import Obj, ResourceKey, ResourceStore

log = logging.getLogger(__name__)

SCHEMA_SAMPLES: Final = 16
"""Events of one type (per broker or channel) whose data is merged into its schema."""
MAX_SAMPLE_BYTES: Final = 64 * 1024
"""Data larger than this is not sampled for the schema."""
QUEUE_SIZE: Final = 1024
MAX_KNOWN: Final = 10_000
"""Types remembered (for all brokers and channels of the process together); past it the
oldest are forgotten."""
SCHEMA_ANNOTATION: Final = eventtype_api.DATA_SCHEMA_ANNOTATION
DESCRIPTION: Final = "Created by kawa from the events {kind} {name} took"
INTERNAL_EXTENSIONS: Final = frozenset({"knativebrokerttl"})
"""Extensions the broker itself stamps on events: not the event type's."""
_INVALID_NAME_CHARS: Final = re.compile(r"[^a-z0-9.-]+")


@dataclass(frozen=True, slots=True)
class Receiver:
    """The Broker or channel that took the events."""

    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str


@dataclass(slots=True)
class _State:
    queued: int = 0
    created: bool = False
    samples: int = 0
    schema: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class _Seen:
    key: tuple[str, str, str]
    receiver: Receiver
    event: CloudEvent
    sample: bytes | None = field(default=None)


def event_type_name(name: str, namespace: str, type_: str, source: str) -> str:
    """Knative's name of the EventType of ``type_`` from ``source`` at ``namespace/name``."""
    digest = hashlib.md5((type_ + source + namespace + name).encode(), usedforsecurity=False)
    raw = f"et-{name}-{digest.hexdigest()}".lower()
    return _INVALID_NAME_CHARS.sub("-", raw)[:253].strip("-.")


def _json_sample(event: CloudEvent) -> bytes | None:
    data = event.data
    if data is None or len(data) > MAX_SAMPLE_BYTES:
        return None
    content_type = (event.datacontenttype or "application/json").lower()
    if "json" not in content_type:
        return None
    return data


class EventTypeRecorder:
    """See the module docstring. ``enabled`` says whether the flag is on (read per call)."""

    def __init__(self, store: ResourceStore, enabled: Callable[[], bool]) -> None:
        self._store = store
        self._enabled = enabled
        self._known: dict[tuple[str, str, str], _State] = {}
        self._queue: asyncio.Queue[_Seen] = asyncio.Queue(QUEUE_SIZE)
        self.dropped = 0
        """Events not sampled because the queue was full."""

    def wanted(self) -> bool:
        """Whether :meth:`seen` wants to hear of stored events now (the flag is on): the
        ingress asks first, and makes no :class:`Receiver` per event while it is off."""
        return self._enabled()

    def seen(self, receiver: Receiver, events: Sequence[CloudEvent]) -> None:
        """``receiver`` stored ``events`` (called after the commit; never blocks)."""
        if not self._enabled():
            return
        for event in events:
            key = (receiver.uid, event.type, event.source)
            state = self._known.get(key)
            if state is None:
                if len(self._known) >= MAX_KNOWN:
                    del self._known[next(iter(self._known))]
                state = self._known[key] = _State()
            elif state.queued >= SCHEMA_SAMPLES:
                continue
            sample = _json_sample(event)
            if state.queued and sample is None:
                continue  # created already (or on its way): nothing more to learn from it
            try:
                self._queue.put_nowait(_Seen(key, receiver, event, sample))
            except asyncio.QueueFull:
                self.dropped += 1
                continue
            state.queued += 1

    async def run(self) -> None:
        """Write the EventTypes of what :meth:`seen` queued, until cancelled."""
        while True:
            seen = await self._queue.get()
            try:
                await self._record(seen)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # a store error, or a bug: never the process's end
                log.warning(
                    "could not record the EventType of %s from %s in %s %s/%s: %s",
                    seen.event.type,
                    seen.event.source,
                    seen.receiver.kind,
                    seen.receiver.namespace,
                    seen.receiver.name,
                    err,
                )
                state = self._known.get(seen.key)
                if state is not None and not state.created:
                    state.queued = 0  # the next such event tries again

    async def _record(self, seen: _Seen) -> None:
        state = self._known.get(seen.key)
        if state is None:
            return  # forgotten meanwhile
        receiver, event = seen.receiver, seen.event
        name = event_type_name(receiver.name, receiver.namespace, event.type, event.source)
        key = ResourceKey(EVENTTYPE.resource, receiver.namespace, name)
        if not state.created:
            try:
                found = await self._store.get(key)
            except NotFoundError:
                try:
                    found = await self._store.create(key, self._event_type(name, seen))
                except AlreadyExistsError:
                    found = await self._store.get(key)
            state.created = True
            state.schema = _stored_schema(found)
        if seen.sample is None or state.samples >= SCHEMA_SAMPLES:
            return
        try:
            value = orjson.loads(seen.sample)
        except orjson.JSONDecodeError:
            return
        state.samples += 1
        one = data_schema.infer(value)
        merged = data_schema.bounded(
            one if state.schema is None else data_schema.merge(state.schema, one)
        )
        changed = merged != state.schema
        # the last sample taken: the schema is in the store, not kept in memory any more
        state.schema = merged if state.samples < SCHEMA_SAMPLES else None
        if changed:
            await self._annotate(key, merged)

    async def _annotate(self, key: ResourceKey, schema: dict[str, Any]) -> None:
        text = json.dumps(data_schema.document(schema), sort_keys=True, separators=(",", ":"))
        for _ in range(3):
            current = await self._store.get(key)
            metadata = dict(current.get("metadata") or {})
            annotations = dict(metadata.get("annotations") or {})
            if annotations.get(SCHEMA_ANNOTATION) == text:
                return
            annotations[SCHEMA_ANNOTATION] = text
            metadata["annotations"] = annotations
            try:
                await self._store.update(key, dict(current, metadata=metadata))
                return
            except ConflictError:
                continue

    @staticmethod
    def _event_type(name: str, seen: _Seen) -> Obj:
        receiver, event = seen.receiver, seen.event
        attributes: list[dict[str, Any]] = [
            {"name": "type", "required": True, "value": event.type},
            {"name": "source", "required": True, "value": event.source},
            {"name": "specversion", "required": True, "value": event.specversion},
            {"name": "id", "required": True},
        ]
        attributes += [
            {"name": extension, "required": False}
            for extension in sorted(event.extensions())
            if extension not in INTERNAL_EXTENSIONS
        ]
        return {
            "apiVersion": eventtype_api.API_VERSION,
            "kind": eventtype_api.KIND,
            "metadata": {
                "name": name,
                "namespace": receiver.namespace,
                "ownerReferences": [
                    {
                        "apiVersion": receiver.api_version,
                        "kind": receiver.kind,
                        "name": receiver.name,
                        "uid": receiver.uid,
                    }
                ],
            },
            "spec": {
                "reference": {
                    "apiVersion": receiver.api_version,
                    "kind": receiver.kind,
                    "name": receiver.name,
                },
                "description": DESCRIPTION.format(kind=receiver.kind, name=receiver.name),
                "attributes": attributes,
            },
        }


def _stored_schema(obj: Obj) -> dict[str, Any] | None:
    """The schema an EventType already carries (an earlier kawa's), without ``$schema``."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    text = annotations.get(SCHEMA_ANNOTATION)
    if not isinstance(text, str):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    parsed.pop("$schema", None)
    # anyone who may edit the EventType may have written it: merged only if it has the shape
    # kawa writes, and kept within the same bounds
    return data_schema.bounded(parsed) if data_schema.valid(parsed) else None
