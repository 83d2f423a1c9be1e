"""Kinds kawa does not run yet report Ready=Unknown (NotImplemented), never Ready=True."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ..broker.broker_support import running_kawa

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
        ready: dict[str, Any] = {}
        for _ in range(200):
            async with kawa.session.get(f"{kawa.url}{IMC}/p") as resp:
                obj = await resp.json()
            conditions = obj.get("status", {}).get("conditions", [])
            ready = next((c for c in conditions if c["type"] == "Ready"), {})
            if ready:
                break
            await asyncio.sleep(0.02)
        assert ready["status"] == "Unknown"
        assert ready["reason"] == "NotImplemented"
        assert "later issue" in ready["message"]
        assert obj["status"]["observedGeneration"] == 1
