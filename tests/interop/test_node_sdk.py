"""Interop with the JavaScript SDK (npm ``cloudevents``), run as a real ``node`` child process.

``tests/interop/node/interop.js`` sends events with the SDK's ``HTTP.binary`` /
``HTTP.structured`` output through Node's ``http`` module without a Content-Length (so the
bodies are chunked) to a kawa receiver, and receives kawa's events with ``HTTP.toEvent``.
Skipped when ``node`` is not on PATH or ``npm install`` has not been run in
``tests/interop/node`` (``./dev install`` does it).

The JavaScript SDK does not percent-decode header values, so the binary-mode events sent to
it keep their attribute values ASCII-only; non-ASCII goes through structured mode.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from kawa.cloudevents import http
from kawa.cloudevents.event import CloudEvent

from .conftest import Sink

NODE_DIR = Path(__file__).parent / "node"
SCRIPT = NODE_DIR / "interop.js"
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is not on PATH"),
    pytest.mark.skipif(
        not (NODE_DIR / "node_modules" / "cloudevents").is_dir(),
        reason="npm dependencies missing: run `npm install` in tests/interop/node",
    ),
]
TIMEOUT = 30.0


async def test_node_sdk_sends_chunked_binary_and_structured(sink: Sink) -> None:
    assert NODE is not None
    proc = await asyncio.create_subprocess_exec(
        NODE,
        str(SCRIPT),
        "send",
        sink.url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    assert proc.returncode == 0, (out, err, sink.errors)
    statuses = [orjson.loads(line) for line in out.splitlines()]
    assert {s["id"]: s["status"] for s in statuses} == {
        "node-binary-json": 202,
        "node-binary-text": 202,
        "node-binary-large": 202,
        "node-structured-text": 202,
        "node-structured-binary": 202,
    }
    assert all(h.get("Transfer-Encoding") == "chunked" for h in sink.headers)
    assert all("Content-Length" not in h for h in sink.headers)

    events = sink.by_id()
    binary_json = events["node-binary-json"]
    assert binary_json.source == "/interop/node"
    assert binary_json.type == "dev.kawa.interop"
    assert binary_json.get("subject") == "hello"
    assert binary_json.get("time") == "2024-05-06T07:08:09.123Z"
    assert binary_json.get("myext") == "value"
    assert binary_json.get("myint") == "42"
    assert binary_json.datacontenttype == "application/json"
    assert orjson.loads(binary_json.data or b"") == {
        "message": "hi",
        "n": 1,
        "nested": {"list": [1, 2, 3]},
    }

    assert events["node-binary-text"].data == b"plain text body"
    large = orjson.loads(events["node-binary-large"].data or b"")
    assert large == {"blob": "x" * 65536}

    text = events["node-structured-text"]
    assert text.data == "Grüße, world".encode()
    assert text.get("subject") == "café"
    assert text.get("myint") == 42
    assert text.get("mybool") is True

    binary = events["node-structured-binary"]
    assert binary.data == b"\x00\x01\x02\xff"
    assert binary.datacontenttype == "application/octet-stream"


@pytest.fixture
async def node_receiver() -> AsyncIterator[tuple[str, asyncio.StreamReader]]:
    assert NODE is not None
    proc = await asyncio.create_subprocess_exec(
        NODE,
        str(SCRIPT),
        "receive",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)
        word, port = line.decode().split()
        assert word == "listening", line
        yield f"http://127.0.0.1:{port}/", proc.stdout
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def _post_and_read(
    url: str, stdout: asyncio.StreamReader, message: tuple[dict[str, str], bytes]
) -> dict[str, Any]:
    headers, body = message
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, headers=headers, data=body) as resp,
    ):
        status = resp.status
    line = await asyncio.wait_for(stdout.readline(), TIMEOUT)
    result: dict[str, Any] = orjson.loads(line)
    assert status == 202, result
    return result["event"]  # type: ignore[no-any-return]


async def test_node_sdk_receives_kawa_events(
    node_receiver: tuple[str, asyncio.StreamReader],
) -> None:
    url, stdout = node_receiver
    json_event = CloudEvent(
        {
            "specversion": "1.0",
            "id": "kawa-json",
            "source": "https://kawa.example/source",
            "type": "dev.kawa.interop",
            "subject": "with space and 100%",
            "time": "2024-05-06T07:08:09.123Z",
            "datacontenttype": "application/json",
            "myext": "value",
        },
        b'{"message":"hi","n":1}',
    )
    got = await _post_and_read(url, stdout, http.to_binary(json_event))
    assert got["id"] == "kawa-json"
    assert got["source"] == "https://kawa.example/source"
    assert got["type"] == "dev.kawa.interop"
    assert got["time"] == "2024-05-06T07:08:09.123Z"
    assert got["myext"] == "value"
    assert got["data"] == {"message": "hi", "n": 1}
    # The SDK does not percent-decode: it sees kawa's spec-conformant encoding.
    assert got["subject"] == "with%20space%20and%20100%25"

    got = await _post_and_read(url, stdout, http.to_structured(json_event))
    assert got["subject"] == "with space and 100%"
    assert got["data"] == {"message": "hi", "n": 1}

    text_event = CloudEvent(
        {
            "specversion": "1.0",
            "id": "kawa-text",
            "source": "/s",
            "type": "t",
            "subject": "Grüße",
            "datacontenttype": "text/plain",
            "count": 7,
            "flag": True,
        },
        "Grüße aus Köln".encode(),
    )
    got = await _post_and_read(url, stdout, http.to_structured(text_event))
    assert got["subject"] == "Grüße"
    assert got["data"] == "Grüße aus Köln"
    assert got["count"] == 7
    assert got["flag"] is True

    binary_event = CloudEvent(
        {
            "specversion": "1.0",
            "id": "kawa-bytes",
            "source": "/s",
            "type": "t",
            "datacontenttype": "application/octet-stream",
        },
        b"\x00\x01\x02\xff",
    )
    got = await _post_and_read(url, stdout, http.to_structured(binary_event))
    assert got["data_base64"] == "AAEC/w=="
    got = await _post_and_read(url, stdout, http.to_binary(binary_event))
    assert got["data_base64"] == "AAEC/w=="


async def test_node_sdk_receives_a_kawa_batch(
    node_receiver: tuple[str, asyncio.StreamReader],
) -> None:
    url, stdout = node_receiver
    events = [
        CloudEvent(
            {"specversion": "1.0", "id": f"kawa-batch-{i}", "source": "/s", "type": "t"},
            None,
        )
        for i in range(2)
    ]
    headers, body = http.to_batch(events)
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, headers=headers, data=body) as resp,
    ):
        assert resp.status == 202
    lines = [await asyncio.wait_for(stdout.readline(), TIMEOUT) for _ in events]
    assert [orjson.loads(line)["event"]["id"] for line in lines] == ["kawa-batch-0", "kawa-batch-1"]
