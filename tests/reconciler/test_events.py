"""Controllers record core/v1 Events (for kubectl describe and ApiServerSources)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kawa.reconciler.events import EventRecorder
from kawa.store.sqlite import SqliteResourceStore

from ..broker.broker_support import broker, running_kawa, trigger
from ..waiting import eventually

EVENTS = "/api/v1/namespaces/default/events"


async def test_repeated_events_are_counted(tmp_path: Path) -> None:
    store = SqliteResourceStore(str(tmp_path / "s.db"))
    try:
        recorder = EventRecorder(
            store, "test", clock=lambda: datetime(2026, 1, 1, tzinfo=UTC), suffix=lambda: "x"
        )
        obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
        }
        await recorder.record(obj, "Warning", "BackOff", "restarting")
        await recorder.record(obj, "Warning", "BackOff", "restarting")
        listed = await store.list("events", "default")
        (event,) = listed.items
        assert event["metadata"]["name"] == "p.x"
        assert event["count"] == 2
        assert event["involvedObject"] == {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": "p",
            "namespace": "default",
            "uid": "u1",
            "resourceVersion": "",
        }
        assert (event["type"], event["reason"], event["source"]) == (
            "Warning",
            "BackOff",
            {"component": "test"},
        )
    finally:
        await store.close()


async def _events(kawa: Any, reason: str, about: str = "") -> list[dict[str, Any]]:
    """The Events with ``reason`` (about the object named ``about``), once there are any."""

    async def found() -> list[dict[str, Any]]:
        async with kawa.session.get(kawa.url + EVENTS) as resp:
            items = (await resp.json())["items"]
        return [
            e for e in items if e["reason"] == reason and about in ("", e["involvedObject"]["name"])
        ]

    return await eventually(found, message=f"no {reason} event")


async def test_readiness_changes_are_recorded(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa:
        await kawa.apply(trigger("t", "http://127.0.0.1:9/"))
        (warning,) = await _events(kawa, "TriggerNotReady")
        assert warning["type"] == "Warning"
        assert warning["involvedObject"]["kind"] == "Trigger"
        assert warning["involvedObject"]["name"] == "t"
        assert "BrokerDoesNotExist" in warning["message"]
        await kawa.apply(broker())
        (ready,) = await _events(kawa, "BrokerReady")
        assert ready["involvedObject"]["name"] == "default"
        await _events(kawa, "TriggerReady")
        patch = {"metadata": {"labels": {"knative-eventing-injection": "enabled"}}}
        async with kawa.session.patch(
            kawa.url + "/api/v1/namespaces/default",
            json=patch,
            headers={"Content-Type": "application/merge-patch+json"},
        ) as resp:
            assert resp.status == 200
        # the broker exists already: no second broker, no BrokerCreated event. A namespace
        # labelled after it gets its broker: the controller has handled "default" by then.
        witness = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "witness", "labels": {"knative-eventing-injection": "enabled"}},
        }
        async with kawa.session.post(kawa.url + "/api/v1/namespaces", json=witness) as resp:
            assert resp.status == 201
        await _events(kawa, "BrokerCreated", about="witness")
        async with kawa.session.get(kawa.url + EVENTS) as resp:
            items = (await resp.json())["items"]
        created = [e["involvedObject"]["name"] for e in items if e["reason"] == "BrokerCreated"]
        assert created == ["witness"]


async def test_events_carry_an_event_time(tmp_path: Path) -> None:
    store = SqliteResourceStore(str(tmp_path / "s.db"))
    try:
        moment = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
        recorder = EventRecorder(store, "test", clock=lambda: moment, suffix=lambda: "y")
        obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "q", "uid": "u2"}}
        await recorder.record(obj, "Normal", "Started", "started")
        (event,) = (await store.list("events", "default")).items
        assert event["eventTime"] == "2026-01-01T12:00:00.123456Z"
        assert event["firstTimestamp"] == "2026-01-01T12:00:00Z"
    finally:
        await store.close()
