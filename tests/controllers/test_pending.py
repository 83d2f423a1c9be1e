"""Kinds kawa does not run yet report Ready=Unknown (NotImplemented), never Ready=True."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..broker.broker_support import running_kawa
from ..waiting import eventually

SEQUENCES = "/apis/flows.knative.dev/v1/namespaces/default/sequences"


async def test_a_sequence_is_honestly_not_ready(tmp_path: Path) -> None:
    sequence = {
        "apiVersion": "flows.knative.dev/v1",
        "kind": "Sequence",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"steps": [{"uri": "http://127.0.0.1:9/"}]},
    }
    async with running_kawa(tmp_path) as kawa:
        async with kawa.session.post(kawa.url + SEQUENCES, json=sequence) as resp:
            assert resp.status == 201, await resp.text()

        async def reported() -> dict[str, Any] | None:
            async with kawa.session.get(f"{kawa.url}{SEQUENCES}/p") as resp:
                found: dict[str, Any] = await resp.json()
            conditions = found.get("status", {}).get("conditions", [])
            return found if any(c["type"] == "Ready" for c in conditions) else None

        obj = await eventually(reported, message="the Sequence never reported Ready")
        ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "Unknown"
        assert ready["reason"] == "NotImplemented"
        assert "later issue" in ready["message"]
        assert obj["status"]["observedGeneration"] == 1
