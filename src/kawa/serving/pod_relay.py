"""The relay of Pod traffic between nodes: a node's kawa forwards a request another node's
kawa sent it to one of its own Pods (:mod:`kawa.serving.podnet` has the design).

:class:`PodRelay` follows Nodes (every node's kawa address) and Pods (this node's relay
targets) into a :class:`~kawa.serving.podnet.Directory`, which the router and the Service
proxy of this process consult to reach a Pod bound elsewhere. Its :meth:`PodRelay.host_handler`
goes first in kawa's front door: a request carrying :data:`~kawa.serving.podnet.TARGET_HEADER`
is sent to that Pod address if it is one of this node's Pods (headers, ``Host`` and body as
they came, but for hop-by-hop headers; the answer gets
:data:`~kawa.serving.podnet.RELAYED_BY_HEADER`), refused with 421 otherwise: never sent on
to another node, never to an address that is not a Pod's. Created and run by
:mod:`kawa.runtime` in every process (every worker shares the node's HTTP port).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from aiohttp import web

from kawa.apis import core
from kawa.reconciler.informer import inform
from kawa.serving import podnet, router
from kawa.store.base import Obj, ResourceStore, WatchEvent
from kawa.transport import bodies
from kawa.transport.front import HostHandler
from kawa.transport.http11 import HttpClient, HttpClientError, PreparedRequest

log = logging.getLogger(__name__)

Changed = Callable[[WatchEvent], Awaitable[None]]
TIMEOUT: Final = 300.0
"""Seconds the Pod has to answer (the sending node's own deadline is usually shorter)."""


def _text(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message + "\n")


def relay_headers(request: web.Request) -> list[tuple[str, str]]:
    """The request's end-to-end headers as they came (the sender added ``X-Forwarded-*``)."""
    connection_named = {
        token.strip().lower()
        for value in request.headers.getall("Connection", ())
        for token in value.split(",")
    }
    headers: list[tuple[str, str]] = []
    for raw_name, raw_value in request.raw_headers:
        name = raw_name.decode("latin-1")
        lowered = name.lower()
        if lowered not in router.HOP_BY_HOP and lowered not in connection_named:
            headers.append((name, raw_value.decode("latin-1")))
    return headers


class PodRelay:
    """This node's directory of Pod addresses, and its relay (see the module docstring)."""

    def __init__(self, store: ResourceStore, node_name: str) -> None:
        self._store = store
        self.directory = podnet.Directory(node_name)
        self._client: HttpClient | None = None
        self.ready = asyncio.Event()

    async def run(self) -> None:
        self._client = HttpClient()
        try:
            async with asyncio.TaskGroup() as tg:
                for resource, changed in (
                    (core.NODE.resource, self._on_node),
                    (core.POD.resource, self._on_pod),
                ):
                    listed = asyncio.Event()
                    follow = self._follow(resource, changed, listed)
                    tg.create_task(follow, name=f"relay-{resource}")
                    await listed.wait()
                self.ready.set()
        finally:
            await self._client.close()
            self._client = None

    async def _follow(self, resource: str, changed: Changed, listed: asyncio.Event) -> None:
        async def relisted(items: list[Obj]) -> None:
            if resource == core.POD.resource:  # forget a Pod deleted while the watch was lost
                self.directory.clear_pods()
                for item in items:
                    self.directory.set_pod(item)
            listed.set()

        await inform(self._store, resource, changed, on_listed=relisted)

    async def _on_node(self, event: WatchEvent) -> None:
        if event.type == "DELETED":
            self.directory.remove_node(str(event.object["metadata"]["name"]))
        else:
            self.directory.set_node(event.object)

    async def _on_pod(self, event: WatchEvent) -> None:
        if event.type == "DELETED":
            metadata = event.object["metadata"]
            self.directory.remove_pod(str(metadata.get("namespace", "")), str(metadata["name"]))
        else:
            self.directory.set_pod(event.object)

    def check_listening(self, host: str, advertised: str, port: int) -> None:
        """Warn when kawa does not listen where the other nodes will send this node's Pod
        traffic (its Node's ``InternalIP`` and ``port``)."""
        if host not in ("0.0.0.0", "::", advertised):
            log.warning(
                "other nodes reach the Pods of node %s through %s:%d, where kawa does not "
                "listen (--host %s)",
                self.directory.me,
                advertised,
                port,
                host,
            )

    # -- requests ---------------------------------------------------------------------------

    def claims(self, headers: Mapping[str, str]) -> bool:
        """Whether :meth:`host_handler` takes a request with these headers (the lean
        ingress path leaves it to aiohttp)."""
        return podnet.TARGET_HEADER in headers

    def host_handler(self) -> HostHandler:
        """A request with :data:`~kawa.serving.podnet.TARGET_HEADER` is relayed or refused
        here; any other goes on untouched (one header lookup)."""

        def by_target(request: web.Request) -> Awaitable[web.StreamResponse] | None:
            target = request.headers.get(podnet.TARGET_HEADER)
            return None if target is None else self.relay(request, target)

        return by_target

    async def relay(self, request: web.Request, header: str) -> web.StreamResponse:
        me = self.directory.me
        target = podnet.parse_target(header)
        if target is None:
            return _text(400, f"{podnet.TARGET_HEADER} {header[:60]!r} is not an ip:port")
        client = self._client
        if client is None or not self.ready.is_set():
            answer = _text(503, f"node {me}: kawa's Pod relay is starting")
            answer.headers["Retry-After"] = "1"
            return answer
        if not self.directory.allows(target):
            return _text(
                421,
                f"node {me} relays only to the declared ports of its own Pods: "
                f"{target[0]}:{target[1]} is not one of them (the Pod moved, ended, or is "
                "bound to another node)",
            )
        try:
            async with bodies.read(request, request.client_max_size) as body:
                headers = relay_headers(request)
                host = request.headers.get("Host") or f"{target[0]}:{target[1]}"
                path = router.origin_form(request)
                if request.method == "HEAD":
                    url = f"http://{target[0]}:{target[1]}{path}"
                    response = await client.request("HEAD", url, headers, body, TIMEOUT)
                else:
                    data = router.encode_request(request.method, path, host, headers, body)
                    prepared = PreparedRequest(("http", *target), data)
                    response = await client.send(prepared, TIMEOUT)
        except bodies.BodyError as err:
            answer = _text(err.status, str(err))
            answer.headers.update(err.headers)
            if err.close:
                answer.force_close()
            return answer
        except TimeoutError:
            return _text(504, f"node {me}: Pod {target[0]}:{target[1]} did not answer in time")
        except (HttpClientError, ValueError) as exc:
            return _text(502, f"node {me}: Pod {target[0]}:{target[1]} failed: {exc}")
        out = router.to_response(response)
        out.headers[podnet.RELAYED_BY_HEADER] = me
        return out
