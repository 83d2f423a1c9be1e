"""``GET .../namespaces/<ns>/inmemorychannels/<name>/trace?id=ID[&source=S]`` (and the same on
``channels``): what happened to an event a channel kept, as the broker's ``trace`` says it
(:mod:`kawa.observability.trace`).

The channel's stream is searched for the events with that ``id`` (and ``source``), then its
lineage stream for their notes (:mod:`kawa.dispatch.lineage`): accepted, each subscriber's
delivery and dead-letter attempts, its outcome and reply. A subscriber is named by its
Subscription (``subscription``, found by uid in the namespace; the uid when it is gone).
A Channel's events are those of its backing InMemoryChannel (``status.channel``). The
answer is ``{"channel": {"namespace", "name", "lineage"}, "events": [...]}`` with the
broker trace's event objects, ``subscription`` in place of ``trigger``; no such event is
``404``. Registered by :mod:`kawa.runtime` (``get`` on ``inmemorychannels/trace`` and
``channels/trace``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from kawa.apis.messaging import CHANNEL, INMEMORYCHANNEL, SUBSCRIPTION
from kawa.apiserver.requests import Target
from kawa.apiserver.responses import json_response
from kawa.channels.dataplane import channel_stream
from kawa.dispatch import lineage
from kawa.errors import NotFoundError
from kawa.eventlog.base import EventLog
from kawa.observability.trace import asked, find_events, find_notes, not_found, timeline
from kawa.store.base import Obj, ResourceKey, ResourceStore


class ChannelTrace:
    """The ``trace`` subresource of InMemoryChannels and Channels."""

    def __init__(self, store: ResourceStore, event_log: EventLog) -> None:
        self._store = store
        self._log = event_log

    async def serve_inmemorychannel(
        self, request: web.Request, target: Target
    ) -> web.StreamResponse:
        event_id, source = asked(request, INMEMORYCHANNEL.plural)
        key = ResourceKey(INMEMORYCHANNEL.resource, target.namespace or "", target.name or "")
        imc = await self._store.get(key)
        return json_response(await self.trace(imc, event_id, source))

    async def serve_channel(self, request: web.Request, target: Target) -> web.StreamResponse:
        event_id, source = asked(request, CHANNEL.plural)
        namespace, name = target.namespace or "", target.name or ""
        channel = await self._store.get(ResourceKey(CHANNEL.resource, namespace, name))
        backing = (channel.get("status") or {}).get("channel") or {}
        if backing.get("kind") != INMEMORYCHANNEL.kind or not backing.get("name"):
            raise NotFoundError(f"channel {namespace}/{name} has no InMemoryChannel yet")
        key = ResourceKey(INMEMORYCHANNEL.resource, namespace, str(backing["name"]))
        return json_response(await self.trace(await self._store.get(key), event_id, source))

    async def trace(self, imc: Obj, event_id: str, source: str | None) -> dict[str, Any]:
        meta = imc.get("metadata") or {}
        namespace = str(meta.get("namespace", ""))
        stream = channel_stream(str(meta.get("uid", "")))
        found = await find_events(self._log, stream, event_id, source)
        if not found:
            raise not_found(event_id, source, f"channel {namespace}/{meta.get('name', '')}")
        notes = await find_notes(self._log, stream, {seq for seq, _, _ in found})
        listed = await self._store.list(SUBSCRIPTION.resource, namespace)
        names = {
            str((s.get("metadata") or {}).get("uid", "")): str(s["metadata"]["name"])
            for s in listed.items
        }
        return {
            "channel": {
                "namespace": namespace,
                "name": meta.get("name", ""),
                "lineage": lineage.enabled(meta.get("annotations")),
            },
            "events": [
                _by_subscription(timeline(seq, at, event, notes.get(seq, []), {}), names)
                for seq, at, event in found
            ],
        }


def _by_subscription(answer: dict[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """A timeline whose steps name the Subscription (noted by uid) as ``subscription``."""
    for step in answer["timeline"]:
        uid = step.pop("trigger", None)
        if uid is not None:
            step["subscription"] = names.get(uid, uid)
    return answer
