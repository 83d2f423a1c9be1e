"""A Pod's ``log``, ``exec`` and ``portforward`` served wherever the Pod runs.

:class:`KubeletProxy` wraps the kubelet's subresource handlers (:meth:`KubeletProxy.wrap`,
registered by :mod:`kawa.runtime` with ``ApiServer.add_subresource``). For each request it
reads the Pod, asks :func:`.hop.decide` where it is served, and either calls the local
handler or forwards the request, signed (:data:`.hop.HEADER`), to the Pod's node's kawa or
to worker 0 of this node:

- a plain request (``kubectl logs``, ``logs -f``: a long stream) is sent with its method,
  target and body, and the answer streamed back chunk by chunk as it comes;
- a WebSocket upgrade (``exec``, ``port-forward``) is opened upstream first with the
  subprotocols the client offered, then accepted downstream with the one upstream chose,
  and the messages (binary, text, close) passed both ways until either side closes. A
  refused upgrade is asked again without the upgrade, so the client reads the refusal's
  ``Status`` (404, 400) as the Pod's node said it.

A node that cannot be reached is ``502`` with Kubernetes' words (``error dialing backend:
...``). A request that arrives with the hop header is verified before anything else (an
invalid one is 401); :meth:`KubeletProxy.signed` lets the API's token check pass such
requests on to here. The key is read from the Secret ``kube-system/kawa-kubelet-hop`` for
each hop (so a replaced key holds at once), created at start-up if missing
(:meth:`KubeletProxy.ensure_key`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

import aiohttp
from aiohttp import WSMsgType, web
from yarl import URL

from kawa.apis import core
from kawa.errors import (
    AlreadyExistsError,
    BadGatewayError,
    KawaError,
    NotFoundError,
    UnauthorizedError,
)
from kawa.serving.kubelet import hop
from kawa.store.base import ResourceKey, ResourceStore

log = logging.getLogger(__name__)

Handler = Callable[[web.Request, Any], Awaitable[web.StreamResponse]]
Address = tuple[str, int]

CONNECT_TIMEOUT: Final = 10.0
"""Seconds to connect to the Pod's node before answering 502."""
CHUNK: Final = 64 * 1024
OK: Final = aiohttp.WSCloseCode.OK
KEY: Final = ResourceKey(core.SECRET.resource, hop.SECRET_NAMESPACE, hop.SECRET_NAME)

_NOT_FORWARDED: Final = frozenset(
    {
        "host",
        "authorization",
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        hop.HEADER.lower(),
    }
)
"""Request headers a hop does not carry (hop-by-hop ones, the client's credentials, and
an incoming hop: each hop is signed anew)."""
_WEBSOCKET: Final = frozenset(
    {
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
    }
)
_NOT_RETURNED: Final = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "server"}
)


class KubeletProxy:
    """Routes a Pod's streaming subresources to the process whose kubelet runs the Pod."""

    def __init__(
        self,
        store: ResourceStore,
        node_name: str,
        *,
        kubelet_here: bool,
        node_address: Callable[[str], Address | None],
        worker_zero_url: Callable[[], str | None],
    ) -> None:
        self.store = store
        self.node_name = node_name
        self.kubelet_here = kubelet_here
        self._node_address = node_address
        self._worker_zero_url = worker_zero_url

    # -- the key ---------------------------------------------------------------------------

    async def ensure_key(self) -> bytes:
        """The cluster's hop key, from its Secret (created here if there is none yet)."""
        try:
            secret = await self.store.get(KEY)
        except NotFoundError:
            try:
                secret = await self.store.create(
                    KEY, hop.new_secret(secrets.token_bytes(hop.KEY_BYTES))
                )
                log.info("created the kubelet hop key (Secret %s/%s)", KEY.namespace, KEY.name)
            except AlreadyExistsError:  # another node made it first
                secret = await self.store.get(KEY)
        try:
            return hop.key_of(secret)
        except ValueError as err:  # edited by hand; deleting it makes a new one
            raise KawaError(f"{err} (delete the Secret to make a new key)") from None

    async def prepare(self) -> None:
        """Make the key at start-up if no node has yet; a Secret that holds no usable key is
        logged (hops fail, 503 naming the field, until it is fixed or deleted)."""
        try:
            await self.ensure_key()
        except KawaError as err:
            log.warning("kubelet hops to other nodes will fail: %s", err)

    # -- the API's token check -------------------------------------------------------------

    @staticmethod
    def signed(request: web.Request) -> bool:
        """Whether ``request`` claims to be a hop (verified by :meth:`wrap`'s handler, first)."""
        return hop.HEADER in request.headers and hop.is_stream_path(request.path)

    # -- routing ---------------------------------------------------------------------------

    def wrap(self, local: Handler) -> Handler:
        """``local`` (the kubelet's handler), served wherever the Pod runs."""

        async def serve(request: web.Request, target: Any) -> web.StreamResponse:
            given = request.headers.get(hop.HEADER)
            if given is not None:
                key = await self.ensure_key()
                try:
                    hop.verify(key, given, request.method, request.raw_path, now=time.time())
                except hop.HopRefused as err:
                    raise UnauthorizedError(f"Unauthorized: {err}") from None
            namespace = str(getattr(target, "namespace", None) or "default")
            name = str(getattr(target, "name", None) or "")
            pod = await self.store.get(ResourceKey(core.POD.resource, namespace, name))
            pod_node = (pod.get("spec") or {}).get("nodeName")
            address = self._node_address(pod_node) if isinstance(pod_node, str) else None
            where = hop.decide(
                pod_node if isinstance(pod_node, str) else None,
                me=self.node_name,
                kubelet_here=self.kubelet_here,
                hopped=given is not None,
                node_url=None if address is None else _url(address),
                worker_zero_url=None if self.kubelet_here else self._worker_zero_url(),
            )
            if isinstance(where, hop.Local):
                return await local(request, target)
            return await self.forward(request, where)

        return serve

    async def forward(self, request: web.Request, where: hop.Forward) -> web.StreamResponse:
        """Send ``request`` to ``where``, signed, and relay the answer or the stream."""
        key = await self.ensure_key()
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session:
            try:
                if request.headers.get("Upgrade", "").lower() == "websocket":
                    return await _websocket(session, request, where, key)
                return await _plain(session, request, where, key)
            except aiohttp.ClientConnectorError as err:
                log.warning("kubelet hop to %s failed: %s", where.to, err)
                raise BadGatewayError(f"error dialing backend: {where.to}: {err}") from None


