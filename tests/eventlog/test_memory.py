"""The EventLog contract against :class:`kawa.eventlog.memory.MemoryEventLog`."""

from __future__ import annotations

from pathlib import Path

import pytest

from kawa.errors import PermanentError
from kawa.eventlog import EventLog, MemoryEventLog

from .contract import EventLogContract, FakeClock


class TestMemoryEventLog(EventLogContract):
    async def open_log(self, tmp_path: Path, clock: FakeClock) -> EventLog:
        return MemoryEventLog(clock=clock)


async def test_a_closed_log_refuses_work() -> None:
    log = MemoryEventLog()
    await log.append("b1", [b"a"])
    await log.close()
    with pytest.raises(PermanentError):
        await log.append("b1", [b"b"])
    assert await log.wait("b1", 1, 10) is False
