"""Kinds kawa does not run yet report Ready=Unknown (NotImplemented), never Ready=True."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..broker.broker_support import running_kawa
from ..waiting import eventually

EVENTTYPES = "/apis/eventing.knative.dev/v1beta2/namespaces/default/eventtypes"


async def test_an_eventtype_is_honestly_not_ready(tmp_path: Path) -> None:
    sequence = {
        "apiVersion": "eventing.knative.dev/v1beta2",
        "kind": "EventType",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"type": "dev.example.order"},
    }
    async with running_kawa(tmp_path) as kawa:
        async with kawa.session.post(kawa.url + EVENTTYPES, json=sequence) as resp:
            assert resp.status == 201, await resp.text()

        async def reported() -> dict[str, Any] | None:
            async with kawa.session.get(f"{kawa.url}{EVENTTYPES}/p") as resp:
                found: dict[str, Any] = await resp.json()
            conditions = found.get("status", {}).get("conditions", [])
            return found if any(c["type"] == "Ready" for c in conditions) else None

        obj = await eventually(reported, message="the EventType never reported Ready")
        ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "Unknown"
        assert ready["reason"] == "NotImplemented"
        assert "later issue" in ready["message"]
        assert obj["status"]["observedGeneration"] == 1