def _url(address: Address) -> str:
    host = f"[{address[0]}]" if ":" in address[0] else address[0]
    return f"http://{host}:{address[1]}"


def _headers(request: web.Request, key: bytes, *, websocket: bool) -> dict[str, str]:
    skip = _NOT_FORWARDED | _WEBSOCKET if websocket else _NOT_FORWARDED
    out = {
        name: value
        for name, value in request.headers.items()
        if name.lower() not in skip and not name.lower().startswith("impersonate-")
    }
    out[hop.HEADER] = hop.sign(key, request.method, request.raw_path, now=time.time())
    return out


async def _plain(
    session: aiohttp.ClientSession, request: web.Request, where: hop.Forward, key: bytes
) -> web.StreamResponse:
    body = await request.read()
    async with session.request(
        request.method,
        URL(where.url + request.raw_path, encoded=True),
        headers=_headers(request, key, websocket=False),
        data=body or None,
        allow_redirects=False,
    ) as upstream:
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for name, value in upstream.headers.items():
            if name.lower() not in _NOT_RETURNED:
                response.headers.add(name, value)
        await response.prepare(request)
        async for chunk in upstream.content.iter_chunked(CHUNK):
            await response.write(chunk)  # as it comes: logs -f is a long stream
        await response.write_eof()
        return response


async def _websocket(
    session: aiohttp.ClientSession, request: web.Request, where: hop.Forward, key: bytes
) -> web.StreamResponse:
    offered = [
        p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()
    ]
    try:
        upstream = await session.ws_connect(
            URL(where.url + request.raw_path, encoded=True),
            method=request.method,
            protocols=offered,
            headers=_headers(request, key, websocket=True),
            autoping=True,
            autoclose=False,  # a close is answered once passed on (its code with it)
            max_msg_size=0,
        )
    except aiohttp.WSServerHandshakeError:
        # refused before the upgrade: the same request, plain, answers with the Status
        return await _plain(session, request, where, key)
    try:
        chosen = (upstream.protocol,) if upstream.protocol else ()
        downstream = web.WebSocketResponse(
            protocols=chosen, autoping=True, autoclose=False, max_msg_size=0
        )
        await downstream.prepare(request)
        pumps = [
            asyncio.create_task(_pump(upstream, downstream), name="hop-down"),
            asyncio.create_task(_pump(downstream, upstream), name="hop-up"),
        ]
        try:
            done, _ = await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pumps:  # no reader left when closing (aiohttp waits for one)
                task.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
        # the side that ended first says how: its close code goes to the other side
        code = next(iter(done)).result()
        if pumps[1] in done:
            await upstream.close(code=code)
        with contextlib.suppress(Exception):
            await downstream.close(code=code)
        return downstream
    finally:
        await upstream.close()


async def _pump(
    source: aiohttp.ClientWebSocketResponse | web.WebSocketResponse,
    sink: aiohttp.ClientWebSocketResponse | web.WebSocketResponse,
) -> int:
    """Pass ``source``'s messages to ``sink`` until ``source`` closes; its close code."""
    while True:
        message = await source.receive()
        if message.type == WSMsgType.BINARY:
            await sink.send_bytes(message.data)
        elif message.type == WSMsgType.TEXT:
            await sink.send_str(message.data)
        elif message.type == WSMsgType.CLOSE:
            return int(message.data or OK)
        elif message.type in (WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return source.close_code or OK
