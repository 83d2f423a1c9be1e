"""The loop analysis of a write is advisory: a store too slow to list the namespace within
:data:`kawa.apiserver.loops.ANALYSIS_TIME` (a JetStream cluster that just lost a server) does
not hold the write up; it is stored without the warning."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from kawa.apis.registry import TRIGGER
from kawa.apiserver import loops as api_loops
from kawa.apiserver.requests import Target
from kawa.store.sqlite import SqliteResourceStore

SELF_LOOP = {
    "apiVersion": "eventing.knative.dev/v1",
    "kind": "Trigger",
    "metadata": {
        "name": "echo",
        "namespace": "default",
        "annotations": {"kawa.dev/reply-types": "order.paid"},
    },
    "spec": {
        "broker": "default",
        "filter": {"attributes": {"type": "order.paid"}},
        "subscriber": {"uri": "http://echo.example/"},
    },
}
TARGET = Target(TRIGGER, "eventing.knative.dev/v1", "default", "echo", None)


class SlowLists:
    """A real store whose lists take ``delay`` seconds (a loaded JetStream KV)."""

    def __init__(self, store: SqliteResourceStore, delay: float) -> None:
        self._store = store
        self._delay = delay

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def list(self, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(self._delay)
        return await self._store.list(*args, **kwargs)


async def test_a_slow_analysis_leaves_the_write_without_the_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteResourceStore(str(tmp_path / "s.db"))
    try:
        quick = await api_loops.loop_warnings(store, TARGET, SELF_LOOP)
        assert any("event loop" in text for text in quick)  # the analysis finds it
        monkeypatch.setattr(api_loops, "ANALYSIS_TIME", 0.2)
        began = time.monotonic()
        slow = await api_loops.loop_warnings(SlowLists(store, 5.0), TARGET, SELF_LOOP)
        assert slow == []
        assert time.monotonic() - began < 2.0
    finally:
        await store.close()
