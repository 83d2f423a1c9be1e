"""kawa's cloudevents-player (the getting-started tutorial's) as a child process: the page,
the tutorial's curl commands, sending to ``$BROKER_URL`` and listing what it sent and
received."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cloudevents.v1.conversion import to_binary, to_structured
from cloudevents.v1.http import CloudEvent as SdkEvent

from kawa.samples.cloudevents_player import sink_from_env

from ..waiting import eventually
from .support import Program, Sink, program, start_sink

pytestmark = pytest.mark.slow


async def _messages(player: Program, query: str = "") -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{player.url}/messages{query}") as resp,
    ):
        assert resp.status == 200
        assert resp.content_type == "application/json"
        result: list[dict[str, Any]] = await resp.json()
        return result


async def test_sends_to_the_broker_and_lists_sent_and_received_events(tmp_path: Path) -> None:
    broker = Sink(first_statuses=[202, 202, 500])
    runner = await start_sink(broker)
    try:
        with program("cloudevents_player", tmp_path, {"BROKER_URL": broker.url}) as player:
            async with aiohttp.ClientSession() as session:
                async with session.get(player.url + "/") as resp:
                    assert resp.status == 200
                    page = await resp.text()
                assert "Create Event" in page
                assert broker.url in page
                # the tutorial's "To post an event" curl: POST / in binary mode
                curl_headers = {
                    "Content-Type": "application/json",
                    "Ce-Id": "123456789",
                    "Ce-Specversion": "1.0",
                    "Ce-Type": "some-type",
                    "Ce-Source": "command-line",
                }
                body = b'{"msg":"Hello CloudEvents!"}'
                async with session.post(player.url, headers=curl_headers, data=body) as resp:
                    assert resp.status == 202
                # send an event with the SDK, in structured mode: forwarded as such
                event = SdkEvent(
                    {"type": "dev.example", "source": "sdk", "id": "s-1"}, {"message": "hi"}
                )
                headers, data = to_structured(event)
                async with session.post(
                    player.url + "/messages", headers=dict(headers), data=data
                ) as resp:
                    assert resp.status == 202
                # the page's form (no JavaScript): binary mode to the broker, 303 back
                form = {
                    "id": "f-1",
                    "type": "dev.form",
                    "source": "form",
                    "specversion": "1.0",
                    "message": '{"message": "from the form"}',
                    "mode": "binary",
                }
                async with session.post(
                    player.url + "/messages", data=form, allow_redirects=False
                ) as resp:
                    assert resp.status == 303
                    assert resp.headers["Location"] == "./"
                # the broker refuses the third
                binary_headers, binary = to_binary(
                    SdkEvent({"type": "t", "source": "s", "id": "refused"}, None)
                )
                async with session.post(
                    player.url + "/messages", headers=dict(binary_headers), data=binary
                ) as resp:
                    assert resp.status == 202
                # not a CloudEvent
                async with session.post(player.url + "/messages", data=b"{}") as resp:
                    assert resp.status == 400

            assert [e.id for e in broker.events] == ["s-1", "f-1", "refused"]
            assert broker.headers[0]["Content-Type"] == "application/cloudevents+json"
            assert broker.headers[1]["ce-type"] == "dev.form"
            assert json.loads(broker.events[1].data or b"") == {"message": "from the form"}

            listed = await _messages(player)
            assert [(m["id"], m["type"]) for m in listed] == [
                ("refused", "FAILED"),
                ("f-1", "SENT"),
                ("s-1", "SENT"),
                ("123456789", "RECEIVED"),
            ]
            received = listed[-1]
            assert received["eventType"] == "some-type"
            assert received["source"] == "command-line"
            assert received["data"] == {"msg": "Hello CloudEvents!"}
            assert received["event"]["attributes"]["specversion"] == "1.0"
            assert received["event"]["data"] == {"msg": "Hello CloudEvents!"}
            assert [m["id"] for m in await _messages(player, "?page=1&size=3")] == ["123456789"]
            async with aiohttp.ClientSession() as session:
                async with session.get(player.url + "/messages?size=x") as resp:
                    assert resp.status == 400
                async with session.get(player.url + "/") as resp:
                    assert "123456789" in await resp.text()  # rendered without JavaScript
                async with session.delete(player.url + "/messages") as resp:
                    assert resp.status == 202
            assert await _messages(player) == []
            assert "StatusCode: 500" in player.log()
    finally:
        await runner.cleanup()


async def test_local_mode_round_trip(tmp_path: Path) -> None:
    """PLAYER_MODE=LOCAL: events go to the player itself, so each is listed sent and received."""
    with program("cloudevents_player", tmp_path, {"PLAYER_MODE": "LOCAL"}) as player:
        headers, data = to_binary(
            SdkEvent(
                {"type": "loop", "source": "me", "id": "l-1", "datacontenttype": "text/plain"},
                b"plain text",
            )
        )
        async with (
            aiohttp.ClientSession() as session,
            session.post(player.url + "/messages", headers=dict(headers), data=data) as resp,
        ):
            assert resp.status == 202

        async def both() -> list[dict[str, Any]] | None:
            listed = await _messages(player)
            return listed if len(listed) == 2 else None

        listed = await eventually(both, 10, "the event sent and received")
        assert sorted(m["type"] for m in listed) == ["RECEIVED", "SENT"]
        assert {m["data"] for m in listed} == {"plain text"}


async def test_without_a_broker_sending_fails_and_says_why(tmp_path: Path) -> None:
    with program("cloudevents_player", tmp_path, {"BROKER_URL": "", "K_SINK": ""}) as player:
        headers, data = to_binary(SdkEvent({"type": "t", "source": "s", "id": "x"}, None))
        async with (
            aiohttp.ClientSession() as session,
            session.post(player.url + "/messages", headers=dict(headers), data=data) as resp,
        ):
            assert resp.status == 202
        assert [m["type"] for m in await _messages(player)] == ["FAILED"]
        assert "no broker" in player.log()


def test_where_events_go() -> None:
    assert sink_from_env({"BROKER_URL": "http://a", "K_SINK": "http://b"}, 1) == "http://a"
    assert sink_from_env({"BROKER_URI": "http://c", "K_SINK": "http://b"}, 1) == "http://c"
    assert sink_from_env({"K_SINK": "http://b"}, 1) == "http://b"
    assert sink_from_env({"PLAYER_MODE": "LOCAL"}, 8080) == "http://127.0.0.1:8080/"
    assert sink_from_env({}, 1) == ""


def test_the_page_script_is_valid_javascript(tmp_path: Path) -> None:
    import shutil
    import subprocess

    from kawa.samples import player_page

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    html = player_page.render("http://broker", [])
    script = tmp_path / "page.js"
    script.write_text(html.split("<script>")[1].split("</script>")[0])
    subprocess.run([node, "--check", str(script)], check=True, timeout=60)
    assert 'id="create"' in html
    assert "http://broker" in html
