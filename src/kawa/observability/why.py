"""``POST .../namespaces/<ns>/brokers/<name>/why``: which of a broker's triggers an event
would reach, and why not.

The body is one CloudEvent in the structured JSON format (what ``kawa why --event FILE``
sends). The event is taken as the broker's ingress would store it (the ``knativebrokerttl``
extension set or decremented, :func:`kawa.broker.ttl.on_ingress`), then every Trigger of the
broker is explained with :func:`kawa.filters.explain.explain_trigger`: matched or not, and
the filter that rejected it. Nothing is stored or delivered: a dry run for a person asking.

The answer (JSON)::

    {"broker": {"namespace", "name", "ready": {"status", "reason", "message"}},
     "event": {"id", "source", "type"},
     "triggers": [{"name", "ready": {...}, "matched", "wouldDeliver", "filters",
                   "rejection": {"path", "dialect", "reason", ...}}]}

``wouldDeliver`` is ``matched`` and the Trigger ``Ready`` (the data plane runs a consumer only
for a Ready Trigger). Errors are kawa errors, answered as Kubernetes ``Status`` objects by the
API server: a body that is not a CloudEvent is ``422 Invalid`` naming each attribute, an
exhausted TTL likewise (``knativebrokerttl``), an unknown broker ``404``, a verb other than
POST ``405``. A subresource of the Broker (like a Pod's ``log``), so that RBAC and
impersonation apply as to any request (``create`` on ``brokers/why``); registered by
:mod:`kawa.runtime` with :meth:`kawa.apiserver.server.ApiServer.add_subresource`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from aiohttp import web

from kawa.apis import eventing
from kawa.apis.registry import BROKER, TRIGGER
from kawa.apiserver.requests import Target, read_raw
from kawa.apiserver.responses import json_response
from kawa.broker import ttl
from kawa.cloudevents import CloudEvent, jsonformat
from kawa.errors import KawaError, MethodNotAllowedError
from kawa.filters.explain import explain_trigger
from kawa.store.base import Obj, ResourceKey, ResourceStore

SUBRESOURCE: Final = "why"


class Why:
    """The ``why`` subresource of Brokers, over the resource store."""

    def __init__(self, store: ResourceStore, *, max_ttl: int = ttl.DEFAULT_MAX_TTL) -> None:
        self._store = store
        self._max_ttl = max_ttl

    async def serve(self, request: web.Request, target: Target) -> web.StreamResponse:
        if request.method != "POST":
            raise MethodNotAllowedError(
                f"{request.method} is not allowed on brokers/{SUBRESOURCE}: POST a CloudEvent"
            )
        namespace, name = target.namespace or "", target.name or ""
        event = ttl.on_ingress(jsonformat.decode_structured(await read_raw(request)), self._max_ttl)
        broker = await self._store.get(ResourceKey(BROKER.resource, namespace, name))
        listed = await self._store.list(TRIGGER.resource, namespace)
        triggers = [t for t in listed.items if (t.get("spec") or {}).get("broker") == name]
        return json_response(decisions(broker, triggers, event))


def decisions(broker: Obj, triggers: Sequence[Obj], event: CloudEvent) -> dict[str, Any]:
    """The answer: ``event`` explained against each of ``triggers`` (of ``broker``)."""
    meta = broker.get("metadata") or {}
    return {
        "broker": {
            "namespace": meta.get("namespace", ""),
            "name": meta.get("name", ""),
            "ready": ready(broker),
        },
        "event": {"id": event.id, "source": event.source, "type": event.type},
        "triggers": [_decision(t, event) for t in sorted(triggers, key=_name)],
    }


def ready(obj: Mapping[str, Any]) -> dict[str, str]:
    """The object's ``Ready`` condition: status (``Unknown`` when it has none), reason, message."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(cond, Mapping) and cond.get("type") == "Ready":
            return {
                "status": str(cond.get("status") or "Unknown"),
                "reason": str(cond.get("reason") or ""),
                "message": str(cond.get("message") or ""),
            }
    return {"status": "Unknown", "reason": "", "message": ""}


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _decision(obj: Obj, event: CloudEvent) -> dict[str, Any]:
    state = ready(obj)
    out: dict[str, Any] = {"name": _name(obj), "ready": state}
    try:
        trigger = eventing.parse_trigger(obj)
    except KawaError as err:  # stored objects passed admission: not expected
        return out | {"matched": False, "wouldDeliver": False, "error": str(err)}
    explained = explain_trigger(trigger, event)
    would = explained.matched and state["status"] == "True"
    return out | explained.to_json() | {"wouldDeliver": would}
