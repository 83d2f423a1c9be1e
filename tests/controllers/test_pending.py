"""Kinds kawa does not run yet report Ready=Unknown (NotImplemented), never Ready=True."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..broker.broker_support import running_kawa
from ..waiting import eventually

IMC = "/apis/messaging.knative.dev/v1/namespaces/default/inmemorychannels"


async def test_a_channel_is_honestly_not_ready(tmp_path: Path) -> None:
    channel = {
        "apiVersion": "messaging.knative.dev/v1",
        "kind": "InMemoryChannel",
        "metadata": {"name": "p", "namespace": "default"},
    }
    async with running_kawa(tmp_path) as kawa:
        async with kawa.session.post(kawa.url + IMC, json=channel) as resp:
            assert resp.status == 201, await resp.text()

        async def reported() -> dict[str, Any] | None:
            async with kawa.session.get(f"{kawa.url}{IMC}/p") as resp:
                found: dict[str, Any] = await resp.json()
            conditions = found.get("status", {}).get("conditions", [])
            return found if any(c["type"] == "Ready" for c in conditions) else None

        obj = await eventually(reported, message="the InMemoryChannel never reported Ready")
        ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "Unknown"
        assert ready["reason"] == "NotImplemented"
        assert "later issue" in ready["message"]
        assert obj["status"]["observedGeneration"] == 1
