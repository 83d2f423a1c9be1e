"""The Pod ``exec`` and ``portforward`` subresources, as kubectl 1.32 speaks them.

``GET|POST /api/v1/namespaces/<ns>/pods/<name>/exec?command=...`` upgraded to a WebSocket
with the channel protocol (:mod:`.channels`: ``v5.channel.k8s.io`` or ``v4``), and
``.../portforward?ports=...`` upgraded to a WebSocket tunnelling SPDY/3.1
(``SPDY/3.1+portforward.k8s.io``, :mod:`.spdy`): what kubectl uses by default since 1.30
(exec) and 1.31 (port-forward). A request that is no WebSocket upgrade (kubectl's SPDY
fallback, taken only when the upgrade fails) is answered 400 with that reason.

Before the upgrade, errors are ``Status`` responses (the API server's error table): an
unknown Pod 404, a bad query or a container that is not valid for the Pod 400, a Pod whose
container is not running here 400 (``container "c" in pod "p" is not running``). The command
runs through the node's :class:`~.streaming.StreamingRuntime`; its exit code ends the
exchange on the error stream (kubectl prints ``command terminated with exit code N`` and
exits N), a command that cannot start is exit code 127 (not found) or 126 with the reason on
stderr, as a shell says it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from aiohttp import WSMsgType, web

from kawa.apis import core
from kawa.errors import ValidationError
from kawa.serving.kubelet import channels, spdy
from kawa.serving.kubelet.log_handler import choose_container, waiting_reason
from kawa.serving.kubelet.streaming import StartError, StreamingRuntime, Target
from kawa.store.base import ResourceKey, ResourceStore

log = logging.getLogger(__name__)

PORT_FORWARD_PROTOCOL: Final = "SPDY/3.1+portforward.k8s.io"


class StreamSource(Protocol):
    """The kubelet, as these handlers see it."""

    @property
    def store(self) -> ResourceStore: ...

    @property
    def streaming(self) -> StreamingRuntime: ...

    def streaming_target(
        self, namespace: str, name: str, uid: str, container: str
    ) -> Target | None:
        """The running container (None when it does not run here)."""
        ...


def _bad(message: str) -> ValidationError:
    return ValidationError.single("", message)


def _websocket(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


def _no_spdy(what: str) -> ValidationError:
    return _bad(
        f"kawa serves {what} over WebSocket only (kubectl 1.31 or newer); "
        "this request asked for SPDY"
    )


async def _pod(kubelet: StreamSource, target: Any) -> tuple[dict[str, Any], str, str, str]:
    namespace = str(target.namespace or "default")
    name = str(target.name or "")
    pod = await kubelet.store.get(ResourceKey(core.POD.resource, namespace, name))
    uid = str((pod.get("metadata") or {}).get("uid") or "")
    return pod, namespace, name, uid


def _running(
    kubelet: StreamSource, pod: dict[str, Any], namespace: str, name: str, uid: str, container: str
) -> Target:
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        raise _bad(f"cannot exec into a container in a completed pod; current phase is {phase}")
    found = kubelet.streaming_target(namespace, name, uid, container)
    if found is not None:
        return found
    reason = waiting_reason(pod, container)
    if reason is not None:
        raise _bad(f'container "{container}" in pod "{name}" is waiting to start: {reason}')
    node = (pod.get("spec") or {}).get("nodeName")
    if not node:
        raise _bad(f"pod {name} does not have a host assigned")
    raise _bad(f'container "{container}" in pod "{name}" is not running on this node')


# -- exec -----------------------------------------------------------------------------------


async def serve_exec(
    kubelet: StreamSource, request: web.Request, target: Any
) -> web.StreamResponse:
    if request.method not in ("GET", "POST"):
        raise _bad(f"{request.method} is not allowed on pods/exec")
    pod, namespace, name, uid = await _pod(kubelet, target)
    options = channels.ExecOptions.parse(request.query, request.query.getall("command", []))
    container = choose_container(pod, options.container)
    where = _running(kubelet, pod, namespace, name, uid, container)
    if not _websocket(request):
        raise _no_spdy("exec")
    ws = web.WebSocketResponse(protocols=channels.PROTOCOLS, autoping=True, max_msg_size=0)
    await ws.prepare(request)
    if ws.ws_protocol not in channels.PROTOCOLS:
        await ws.close(message=b"unsupported subprotocol")
        return ws
    try:
        await _exec(kubelet.streaming, ws, where, options)
    except (ConnectionError, asyncio.CancelledError):
        raise
    except Exception as err:  # never a traceback to kubectl: a Status on the error stream
        log.warning("exec in %s/%s failed: %s", namespace, name, err, exc_info=True)
        with contextlib.suppress(Exception):
            await ws.send_bytes(channels.status_frame(channels.failure_status(str(err))))
    finally:
        await ws.close()
    return ws


async def _exec(
    runtime: StreamingRuntime,
    ws: web.WebSocketResponse,
    where: Target,
    options: channels.ExecOptions,
) -> None:
    async def output(stream: int, data: bytes) -> None:
        if (stream == channels.STDOUT and options.stdout) or (
            stream == channels.STDERR and options.stderr
        ):
            await ws.send_bytes(channels.frame(stream, data))

    try:
        execution = await runtime.exec(
            where, options.command, output, stdin=options.stdin, tty=options.tty
        )
    except StartError as err:
        if options.stderr or options.tty:
            stream = channels.STDOUT if options.tty else channels.STDERR
            await ws.send_bytes(channels.frame(stream, f"{err.message}\n".encode()))
        await ws.send_bytes(channels.status_frame(channels.exit_status(err.code, options.command)))
        return
    v5 = ws.ws_protocol == channels.V5

    async def read_client() -> None:
        async for message in ws:
            if message.type != WSMsgType.BINARY:
                continue
            parts = channels.split(message.data)
            if parts is None:
                continue
            stream, data = parts
            if stream == channels.STDIN and options.stdin:
                await execution.write(data)
            elif stream == channels.RESIZE:
                size = channels.resize(data)
                if size is not None:
                    execution.resize(*size)
            elif v5 and stream == channels.CLOSE and data[:1] == bytes((channels.STDIN,)):
                execution.close_stdin()

    reader = asyncio.ensure_future(read_client())
    waiter = asyncio.ensure_future(execution.wait())
    try:
        await asyncio.wait({reader, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if not waiter.done():  # the client went away
            return
        code = waiter.result()
        await ws.send_bytes(channels.status_frame(channels.exit_status(code, options.command)))
    finally:
        execution.kill()
        for task in (reader, waiter):
            task.cancel()
        await asyncio.gather(reader, waiter, return_exceptions=True)


# -- port-forward ---------------------------------------------------------------------------


def _ports(query: Any) -> list[int]:
    ports: list[int] = []
    for value in query.getall("ports", []):
        for text in str(value).split(","):
            try:
                port = int(text)
            except ValueError:
                raise _bad(f"invalid port {text!r}") from None
            if not 0 < port < 65536:
                raise _bad(f"port {port} must be > 0 and < 65536")
            ports.append(port)
    return ports


async def serve_port_forward(
    kubelet: StreamSource, request: web.Request, target: Any
) -> web.StreamResponse:
    if request.method not in ("GET", "POST"):
        raise _bad(f"{request.method} is not allowed on pods/portforward")
    pod, namespace, name, uid = await _pod(kubelet, target)
    ports = _ports(request.query)
    containers = [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or ()]
    where = None
    for container in containers:
        where = kubelet.streaming_target(namespace, name, uid, container)
        if where is not None:
            break
    if where is None:
        phase = (pod.get("status") or {}).get("phase") or "Pending"
        raise _bad(f"unable to forward port because pod is not running. Current status={phase}")
    if not _websocket(request):
        raise _no_spdy("port-forward")
    ws = web.WebSocketResponse(protocols=(PORT_FORWARD_PROTOCOL,), autoping=True, max_msg_size=0)
    await ws.prepare(request)
    if ws.ws_protocol != PORT_FORWARD_PROTOCOL:
        await ws.close(message=b"unsupported subprotocol")
        return ws
    session = _ForwardSession(kubelet.streaming, ws, where, set(ports))
    try:
        await session.run()
    finally:
        await session.close()
        await ws.close()
    return ws


@dataclass
class _Pair:
    """The two streams of one forwarded connection (``requestid``)."""

    port: int
    data: int = 0
    error: int = 0
    task: asyncio.Task[None] | None = None
    to_pod: asyncio.StreamWriter | None = None
    pending: list[bytes] = field(default_factory=list)
    client_done: bool = False


class _ForwardSession:
    def __init__(
        self, runtime: StreamingRuntime, ws: web.WebSocketResponse, where: Target, ports: set[int]
    ) -> None:
        self._runtime = runtime
        self._ws = ws
        self._where = where
        self._ports = ports
        self._parser = spdy.Parser()
        self._codec = spdy.HeaderCodec()
        self._pairs: dict[str, _Pair] = {}
        self._by_stream: dict[int, _Pair] = {}
        self._send_lock = asyncio.Lock()

    async def _send(self, data: bytes) -> None:
        async with self._send_lock:
            if not self._ws.closed:
                await self._ws.send_bytes(data)

    async def run(self) -> None:
        async for message in self._ws:
            if message.type != WSMsgType.BINARY:
                continue
            try:
                frames = self._parser.feed(message.data)
            except spdy.ProtocolError as err:
                log.warning("port-forward: %s", err)
                return
            for frame in frames:
                await self._on_frame(frame)

    async def _on_frame(self, frame: spdy.Frame) -> None:
        if not frame.control:
            pair = self._by_stream.get(frame.stream_id)
            if pair is None or frame.stream_id != pair.data:
                return  # the error stream carries nothing from the client
            if frame.payload:
                if pair.to_pod is None:
                    pair.pending.append(frame.payload)
                else:
                    pair.to_pod.write(frame.payload)
            if frame.fin:
                pair.client_done = True
                if pair.to_pod is not None and pair.to_pod.can_write_eof():
                    with contextlib.suppress(OSError):
                        pair.to_pod.write_eof()
            return
        if frame.type == spdy.SYN_STREAM:
            try:
                headers = spdy.syn_stream_headers(frame, self._codec)
            except spdy.ProtocolError as err:
                log.warning("port-forward: %s", err)
                await self._send(spdy.rst_stream(frame.stream_id))
                return
            await self._on_stream(frame.stream_id, headers)
        elif frame.type == spdy.PING:
            await self._send(spdy.ping(frame.payload))
        elif frame.type == spdy.RST_STREAM:
            pair = self._by_stream.get(frame.stream_id)
            if pair is not None and pair.task is not None:
                pair.task.cancel()

    async def _on_stream(self, stream_id: int, headers: dict[str, str]) -> None:
        await self._send(spdy.syn_reply(stream_id, self._codec))
        kind = headers.get("streamtype", "")
        request = headers.get("requestid", "")
        try:
            port = int(headers.get("port", ""))
        except ValueError:
            await self._send(spdy.rst_stream(stream_id))
            return
        pair = self._pairs.setdefault(request, _Pair(port))
        if kind == "data":
            pair.data = stream_id
        elif kind == "error":
            pair.error = stream_id
        else:
            await self._send(spdy.rst_stream(stream_id))
            return
        self._by_stream[stream_id] = pair
        if pair.data and pair.error and pair.task is None:
            pair.task = asyncio.ensure_future(self._forward(request, pair))

    async def _forward(self, request: str, pair: _Pair) -> None:
        where = self._where
        try:
            if self._ports and pair.port not in self._ports:
                raise OSError(f"port {pair.port} was not requested")
            reader, writer = await self._runtime.connect(where, pair.port)
        except OSError as err:
            message = (
                f"error forwarding port {pair.port} to pod {where.pod}, uid {where.uid}: {err}"
            )
            await self._send(spdy.data(pair.error, message.encode(), fin=True))
            await self._send(spdy.data(pair.data, b"", fin=True))
            self._drop(request, pair)
            return
        pair.to_pod = writer
        for chunk in pair.pending:
            writer.write(chunk)
        pair.pending.clear()
        if pair.client_done and writer.can_write_eof():
            writer.write_eof()
        try:
            while data := await reader.read(65536):
                await self._send(spdy.data(pair.data, data))
            await self._send(spdy.data(pair.data, b"", fin=True))
            await self._send(spdy.data(pair.error, b"", fin=True))
        except (OSError, ConnectionError):
            await self._send(spdy.rst_stream(pair.data))
        finally:
            writer.close()
            self._drop(request, pair)

    def _drop(self, request: str, pair: _Pair) -> None:
        self._pairs.pop(request, None)
        self._by_stream.pop(pair.data, None)
        self._by_stream.pop(pair.error, None)

    async def close(self) -> None:
        tasks = [p.task for p in self._pairs.values() if p.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for pair in self._pairs.values():
            if pair.to_pod is not None:
                pair.to_pod.close()
