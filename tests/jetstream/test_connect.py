"""Connecting to NATS: a checked connection, and clear errors naming the URL (its password
masked), the user and, when the user's permissions deny kawa a subject, that subject."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from kawa.errors import PermanentError
from kawa.jetstream import (
    JetStreamRefused,
    JetStreamUnavailable,
    NatsOptions,
    connect,
    refusals_fail,
)

from ..nats_support import PASSWORD, as_user, free_port, nats_server, users_config
from ..waiting import eventually


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


async def test_a_user_denied_the_jetstream_api_is_told_which_subject(tmp_path: Path) -> None:
    conf = users_config(tmp_path / "nats.conf", 'publish: {deny: ["$JS.API.>"]}')
    with (
        nats_server(tmp_path / "nats", "-c", str(conf)) as url,
        pytest.raises(JetStreamRefused) as caught,
    ):
        await connect(NatsOptions.parse(as_user(url, "kawa")))
    host = url.removeprefix("nats://")
    assert str(caught.value).startswith(
        f"NATS at nats://kawa:***@{host} refused user 'kawa' while reading its JetStream "
        'account: permissions violation for publish to "$JS.API.INFO"; kawa\'s user needs to '
        "publish to $JS.API.> "
    )
    assert PASSWORD not in str(caught.value)


async def test_a_user_denied_its_replies_is_told_which_subject(tmp_path: Path) -> None:
    conf = users_config(tmp_path / "nats.conf", 'subscribe: {deny: ["_INBOX.>"]}')
    with nats_server(tmp_path / "nats", "-c", str(conf)) as url:
        options = NatsOptions.parse(url, user="kawa", password=PASSWORD)
        with pytest.raises(JetStreamRefused) as caught:
            await connect(options)
    assert f"NATS at {url} refused user 'kawa' while reading its JetStream account" in str(
        caught.value
    )
    assert 'permissions violation for subscription to "_INBOX.' in str(caught.value)


async def test_a_refusal_fails_the_innermost_block_and_nothing_else(tmp_path: Path) -> None:
    conf = users_config(tmp_path / "nats.conf", 'publish: {deny: ["$JS.API.>"]}')
    with nats_server(tmp_path / "nats", "-c", str(conf)) as url:
        options = NatsOptions.parse(as_user(url, "kawa"))
        with pytest.raises(JetStreamRefused, match="while reading its JetStream account"):
            async with refusals_fail(options, "doing the outer thing"):
                await connect(options)
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0
    await asyncio.sleep(0.01)  # no cancellation left pending


async def test_a_refusal_on_an_open_connection_fails_a_block_or_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    conf = users_config(tmp_path / "nats.conf", 'subscribe: {deny: ["secret.>"]}')
    with nats_server(tmp_path / "nats", "-c", str(conf)) as url:
        options = NatsOptions.parse(url, user="kawa", password=PASSWORD)
        client, _ = await connect(options)
        try:

            async def listen() -> None:
                async with refusals_fail(options, "listening"):
                    await client.subscribe("secret.a")
                    await asyncio.sleep(30)  # the refusal ends the wait

            with pytest.raises(JetStreamRefused) as caught:
                async with asyncio.timeout(20):
                    await listen()
            assert str(caught.value).startswith(
                f"NATS at {url} refused user 'kawa' while listening: permissions violation "
                'for subscription to "secret.a"'
            )
            with caplog.at_level(logging.ERROR, logger="kawa.jetstream"):
                await client.subscribe("secret.b")

                async def logged() -> bool:
                    return (
                        f"NATS at {url} refused user 'kawa': permissions violation for "
                        'subscription to "secret.b"'
                    ) in caplog.text

                await eventually(logged, message="the refusal is logged")
            assert client.is_connected
        finally:
            await client.close()


async def test_an_account_without_jetstream_is_said(tmp_path: Path) -> None:
    conf = users_config(tmp_path / "nats.conf", jetstream=False)
    with nats_server(tmp_path / "nats", "-c", str(conf)) as url:
        with pytest.raises(JetStreamUnavailable, match="has JetStream disabled for this account"):
            await connect(NatsOptions.parse(as_user(url, "kawa")))
        client, _ = await connect(NatsOptions.parse(as_user(url, "admin")))
        await client.close()


def test_urls_are_shown_without_secrets() -> None:
    options = NatsOptions.parse("nats://kawa:pw@a:1,nats://tok@b:2,nats://c:3")
    assert options.where == "nats://kawa:***@a:1, nats://***@b:2, nats://c:3"
    assert options.who == "user 'kawa'"
    assert NatsOptions.parse("nats://tok@b:2").who == "the token's user"
    assert NatsOptions.parse("nats://c:3", token="t").who == "the token's user"
    assert NatsOptions.parse("nats://c:3").who == "the default user"


def test_bad_urls_are_refused() -> None:
    with pytest.raises(PermanentError, match="expected one or more"):
        NatsOptions.parse(" , ")
    with pytest.raises(PermanentError, match="nats://HOST:4222"):
        NatsOptions.parse("localhost:4222")
    assert NatsOptions.parse("nats://a:1, nats://b:2").servers == ("nats://a:1", "nats://b:2")
