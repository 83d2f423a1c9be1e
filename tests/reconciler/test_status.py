"""The one reconciler shape on a real SQLite store: an object that does not parse gets its
condition False with reason Invalid (and a readiness Event); a valid one is reconciled by
the kind; the status is written only when it changed; the hooks run when they should."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kawa.apis.conditions import ConditionSet, get_condition, system_clock
from kawa.errors import FieldError, ValidationError
from kawa.reconciler.events import EVENTS, EventRecorder
from kawa.reconciler.status import Reconciling, StatusReconciler
from kawa.store.base import Obj, ResourceKey
from kawa.store.sqlite import SqliteResourceStore

KEY = ResourceKey("configmaps", "ns", "widget")


class WidgetReconciler(StatusReconciler[str]):
    """A ConfigMap ``widget`` is Configured when its ``data.size`` parses as a number."""

    conditions = ConditionSet(("Configured",))
    invalid_condition = "Configured"

    def __init__(self, store: SqliteResourceStore) -> None:
        super().__init__(store, system_clock, EventRecorder(store, "widget-controller"))
        self.calls: list[str] = []

    def parse(self, obj: Obj) -> str:
        size = (obj.get("data") or {}).get("size", "")
        if not str(size).isdigit():
            raise ValidationError([FieldError("data.size", "must be a number")])
        return str(size)

    async def prepare(self, key: ResourceKey, obj: Obj, status: dict[str, Any]) -> None:
        self.calls.append("prepare")
        status["seen"] = True

    async def reconcile_kind(self, current: Reconciling[str]) -> None:
        self.calls.append(f"reconcile {current.spec}")
        current.status["size"] = int(current.spec)
        self.conditions.mark_true(current.status, "Configured", clock=self.clock)

    async def observe_invalid(self, key: ResourceKey, obj: Obj) -> None:
        self.calls.append("invalid")

    async def observe_deletion(self, key: ResourceKey) -> None:
        self.calls.append("gone")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteResourceStore]:
    s = SqliteResourceStore(str(tmp_path / "s.db"))
    yield s
    await s.close()


def widget(size: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": KEY.name, "namespace": KEY.namespace},
        "data": {"size": size},
    }


async def reasons(store: SqliteResourceStore) -> set[tuple[str, str]]:
    listed = await store.list(EVENTS, KEY.namespace)
    return {(e["type"], e["reason"]) for e in listed.items}


async def test_invalid_then_valid_then_unchanged_then_gone(store: SqliteResourceStore) -> None:
    reconciler = WidgetReconciler(store)
    await store.create(KEY, widget("big"))
    await reconciler.reconcile(KEY)
    obj = await store.get(KEY)
    configured = get_condition(obj["status"], "Configured")
    assert configured is not None
    assert (configured.status, configured.reason) == ("False", "Invalid")
    assert "data.size" in configured.message
    assert obj["status"]["seen"] is True  # prepare ran before parsing
    assert reconciler.calls == ["prepare", "invalid"]
    assert await reasons(store) == {("Warning", "ConfigMapNotReady")}

    await store.update(KEY, dict(obj, data={"size": "3"}))
    await reconciler.reconcile(KEY)
    obj = await store.get(KEY)
    assert obj["status"]["size"] == 3
    ready = get_condition(obj["status"], "Ready")
    assert ready is not None
    assert ready.is_true
    assert reconciler.calls[2:] == ["prepare", "reconcile 3"]
    assert await reasons(store) == {("Warning", "ConfigMapNotReady"), ("Normal", "ConfigMapReady")}

    version = obj["metadata"]["resourceVersion"]
    await reconciler.reconcile(KEY)  # nothing changed: nothing written
    assert (await store.get(KEY))["metadata"]["resourceVersion"] == version

    await store.delete(KEY)
    await reconciler.reconcile(KEY)
    assert reconciler.calls[-1] == "gone"


async def test_the_reconcile_tracks_through_its_tracker(store: SqliteResourceStore) -> None:
    class Tracking(WidgetReconciler):
        async def reconcile_kind(self, current: Reconciling[str]) -> None:
            current.track(ResourceKey("secrets", "ns", f"size-{current.spec}"))

    reconciler = Tracking(store)
    await store.create(KEY, widget("3"))
    await reconciler.reconcile(KEY)
    assert reconciler.tracker.references(KEY) == {ResourceKey("secrets", "ns", "size-3")}


async def test_an_object_being_deleted_is_left_alone(store: SqliteResourceStore) -> None:
    """Kept by a finalizer (``foregroundDeletion`` while its dependents go), an object is not
    reconciled: nothing it made is made again, its status stays (Knative's way)."""
    reconciler = WidgetReconciler(store)
    obj = widget("3")
    obj["metadata"]["finalizers"] = ["foregroundDeletion"]
    await store.create(KEY, obj)
    await store.delete(KEY)
    await reconciler.reconcile(KEY)
    assert reconciler.calls == []
    assert "status" not in await store.get(KEY)
