"""Connecting to NATS: a checked connection, and clear errors naming the URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from kawa.errors import PermanentError
from kawa.jetstream import JetStreamUnavailable, NatsOptions, connect

from ..nats_support import free_port, nats_server


async def test_connects_and_finds_jetstream(nats_url: str) -> None:
    client, js = await connect(NatsOptions.parse(nats_url))
    try:
        info = await js.account_info()
        assert info.limits is not None
    finally:
        await client.close()


async def test_an_unreachable_server_is_named() -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    with pytest.raises(JetStreamUnavailable, match=f"cannot connect to NATS at {url}"):
        await connect(NatsOptions.parse(url))


async def test_jetstream_disabled_is_said(tmp_path: Path) -> None:
    with nats_server(tmp_path / "plain", jetstream=False) as url:
        wanted = f"NATS at {url} has JetStream disabled"
        with pytest.raises(JetStreamUnavailable, match=wanted):
            await connect(NatsOptions.parse(url))


async def test_wrong_credentials_are_refused(tmp_path: Path) -> None:
    with nats_server(tmp_path / "auth", "--user", "kawa", "--pass", "right") as url:
        with pytest.raises(JetStreamUnavailable, match="access refused"):
            await connect(NatsOptions.parse(url, user="kawa", password="wrong"))
        client, _ = await connect(NatsOptions.parse(url, user="kawa", password="right"))
        await client.close()


def test_bad_urls_are_refused() -> None:
    with pytest.raises(PermanentError, match="expected one or more"):
        NatsOptions.parse(" , ")
    with pytest.raises(PermanentError, match="nats://HOST:4222"):
        NatsOptions.parse("localhost:4222")
    assert NatsOptions.parse("nats://a:1, nats://b:2").servers == ("nats://a:1", "nats://b:2")
