"""The data plane's view of EventPolicies (:class:`LiveEventPolicies`), on a real SQLite store:
a policy's subjects and filters as authorization reads them, following changes and
deletions; a policy a receiver names but that is unknown allows no one."""

from __future__ import annotations

import asyncio
from typing import Any

from kawa.apis.eventing import EVENTPOLICY
from kawa.apis.registry import SCHEME
from kawa.cloudevents import CloudEvent
from kawa.dispatch.eventpolicies import decide
from kawa.reconciler.eventpolicies import LiveEventPolicies
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ..waiting import eventually

NS = "shop"
SHOP = "system:serviceaccount:shop:orders"
KEY = ResourceKey(EVENTPOLICY.resource, NS, "p")


def stored(subjects: list[str], filters: list[dict[str, Any]]) -> dict[str, Any]:
    obj = SCHEME.default(
        {
            "apiVersion": "eventing.knative.dev/v1alpha1",
            "kind": "EventPolicy",
            "metadata": {"name": "p", "namespace": NS},
            "spec": {"from": [{"sub": s} for s in subjects], "filters": filters},
        }
    )
    obj["status"] = {"from": subjects}
    return obj


def event(type_: str) -> CloudEvent:
    return CloudEvent({"specversion": "1.0", "id": "1", "type": type_, "source": "/s"})


def allowed(live: LiveEventPolicies, type_: str) -> bool:
    policies = live.applied(NS, ["p"])
    return decide(policies, "allow-all", SHOP, NS, event(type_)).allowed


async def test_the_live_view_follows_policies_and_unknown_ones_allow_no_one() -> None:
    store = SqliteResourceStore(":memory:")
    live = LiveEventPolicies(store)
    # named by a receiver but not there: no one is allowed (never the default mode)
    assert not allowed(live, "com.example.order")
    await store.create(KEY, stored([SHOP], [{"prefix": {"type": "com.example."}}]))
    task = asyncio.create_task(live.run())
    try:

        async def allows(type_: str, expected: bool) -> bool:
            return allowed(live, type_) == expected

        await eventually(lambda: allows("com.example.order", True), 5.0, "never allowed")
        assert not allowed(live, "org.other")

        current = await store.get(KEY)
        changed = stored([SHOP], [{"prefix": {"type": "org."}}])
        changed["metadata"] = current["metadata"]
        await store.update(KEY, changed)
        await eventually(lambda: allows("org.other", True), 5.0, "the change never arrived")
        assert not allowed(live, "com.example.order")

        await store.delete(KEY)
        await eventually(lambda: allows("org.other", False), 5.0, "the deletion never arrived")
        assert LiveEventPolicies.names({"policies": [{"apiVersion": "x", "name": "p"}]}) == ["p"]
        assert LiveEventPolicies.names({}) == []
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await store.close()
