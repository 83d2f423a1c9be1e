"""The ResourceStore contract against JetStream: a KV bucket on a private nats-server."""

from __future__ import annotations

from pathlib import Path

import pytest

from kawa.jetstream import NatsOptions
from kawa.store.base import ResourceStore
from kawa.store.jetstream import JetStreamResourceStore

from ..nats_support import nats_url, unique
from .contract import DurableResourceStoreContract

__all__ = ["nats_url"]


def bucket_for(tmp_path: Path) -> str:
    """The test's bucket: a new one, or the one a store under ``tmp_path`` used before."""
    marker = tmp_path / "bucket"
    if not marker.exists():
        marker.write_text(unique("store"))
    return marker.read_text()


class TestJetStreamStore(DurableResourceStoreContract):
    url: str

    @pytest.fixture(autouse=True)
    def _server(self, nats_url: str) -> None:
        self.url = nats_url

    async def open_store(self, tmp_path: Path, *, history: int) -> ResourceStore:
        return await JetStreamResourceStore.open(
            NatsOptions((self.url,)), bucket_for(tmp_path), history=history
        )
