"""A SinkBinding tracks its sink (as every source does, through
:func:`kawa.sources.sink.resolve_sink`): a sink created, or becoming addressable, after the
binding gives it ``SinkProvided`` (and binds its subject) within a second. The controller
runs with the periodic resync off, so the watch of the tracked sink is what does it."""

from __future__ import annotations

import asyncio
from typing import Any

from kawa.apis import serving
from kawa.apis import sources as sources_api
from kawa.apis.conditions import get_condition, system_clock
from kawa.apis.registry import BROKER
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.loop import Controller, own
from kawa.sources.sinkbinding.reconciler import SinkBindingReconciler
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ...waiting import eventually
from ..apiserver.support import put

PROMPT = 1.0
"""Seconds within which the sink's change is reflected (the resync would take 10)."""
SINK_URL = "http://127.0.0.1:9/brokers/default/later"


def _sink_provided(obj: dict[str, Any]) -> str:
    cond = get_condition(obj.get("status") or {}, "SinkProvided")
    return "" if cond is None else cond.status


async def test_a_sink_created_later_is_resolved_at_once() -> None:
    store = SqliteResourceStore(":memory:")
    reconciler = SinkBindingReconciler(store, system_clock, EventRecorder(store, "test"))
    controller = Controller(
        "sinkbinding",
        store,
        reconciler.reconcile,
        [own(sources_api.SINKBINDING.resource)],
        tracker=reconciler.tracker,
        resync=None,
    )
    task = asyncio.create_task(controller.run())
    binding_key = ResourceKey(sources_api.SINKBINDING.resource, "default", "bind")
    try:
        await put(
            store,
            {
                "apiVersion": "serving.knative.dev/v1",
                "kind": "Service",
                "metadata": {"name": "producer", "namespace": "default"},
                "spec": {"template": {"spec": {"containers": [{"image": "busybox"}]}}},
            },
        )
        await put(
            store,
            {
                "apiVersion": "sources.knative.dev/v1",
                "kind": "SinkBinding",
                "metadata": {"name": "bind", "namespace": "default"},
                "spec": {
                    "subject": {
                        "apiVersion": "serving.knative.dev/v1",
                        "kind": "Service",
                        "name": "producer",
                    },
                    "sink": {
                        "ref": {
                            "apiVersion": "eventing.knative.dev/v1",
                            "kind": "Broker",
                            "name": "later",
                        }
                    },
                },
            },
        )

        async def sink_provided(status: str) -> dict[str, Any] | None:
            obj = await store.get(binding_key)
            return obj if _sink_provided(obj) == status else None

        await eventually(lambda: sink_provided("False"), 5.0, "SinkProvided never False")
        broker = await put(
            store,
            {
                "apiVersion": "eventing.knative.dev/v1",
                "kind": "Broker",
                "metadata": {"name": "later", "namespace": "default"},
                "spec": {},
            },
        )
        await store.update(
            ResourceKey(BROKER.resource, "default", "later"),
            dict(broker, status={"address": {"url": SINK_URL}}),
            status_only=True,
        )
        obj = await eventually(lambda: sink_provided("True"), PROMPT, "the sink was not tracked")
        assert obj["status"]["sinkUri"] == SINK_URL

        async def bound() -> bool:
            svc = await store.get(ResourceKey(serving.SERVICE.resource, "default", "producer"))
            containers = svc["spec"]["template"]["spec"]["containers"]
            return {"name": "K_SINK", "value": SINK_URL} in containers[0].get("env", [])

        await eventually(bound, PROMPT, "the subject was not bound")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await store.close()
