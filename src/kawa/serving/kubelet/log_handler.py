"""The Pod ``log`` subresource: ``GET /api/v1/namespaces/<ns>/pods/<name>/log``.

Serves what ``kubectl logs`` asks for, with Kubernetes' query parameters: ``container``
(required when the Pod has several), ``follow``, ``previous``, ``timestamps``,
``tailLines``, ``sinceSeconds`` / ``sinceTime`` and ``limitBytes``; the body is
``text/plain``. ``follow`` streams new lines until the container's run ends or the client
goes away. Errors are raised as kawa errors (the API server turns them into ``Status``
objects): an unknown Pod is ``NotFoundError`` (404), a bad request ``ValidationError``
without a field path (400, Kubernetes' wording), a verb other than GET
``MethodNotAllowedError`` (405). Called through
:meth:`kawa.serving.kubelet.Kubelet.pod_log`, which passes itself as the :class:`PodLogSource`
(the little of the kubelet this module needs, so that it does not import the kubelet).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from aiohttp import web

from kawa.apis import core
from kawa.errors import MethodNotAllowedError, ValidationError
from kawa.serving.kubelet.container import ContainerRunner
from kawa.serving.kubelet.logs import (
    Entry,
    log_dir,
    log_files,
    parse_entries,
    parse_timestamp,
    render,
)
from kawa.store.base import ResourceKey, ResourceStore

FOLLOW_WAKE = 0.5
"""While following, how often a quiet stream checks whether the client is still there."""

_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


class PodLogSource(Protocol):
    """Where the Pods' logs are: the kubelet, as this module sees it."""

    @property
    def store(self) -> ResourceStore:
        """Where the Pods are."""
        ...

    @property
    def logs_root(self) -> Path:
        """The directory of the Pods' log files (see :func:`kawa.serving.kubelet.logs.log_dir`)."""
        ...

    def container_runner(
        self, namespace: str, name: str, uid: str, container: str
    ) -> ContainerRunner | None:
        """The runner of that container if it runs here (to follow its log), else None."""
        ...


def _bad(message: str) -> ValidationError:
    return ValidationError.single("", message)


def _bool(query: Mapping[str, str], name: str) -> bool:
    value = query.get(name)
    if value is None or value == "":
        return False
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise _bad(f"invalid value {value!r} for query parameter {name}: expected true or false")


def _int(query: Mapping[str, str], name: str, *, minimum: int) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise _bad(
            f"invalid value {value!r} for query parameter {name}: expected an integer"
        ) from None
    if number < minimum:
        raise _bad(f"invalid value {value!r} for query parameter {name}: must be >= {minimum}")
    return number


@dataclass(frozen=True, slots=True)
class LogQuery:
    """The query parameters of one log request."""

    container: str
    follow: bool
    previous: bool
    timestamps: bool
    tail_lines: int | None
    since_ns: int | None
    limit_bytes: int | None

    @classmethod
    def parse(cls, query: Mapping[str, str], *, now_ns: int) -> LogQuery:
        since_seconds = _int(query, "sinceSeconds", minimum=1)
        since_time = query.get("sinceTime") or None
        if since_seconds is not None and since_time is not None:
            raise _bad("at most one of `sinceTime` or `sinceSeconds` may be specified")
        since_ns = None
        if since_seconds is not None:
            since_ns = now_ns - since_seconds * 1_000_000_000
        elif since_time is not None:
            try:
                since_ns = parse_timestamp(since_time)
            except ValueError:
                raise _bad(
                    f"invalid value {since_time!r} for query parameter sinceTime: expected "
                    "an RFC 3339 time such as 2024-05-01T12:00:00Z"
                ) from None
        return cls(
            container=query.get("container", ""),
            follow=_bool(query, "follow"),
            previous=_bool(query, "previous"),
            timestamps=_bool(query, "timestamps"),
            tail_lines=_int(query, "tailLines", minimum=0),
            since_ns=since_ns,
            limit_bytes=_int(query, "limitBytes", minimum=1),
        )


def _names(pod: Mapping[str, Any], key: str) -> list[str]:
    items = (pod.get("spec") or {}).get(key)
    return [str(c.get("name")) for c in items or () if isinstance(c, Mapping)]


def choose_container(pod: Mapping[str, Any], wanted: str) -> str:
    name = str((pod.get("metadata") or {}).get("name"))
    containers, inits = _names(pod, "containers"), _names(pod, "initContainers")
    if not wanted:
        if len(containers) == 1:
            return containers[0]
        message = (
            f"a container name must be specified for pod {name}, choose one of: "
            f"[{' '.join(containers)}]"
        )
        if inits:
            message += f" or one of the init containers: [{' '.join(inits)}]"
        raise _bad(message)
    if wanted not in containers and wanted not in inits:
        raise _bad(f"container {wanted} is not valid for pod {name}")
    return wanted


