"""The EventLog contract against NATS JetStream (a private nats-server), plus what only a shared
server can show: two log objects (two processes' worth) on one stream."""

from __future__ import annotations

from pathlib import Path

import pytest

from kawa.eventlog import EventLog
from kawa.eventlog.jetstream import JetStreamEventLog
from kawa.jetstream import NatsOptions

from ..nats_support import nats_url, unique
from .contract import EventLogContract, FakeClock

__all__ = ["nats_url"]


class TestJetStreamEventLog(EventLogContract):
    @pytest.fixture(autouse=True)
    def _server(self, nats_url: str) -> None:
        self.url = nats_url

    async def open_log(self, tmp_path: Path, clock: FakeClock) -> EventLog:
        return await JetStreamEventLog.open(
            NatsOptions((self.url,)), prefix=unique("t"), clock=clock
        )
