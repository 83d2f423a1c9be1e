"""The PingSource's status: Ready when its sink resolves and takes events, and why not.

Real store, real Dispatcher, real HTTP sink; the controller and scheduler from
``ping_sources`` run as kawa runs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kawa.delivery.sender import Dispatcher
from kawa.sources.ping import ping_sources
from kawa.store.sqlite import SqliteResourceStore

from ...waiting import eventually
from .support import (
    Sink,
    addressable_broker,
    condition,
    create,
    key_of,
    ping_source,
    running,
    wait_until,
)

BROKER_REF = {"ref": {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "default"}}


def ready_is(status: str, reason: str | None = None) -> Any:
    def check(obj: dict[str, Any]) -> bool:
        ready = condition(obj, "Ready")
        return ready.get("status") == status and (reason is None or ready.get("reason") == reason)

    return check


async def events_about(
    store: SqliteResourceStore, name: str, count: int = 1, type_: str | None = None
) -> list[dict[str, Any]]:
    """The Events (of ``type_``) recorded about ``name``, once there are ``count`` (they are
    recorded just after the status they report is written)."""

    async def recorded() -> list[dict[str, Any]] | None:
        listed = await store.list("events", "default")
        found: list[dict[str, Any]] = [
            e
            for e in listed.items
            if e["involvedObject"]["name"] == name and type_ in (None, e["type"])
        ]
        return found if len(found) >= count else None

    return await eventually(recorded, message=f"fewer than {count} Events about {name}")


async def test_a_source_with_a_sink_is_ready_and_says_where_its_events_go(
    store: SqliteResourceStore, sink: Sink, dispatcher: Dispatcher, tmp_path: Path
) -> None:
    await create(store, ping_source("p", sink.url, schedule="0 0 1 1 *"))
    async with running(*ping_sources(store, dispatcher, data_dir=tmp_path)):
        obj = await wait_until(store, key_of("p"), ready_is("True"))
        # the Event is recorded just after the status: looked for while the source runs (a
        # stop between the two, on a slow machine, would cancel it)
        reasons = [e["reason"] for e in await events_about(store, "p")]
    assert reasons == ["PingSourceReady"]
    status = obj["status"]
    assert status["sinkUri"] == sink.url
    assert status["ceAttributes"] == [
        {"type": "dev.knative.sources.ping", "source": "/apis/v1/namespaces/default/pingsources/p"}
    ]
    assert status["observedGeneration"] == 1
    assert condition(obj, "SinkProvided")["status"] == "True"
    assert condition(obj, "Deployed")["status"] == "True"


async def test_a_missing_sink_is_not_ready_until_it_appears(
    store: SqliteResourceStore, sink: Sink, dispatcher: Dispatcher, tmp_path: Path
) -> None:
    await create(store, ping_source("p", BROKER_REF))
    async with running(*ping_sources(store, dispatcher, data_dir=tmp_path)):
        obj = await wait_until(store, key_of("p"), ready_is("False", "NotFound"))
        assert condition(obj, "Ready")["message"] == (
            'Broker "default" does not exist in namespace "default"'
        )
        assert condition(obj, "SinkProvided")["status"] == "False"
        assert "sinkUri" not in obj["status"]
        await addressable_broker(store, "default", sink.url)
        obj = await wait_until(store, key_of("p"), ready_is("True"))
        assert obj["status"]["sinkUri"] == sink.url
        await sink.wait_for(1)
        reasons = [e["reason"] for e in await events_about(store, "p", 2)]
    assert sorted(reasons) == ["PingSourceNotReady", "PingSourceReady"]  # listed by name


async def test_a_sink_refusing_events_makes_the_source_not_ready_until_it_takes_them(
    store: SqliteResourceStore, sink: Sink, dispatcher: Dispatcher, tmp_path: Path
) -> None:
    sink.status = 503
    await create(store, ping_source("p", sink.url))
    async with running(*ping_sources(store, dispatcher, data_dir=tmp_path)):
        obj = await wait_until(store, key_of("p"), ready_is("False", "Unreachable"))
        provided = condition(obj, "SinkProvided")
        assert provided["status"] == "False"
        assert provided["message"].endswith("failed after 3 attempt(s): HTTP 503")
        assert obj["status"]["sinkUri"] == sink.url  # it resolves; it refuses
        warnings = await events_about(store, "p", type_="Warning")
        assert warnings[0]["message"].startswith("Unreachable: the last event sent to")
        sink.status = 202
        await wait_until(store, key_of("p"), ready_is("True"))
    assert sink.events
