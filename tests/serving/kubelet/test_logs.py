"""Container logs: CRI files, size cap and rotation, previous runs, and the log subresource
served over real HTTP by kawa's API server (the same routes kubectl uses)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from .kubelet_support import Node, api_server, conditions, container_status, pod_obj, sh

CRI_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) [FP] .*")
LOG = "/api/v1/namespaces/default/pods/{}/log"


class Api:
    """kawa's API server with the kubelet's log handler, on a loopback port."""

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self.session = session

    async def log(self, pod: str, **params: Any) -> tuple[int, str]:
        """The status and body (for an error Status: its message)."""
        query = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()}
        async with self.session.get(self.url + LOG.format(pod), params=query) as resp:
            if resp.status >= 400:
                body = await resp.json()
                assert (body["kind"], body["code"]) == ("Status", resp.status)
                return resp.status, str(body["message"])
            assert resp.content_type == "text/plain"
            return resp.status, await resp.text()


@pytest.fixture
async def api(node: Node) -> AsyncIterator[Api]:
    async with api_server(node) as url, aiohttp.ClientSession() as session:
        yield Api(url, session)


async def test_cri_files_and_long_lines(node: Node, api: Api) -> None:
    script = "echo out; echo err >&2; head -c 40000 /dev/zero | tr '\\0' a; echo; printf tail"
    await node.create(pod_obj("cri", [sh(script)], restart_policy="Never"))
    pod = await node.wait_phase("cri", "Succeeded")
    lines = node.log_file(pod).read_text().splitlines()
    assert all(CRI_LINE.fullmatch(line) for line in lines), lines[:3]
    streams = {line.split(" ")[1] for line in lines}
    assert streams == {"stdout", "stderr"}
    tags = [line.split(" ")[2] for line in lines if "aaaa" in line]
    assert tags == ["P", "P", "F"]  # 40000 bytes: two 16 KiB pieces and the end
    status, text = await api.log("cri")
    assert status == 200
    out = text.splitlines()
    assert sorted(out) == sorted(["out", "err", "a" * 40000, "tail"])
    stdout = [line for line in out if line != "err"]  # stderr is another pipe: any order
    assert stdout == ["out", "a" * 40000, "tail"]  # an unterminated last line is kept


async def test_tail_since_timestamps_limit(node: Node, api: Api) -> None:
    script = "for i in 1 2 3 4 5; do echo line$i; done; sleep 2; echo late; sleep 60"
    await node.create(pod_obj("talk", [sh(script)]))
    pod = await node.wait_pod("talk", lambda p: "late" in _read(node, p))
    assert (await api.log("talk"))[1] == "line1\nline2\nline3\nline4\nline5\nlate\n"
    assert (await api.log("talk", tailLines=2))[1] == "line5\nlate\n"
    assert (await api.log("talk", tailLines=0))[1] == ""
    assert (await api.log("talk", sinceSeconds=1))[1] == "late\n"
    _, stamped = await api.log("talk", timestamps=True)
    lines = stamped.splitlines()
    assert re.fullmatch(r"\S+Z line1", lines[0])
    third = lines[2].split(" ")[0]
    assert (await api.log("talk", sinceTime=third))[1].startswith("line3\n")
    assert (await api.log("talk", limitBytes=8))[1] == "line1\nli"
    assert conditions(pod)["Ready"] == "True"


async def test_follow_streams_until_the_container_ends(node: Node, api: Api) -> None:
    script = "for i in 1 2 3 4 5 6; do echo tick$i; sleep 0.2; done"
    await node.create(pod_obj("ticker", [sh(script)], restart_policy="Never"))
    await node.wait_pod("ticker", lambda p: container_status(p).get("ready") is True)
    status, text = await asyncio.wait_for(api.log("ticker", follow=True), 15)
    assert status == 200
    assert text == "".join(f"tick{i}\n" for i in range(1, 7))


async def test_follow_stops_when_the_client_goes_away(node: Node, api: Api) -> None:
    await node.create(pod_obj("forever", [sh("echo first; sleep 60")]))
    await node.wait_pod("forever", lambda p: "first" in _read(node, p))
    async with api.session.get(api.url + LOG.format("forever"), params={"follow": "true"}) as r:
        assert r.status == 200
        assert await r.content.readline() == b"first\n"
    # the client went away mid-stream: the server must still answer other requests
    assert (await api.log("forever"))[1] == "first\n"


async def test_log_cap_and_rotation(node: Node, api: Api) -> None:
    await node.configure("config-kawa-kubelet", {"log-max-bytes": "4Ki"})
    script = "i=0; while [ $i -lt 400 ]; do echo line-$i-padding-padding-padding; i=$((i+1)); done"
    await node.create(pod_obj("chatty", [sh(script)], restart_policy="Never"))
    pod = await node.wait_phase("chatty", "Succeeded")
    current, rotated = node.log_file(pod), node.log_file(pod, suffix=".log.1")
    assert rotated.exists()
    assert current.stat().st_size + rotated.stat().st_size <= 4096 + 200
    text = (await api.log("chatty"))[1]
    numbers = [int(line.split("-")[1]) for line in text.splitlines()]
    assert numbers[-1] == 399
    assert numbers == list(range(numbers[0], 400))  # contiguous, oldest dropped
    assert numbers[0] > 0


async def test_previous_run(node: Node, api: Api, tmp_path: Path) -> None:
    await node.configure("config-kawa-kubelet", {"crash-loop-backoff-initial": "100ms"})
    counter = tmp_path / "count"
    script = f"n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; "
    script += 'echo "run $n"; if [ $n -lt 3 ]; then exit 1; fi; sleep 60'
    await node.create(pod_obj("again", [sh(script)]))
    await node.wait_pod("again", lambda p: container_status(p).get("restartCount") == 2)
    await node.wait_pod("again", lambda p: "run 3" in _read(node, p))
    assert (await api.log("again"))[1] == "run 3\n"
    assert (await api.log("again", previous=True))[1] == "run 2\n"


async def test_errors_are_kubernetes_statuses(node: Node, api: Api) -> None:
    status, text = await api.log("missing")
    assert status == 404
    assert 'pods "missing" not found' in text
    two = pod_obj("two", [sh("sleep 60", name="a"), sh("sleep 60", name="b")])
    await node.create(two)
    await node.wait_pod("two", lambda p: conditions(p).get("Ready") == "True")
    status, text = await api.log("two")
    assert status == 400
    assert "a container name must be specified for pod two, choose one of: [a b]" in text
    status, text = await api.log("two", container="c")
    assert (status, "container c is not valid for pod two" in text) == (400, True)
    status, text = await api.log("two", container="a", previous=True)
    assert status == 400
    assert 'previous terminated container "a" in pod "two" not found' in text
    status, text = await api.log("two", container="a", tailLines="x")
    assert (status, "tailLines" in text) == (400, True)
    status, text = await api.log(
        "two", container="a", sinceSeconds=1, sinceTime="2024-01-01T00:00:00Z"
    )
    assert status == 400
    status, text = await api.log("two", container="b")
    assert status == 200
    async with api.session.post(api.url + LOG.format("two")) as resp:
        refused = await resp.json()
    assert (resp.status, refused["reason"], refused["code"]) == (405, "MethodNotAllowed", 405)


async def test_waiting_container_has_no_logs_yet(node: Node, api: Api) -> None:
    container = {"name": "c", "image": "unknown/image"}
    await node.create(pod_obj("waits", [container]))
    await node.wait_pod(
        "waits",
        lambda p: (
            "waiting" in container_status(p).get("state", {})
            and container_status(p)["state"]["waiting"]["reason"] == "ImageNotRunnable"
        ),
    )
    status, text = await api.log("waits")
    assert status == 400
    assert 'container "c" in pod "waits" is waiting to start: ImageNotRunnable' in text


def _read(node: Node, pod: dict[str, Any]) -> str:
    try:
        return node.log_file(pod).read_text()
    except FileNotFoundError:
        return ""