def waiting_reason(pod: Mapping[str, Any], container: str) -> str | None:
    status = pod.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses"):
        for entry in status.get(key) or ():
            if isinstance(entry, Mapping) and entry.get("name") == container:
                waiting = (entry.get("state") or {}).get("waiting")
                if isinstance(waiting, Mapping):
                    return str(waiting.get("reason") or "ContainerCreating")
                return None
    return "ContainerCreating"


class _Reader:
    """Reads one container run's log files, then what is appended (following rotations)."""

    def __init__(self, files: list[Path]) -> None:
        self._rotated, self._current = files
        self._handle: IO[bytes] | None = None
        self._rest = b""
        self._pending: dict[str, tuple[str, bytes]] = {}

    def initial(self) -> list[Entry]:
        data = b""
        with contextlib.suppress(FileNotFoundError):
            data = self._rotated.read_bytes()
        with contextlib.suppress(FileNotFoundError):
            self._handle = open(self._current, "rb")  # noqa: SIM115 - kept for following
        entries = self._parse(data)
        return entries + self.more()

    def more(self, *, switch: bool = False) -> list[Entry]:
        """New entries; ``switch``: move on to a newer current file if it was rotated."""
        if self._handle is None:
            with contextlib.suppress(FileNotFoundError):
                self._handle = open(self._current, "rb")  # noqa: SIM115
            if self._handle is None:
                return []
        entries = self._parse(self._handle.read())
        if not entries and switch and self._rotated_away():
            self._handle.close()
            self._handle = None
            self._rest = b""
            return self.more()
        return entries

    def _rotated_away(self) -> bool:
        if self._handle is None:
            return False
        try:
            return os.stat(self._current).st_ino != os.fstat(self._handle.fileno()).st_ino
        except FileNotFoundError:
            return False

    def _parse(self, data: bytes) -> list[Entry]:
        data = self._rest + data
        end = data.rfind(b"\n") + 1
        self._rest = data[end:]
        return list(parse_entries(data[:end], self._pending))

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


async def serve(kubelet: PodLogSource, request: web.Request, target: Any) -> web.StreamResponse:
    if request.method != "GET":
        raise MethodNotAllowedError(f"{request.method} is not allowed on pods/log")
    namespace = str(target.namespace or "default")
    name = str(target.name or "")
    pod = await kubelet.store.get(ResourceKey(core.POD.resource, namespace, name))
    query = LogQuery.parse(request.query, now_ns=time.time_ns())
    container = choose_container(pod, query.container)
    uid = str((pod.get("metadata") or {}).get("uid") or "")
    files = log_files(
        log_dir(kubelet.logs_root, namespace, name, uid), container, previous=query.previous
    )
    if not any(f.exists() for f in files):
        if query.previous:
            raise _bad(f'previous terminated container "{container}" in pod "{name}" not found')
        reason = waiting_reason(pod, container)
        if reason is not None:
            raise _bad(f'container "{container}" in pod "{name}" is waiting to start: {reason}')
    runner = kubelet.container_runner(namespace, name, uid, container)
    reader = _Reader(files)
    try:
        return await _respond(request, query, reader, runner)
    finally:
        reader.close()


async def _respond(
    request: web.Request, query: LogQuery, reader: _Reader, runner: ContainerRunner | None
) -> web.StreamResponse:
    run = runner.runs if runner is not None else -1
    entries = await asyncio.to_thread(reader.initial)
    if query.since_ns is not None:
        entries = [e for e in entries if e.ns >= query.since_ns]
    if query.tail_lines is not None:
        entries = entries[-query.tail_lines :] if query.tail_lines else []
    budget = query.limit_bytes
    body, budget = _render(entries, query.timestamps, budget)
    following = (
        query.follow
        and not query.previous
        and runner is not None
        and runner.running
        and (budget is None or budget > 0)
    )
    if not following:
        return web.Response(body=body, content_type="text/plain", charset="utf-8")
    response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    try:
        if body:
            await response.write(body)
        while budget is None or budget > 0:
            same_run = runner is not None and runner.runs == run
            ended = not same_run or (runner is not None and runner.writer.closed)
            entries = reader.more(switch=same_run)
            if not entries:
                if ended:
                    break
                transport = request.transport
                if transport is None or transport.is_closing():
                    return response
                if runner is not None:
                    await runner.writer.changed(FOLLOW_WAKE)
                continue
            if query.since_ns is not None:
                entries = [e for e in entries if e.ns >= query.since_ns]
            chunk, budget = _render(entries, query.timestamps, budget)
            if chunk:
                await response.write(chunk)
        await response.write_eof()
    except (ConnectionResetError, ConnectionError):
        pass
    return response


def _render(entries: list[Entry], timestamps: bool, budget: int | None) -> tuple[bytes, int | None]:
    body = b"".join(render(e, timestamps=timestamps) for e in entries)
    if budget is None:
        return body, None
    body = body[:budget]
    return body, budget - len(body)
