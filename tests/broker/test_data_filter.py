"""kawa's data filter through a running broker: a Trigger annotated ``kawa.dev/data`` gets only
the events whose JSON data meets its conditions, ANDed with its Knative filter; a Trigger
without it gets them all; changing the annotation changes what it gets (its consumer
restarts with the new filter)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson

from kawa.apis.eventing.data_filter import ANNOTATION
from kawa.cloudevents.event import CloudEvent

from .broker_support import API, broker, event, running_kawa, subscriber, trigger


def order(id_: str, total: int, currency: str = "EUR", type_: str = "order") -> CloudEvent:
    data = orjson.dumps({"order": {"total": total, "currency": currency}})
    return event(id_, type_, data=data, datacontenttype="application/json")


async def test_a_trigger_gets_only_the_events_its_data_filter_lets_through(
    tmp_path: Path,
) -> None:
    async with (
        running_kawa(tmp_path) as kawa,
        subscriber() as big,
        subscriber() as everything,
    ):
        await kawa.apply(broker())
        await kawa.apply(
            trigger(
                "big",
                big.url,
                annotations={ANNOTATION: '$.order.total > 100\n$.order.currency == "EUR"'},
                filter={"attributes": {"type": "order"}},
            )
        )
        await kawa.apply(trigger("everything", everything.url))
        await kawa.wait_ready("Trigger", "big")
        await kawa.wait_ready("Trigger", "everything")
        sent = [
            order("small", 50),
            order("big-eur", 150),
            order("big-usd", 150, "USD"),
            order("big-refund", 150, type_="refund"),  # the Knative filter still applies
        ]
        for ev in sent:
            assert await kawa.send(ev) == 202
        await everything.wait_for(len(sent))
        await big.wait_for_id("big-eur")
        await asyncio.sleep(0.3)  # time for anything wrongly let through to arrive
        assert [e.id for e in big.events] == ["big-eur"]

        # the annotation changes: the consumer restarts with the new conditions
        current = await kawa.get("Trigger", "big")
        current["metadata"]["annotations"][ANNOTATION] = "$.order.total < 100"
        url = f"{kawa.url}{API}/default/triggers/big"
        async with kawa.session.put(url, json=current) as resp:
            assert resp.status == 200, await resp.text()

        async def small_arrives() -> None:
            n = 0
            while not any(e.id.startswith("small-again") for e in big.events):
                n += 1
                assert await kawa.send(order(f"small-again-{n}", 10)) == 202
                await asyncio.sleep(0.2)

        await asyncio.wait_for(small_arrives(), 15)
