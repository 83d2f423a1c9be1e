"""A Pod's log, exec and port-forward reach the kawa that runs it, through
:class:`~kawa.serving.kubelet.proxy.KubeletProxy`: real API servers on loopback ports (one per
"node", each with its own token, as separate data dirs have) over one SQLite store, and
stand-in kubelet handlers that answer with their node's name. Streams must flow as they
come (a follow), WebSockets pass messages both ways with the subprotocol upstream chose, a
refusal before the upgrade reads as the Pod's node said it, a node that cannot be reached
is 502, and a hop's signature is checked before anything else."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web

from kawa.apiserver import access
from kawa.apiserver.server import ApiServer
from kawa.errors import ValidationError
from kawa.serving.kubelet import hop
from kawa.serving.kubelet.proxy import KEY, KubeletProxy
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore
from kawa.transport.front import front_door

PODS = "/api/v1/namespaces/default/pods"
V5 = "v5.channel.k8s.io"


@dataclass
class Node:
    """One kawa process, as far as these requests go."""

    name: str
    token: str
    url: str = ""
    more: asyncio.Event = field(default_factory=asyncio.Event)
    served: list[str] = field(default_factory=list)

    async def log(self, request: web.Request, target: Any) -> web.StreamResponse:
        self.served.append(f"log {target.name}")
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        await response.write(f"line 1 from {self.name}\n".encode())
        if request.query.get("follow") == "true":
            await self.more.wait()  # the client must have line 1 before this
            await response.write(b"line 2\n")
        await response.write_eof()
        return response

    async def exec(self, request: web.Request, target: Any) -> web.StreamResponse:
        if request.query.get("container") == "bad":
            raise ValidationError.single("", f"container bad is not valid for pod {target.name}")
        self.served.append(f"exec {target.name}")
        ws = web.WebSocketResponse(protocols=(V5, "v4.channel.k8s.io"))
        await ws.prepare(request)
        while True:
            message = await ws.receive()
            if message.type == WSMsgType.BINARY:
                await ws.send_bytes(self.name.encode() + b":" + message.data)
            elif message.type == WSMsgType.TEXT and message.data == "bye":
                await ws.send_bytes(b"\x03done")
                await ws.close(code=4001)  # the code travels back too
                self.served.append("closed here")
                return ws
            elif message.type == WSMsgType.CLOSE:  # the client's close, and its code
                self.served.append(f"closed {message.data}")
                return ws


@dataclass
class Cluster:
    store: SqliteResourceStore
    nodes: dict[str, Node]
    client: aiohttp.ClientSession
    addresses: dict[str, tuple[str, int]]

    async def call(
        self, node: str, path: str, headers: Mapping[str, str] | None = None
    ) -> tuple[int, str]:
        sent = {"Authorization": f"Bearer {self.nodes[node].token}", **(headers or {})}
        async with self.client.get(self.nodes[node].url + path, headers=sent) as response:
            return response.status, await response.text()


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def pod(store: SqliteResourceStore, name: str, node: str) -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
    }
    await store.create(ResourceKey("pods", "default", name), obj)


@contextlib.asynccontextmanager
async def cluster() -> AsyncIterator[Cluster]:
    """Nodes ``a`` and ``b``, a worker ``a1`` of ``a`` (its kubelet is in ``a``), and a node
    ``c`` whose kubelet endpoint nothing listens on; Pods ``on-a``, ``on-b``, ``on-c``."""
    store = SqliteResourceStore(":memory:", history=1000)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}
    await store.create(ResourceKey("namespaces", "", "default"), namespace)
    for name, on in (("on-a", "a"), ("on-b", "b"), ("on-c", "c")):
        await pod(store, name, on)
    nodes = {name: Node(name, f"token-{name}") for name in ("a", "b", "a1")}
    addresses: dict[str, tuple[str, int]] = {"c": ("127.0.0.1", closed_port())}
    runners: list[web.AppRunner] = []
    try:
        for name, node in nodes.items():
            proxy = KubeletProxy(
                store,
                name.rstrip("1"),
                kubelet_here=name != "a1",
                node_address=addresses.get,
                worker_zero_url=lambda: nodes["a"].url,
            )
            await proxy.ensure_key()
            guard = access.token_guard(node.token, signed=proxy.signed)
            app = web.Application(middlewares=[front_door([], guard)])
            api = ApiServer(store)
            api.add_subresource("pods", "log", proxy.wrap(node.log))
            api.add_subresource("pods", "exec", proxy.wrap(node.exec))
            api.install(app)
            runner = web.AppRunner(app, handler_cancellation=True)
            await runner.setup()
            runners.append(runner)
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            port = runner.addresses[0][1]
            node.url = f"http://127.0.0.1:{port}"
            if name != "a1":
                addresses[name] = ("127.0.0.1", port)
        async with aiohttp.ClientSession() as client:
            yield Cluster(store, nodes, client, addresses)
    finally:
        for runner in runners:
            await runner.cleanup()
        await store.close()


async def test_logs_of_a_pod_on_another_node_come_from_that_node() -> None:
    async with cluster() as c:
        assert await c.call("a", f"{PODS}/on-b/log") == (200, "line 1 from b\n")
        assert await c.call("a", f"{PODS}/on-a/log") == (200, "line 1 from a\n")  # no hop
        assert c.nodes["b"].served == ["log on-b"]
        assert c.nodes["a"].served == ["log on-a"]
        # a worker without the kubelet sends it to worker 0 of its node
        assert await c.call("a1", f"{PODS}/on-a/log") == (200, "line 1 from a\n")
        assert await c.call("a1", f"{PODS}/on-b/log") == (200, "line 1 from b\n")
        assert c.nodes["a1"].served == []


async def test_a_follow_streams_as_it_comes() -> None:
    async with cluster() as c:
        headers = {"Authorization": "Bearer token-a"}
        url = c.nodes["a"].url + f"{PODS}/on-b/log?follow=true"
        async with c.client.get(url, headers=headers) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            first = await asyncio.wait_for(response.content.readline(), 10)
            assert first == b"line 1 from b\n"  # while b still holds the stream open
            c.nodes["b"].more.set()
            assert await asyncio.wait_for(response.content.read(), 10) == b"line 2\n"


async def test_exec_on_another_node_is_a_websocket_passed_both_ways() -> None:
    async with cluster() as c:
        url = c.nodes["a"].url + f"{PODS}/on-b/exec?command=sh"
        headers = {"Authorization": "Bearer token-a"}
        async with c.client.ws_connect(
            url, headers=headers, protocols=("v5.channel.k8s.io", "v4.channel.k8s.io")
        ) as ws:
            assert ws.protocol == V5
            await ws.send_bytes(b"\x00hello")
            assert await asyncio.wait_for(ws.receive_bytes(), 10) == b"b:\x00hello"
            await ws.send_str("bye")
            assert await asyncio.wait_for(ws.receive_bytes(), 10) == b"\x03done"
            closing = await asyncio.wait_for(ws.receive(), 10)
            assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED), closing
            assert ws.close_code == 4001
        # the client closes first (a port-forward's end): the Pod's node sees it
        async with c.client.ws_connect(url, headers=headers, protocols=(V5,)) as ws:
            await ws.send_bytes(b"\x00x")
            assert await asyncio.wait_for(ws.receive_bytes(), 10) == b"b:\x00x"
            await ws.close(code=4002)
        served = c.nodes["b"].served
        await wait_for(lambda: len(served) == 4)
        assert served[0::2] == ["exec on-b", "exec on-b"]
        assert served[3] == "closed 4002"  # the client's code, passed on
        assert c.nodes["a"].served == []


async def test_a_refusal_before_the_upgrade_reads_as_the_pods_node_said_it() -> None:
    async with cluster() as c:
        url = c.nodes["a"].url + f"{PODS}/on-b/exec?command=sh&container=bad"
        headers = {"Authorization": "Bearer token-a"}
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await c.client.ws_connect(url, headers=headers, protocols=(V5,))
        assert refused.value.status == 400
        status, text = await c.call("a", f"{PODS}/on-b/exec?command=sh&container=bad")
        assert status == 400
        assert "container bad is not valid for pod on-b" in text
        status, text = await c.call("a", f"{PODS}/nope/log")
        assert status == 404, text
        assert 'pods \\"nope\\" not found' in text, text


async def test_a_node_that_cannot_be_reached_is_502() -> None:
    async with cluster() as c:
        status, text = await c.call("a", f"{PODS}/on-c/log")
        assert status == 502, text
        assert "error dialing backend: node c:" in text, text
        url = c.nodes["a"].url + f"{PODS}/on-c/exec?command=sh"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await c.client.ws_connect(url, headers={"Authorization": "Bearer token-a"})
        assert refused.value.status == 502


async def test_a_hop_is_checked_before_anything_else() -> None:
    async with cluster() as c:
        secret = await c.store.get(KEY)
        key = hop.key_of(secret)
        path = f"{PODS}/on-b/log"
        b = c.nodes["b"].url
        for value in (
            hop.sign(b"x" * 32, "GET", path, now=time.time()),  # another key
            hop.sign(key, "GET", path, now=time.time() - 60),  # expired
            hop.sign(key, "GET", f"{PODS}/on-a/log", now=time.time()),  # another Pod's
            "garbage",
        ):
            async with c.client.get(b + path, headers={hop.HEADER: value}) as response:
                assert response.status == 401, value
                assert "Kawa-Kubelet-Hop" in await response.text()
        missing = hop.sign(b"x" * 32, "GET", f"{PODS}/nope/log", now=time.time())
        async with c.client.get(b + f"{PODS}/nope/log", headers={hop.HEADER: missing}) as r:
            assert r.status == 401  # not 404: no Pod names for a bad signature
        good = hop.sign(key, "GET", path, now=time.time())
        async with c.client.get(b + path, headers={hop.HEADER: good}) as response:
            assert response.status == 200
            assert await response.text() == "line 1 from b\n"
        # the hop header opens only a Pod's streams, not the rest of the API
        other = "/api/v1/namespaces/default/pods/on-b"
        forged = hop.sign(key, "GET", other, now=time.time())
        async with c.client.get(b + other, headers={hop.HEADER: forged}) as response:
            assert response.status == 401
        assert c.nodes["b"].served == ["log on-b"]


async def test_the_key_is_made_once_and_shared() -> None:
    async with cluster() as c:
        first = hop.key_of(await c.store.get(KEY))
        proxy = KubeletProxy(
            c.store, "z", kubelet_here=True, node_address=c.addresses.get, worker_zero_url=str
        )
        assert await proxy.ensure_key() == first
        assert len(first) == hop.KEY_BYTES


async def test_a_deleted_key_is_made_anew_and_a_broken_one_named() -> None:
    async with cluster() as c:
        old = hop.key_of(await c.store.get(KEY))
        await c.store.delete(KEY)  # manual rotation
        assert await c.call("a", f"{PODS}/on-b/log") == (200, "line 1 from b\n")
        new = hop.key_of(await c.store.get(KEY))
        assert new != old
        stale = hop.sign(old, "GET", f"{PODS}/on-b/log", now=time.time())
        async with c.client.get(
            c.nodes["b"].url + f"{PODS}/on-b/log", headers={hop.HEADER: stale}
        ) as response:
            assert response.status == 401  # the old key no longer opens anything
        secret = await c.store.get(KEY)
        secret["data"] = {"key": "not base64!"}
        await c.store.update(KEY, secret)
        status, text = await c.call("a", f"{PODS}/on-b/log")
        assert status == 503, text
        assert "kawa-kubelet-hop: data.key: not base64 (delete the Secret" in text, text
        proxy = KubeletProxy(
            c.store, "z", kubelet_here=True, node_address=c.addresses.get, worker_zero_url=str
        )
        await proxy.prepare()  # logged, not raised: the node still starts
