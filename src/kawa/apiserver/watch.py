"""Watch streams: ``?watch=1`` on a collection, as Kubernetes serves them.

One JSON object per line: ``{"type": "ADDED|MODIFIED|DELETED|BOOKMARK|ERROR", "object": ...}``.
Without a ``resourceVersion`` (or with ``0``) the stream starts with an ``ADDED`` event per
existing object; with one, it replays the changes after it (``ERROR`` with a 410 Status when
that point is no longer retained; any other store failure also ends the stream with an
``ERROR``, each Status from :mod:`kawa.apiserver.status`). A resourceVersion the store has
not reached yet is waited for, at most :data:`TOO_LARGE_WAIT` seconds, then answered as
Kubernetes' watch cache does: an ``ERROR`` with ``504 Timeout`` ("Too large resource
version"), which clients retry. Selectors apply to every event:
an object that stops matching is reported ``DELETED``, one that starts matching ``ADDED``.
``allowWatchBookmarks`` adds a ``BOOKMARK`` (the latest resourceVersion) when nothing
happened for a while; ``timeoutSeconds`` ends the stream. Objects are rendered by the
caller's ``render`` (the requested version, or a one-row Table).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any, Final

import orjson
from aiohttp import web

from kawa.apiserver import status
from kawa.errors import KawaError, ValidationError
from kawa.store.base import ListResult, Obj, ResourceStore, WatchEvent
from kawa.tasks import cancel_and_wait

BOOKMARK_INTERVAL: Final = 30.0
TOO_LARGE_WAIT: Final = 3.0
"""Seconds a watch from a resourceVersion not reached yet waits for it (Kubernetes' 3 s)."""
_POLL: Final = 0.1

Render = Callable[[Obj], Any]
Predicate = Callable[[Mapping[str, Any]], bool]


def _key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata", {})
    return (meta.get("namespace", ""), meta.get("name", ""))


def _rv(obj: Obj) -> int:
    text = str(obj.get("metadata", {}).get("resourceVersion", ""))
    return int(text) if text.isdigit() else 0


async def stream(
    request: web.Request,
    store: ResourceStore,
    resource: str,
    namespace: str | None,
    *,
    render: Render,
    selected: Predicate,
    bookmark: Callable[[int], Any],
) -> web.StreamResponse:
    query = request.query
    since_text = query.get("resourceVersion", "")
    timeout_text = query.get("timeoutSeconds", "")
    if since_text and not since_text.isdigit():
        raise ValidationError.single(
            "resourceVersion", f"expected a resourceVersion kawa gave out, got {since_text!r}"
        )
    if timeout_text and not timeout_text.isdigit():
        raise ValidationError.single(
            "timeoutSeconds", f"expected a whole number of seconds, got {timeout_text!r}"
        )
    timeout = float(timeout_text) if timeout_text else None
    bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)

    async def send(kind: str, obj: Any) -> None:
        await response.write(orjson.dumps({"type": kind, "object": obj}) + b"\n")

    matching: dict[tuple[str, str], bool] = {}
    """Whether each object the stream knows of matches the selectors (as last reported)."""
    queue: asyncio.Queue[WatchEvent | KawaError | None] = asyncio.Queue()
    last_rv = 0

    async def feed(since: int | None) -> None:
        try:
            async for event in store.watch(resource, namespace, since):
                queue.put_nowait(event)
        except KawaError as err:  # GoneError: the resume point is no longer retained
            queue.put_nowait(err)
        finally:
            queue.put_nowait(None)

    since: int | None
    if since_text in ("", "0"):
        listed = await store.list(resource, namespace)
        since = listed.resource_version
        for obj in listed.items:
            matching[_key(obj)] = selected(obj)
            if matching[_key(obj)]:
                await send("ADDED", render(obj))
    elif since_text.isdigit():
        since = int(since_text)
        listed = await store.list(resource, namespace)
        if since > listed.resource_version:
            listed = await _reached(store, resource, namespace, since)
            if since > listed.resource_version:
                error = status.TooLargeResourceVersionError(since, listed.resource_version)
                with contextlib.suppress(ConnectionResetError):
                    await send("ERROR", status.status_of(error))
                    await response.write_eof()
                return response
        # Objects unchanged since then looked then as they look now; the others' first
        # event below is taken at its word (a MODIFIED stays MODIFIED).
        for obj in listed.items:
            if _rv(obj) <= since:
                matching[_key(obj)] = selected(obj)
    else:
        since = None
    last_rv = since or 0
    feeder = asyncio.create_task(feed(since))
    deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
    try:
        while True:
            wait = BOOKMARK_INTERVAL if bookmarks else None
            if deadline is not None:
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    break
                wait = left if wait is None else min(wait, left)
            try:
                item = await asyncio.wait_for(queue.get(), wait)
            except TimeoutError:
                if bookmarks:
                    await send("BOOKMARK", bookmark(last_rv))
                continue
            if item is None:
                break
            if isinstance(item, KawaError):
                await send("ERROR", status.status_of(item))
                break
            last_rv = item.resource_version
            key = _key(item.object)
            before = matching.get(key)
            if before is None:
                before = item.type != "ADDED" and selected(item.object)
            if item.type == "DELETED":
                matching.pop(key, None)
                if before:
                    await send("DELETED", render(item.object))
                continue
            now = matching[key] = selected(item.object)
            if now:
                await send(
                    "MODIFIED" if before and item.type != "ADDED" else "ADDED", render(item.object)
                )
            elif before:
                await send("DELETED", render(item.object))
    except ConnectionResetError:
        pass  # the client went away: nobody is left to tell
    finally:
        await cancel_and_wait(feeder)
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await response.write_eof()
    return response


async def _reached(
    store: ResourceStore, resource: str, namespace: str | None, version: int
) -> ListResult:
    """The list once the store has reached resourceVersion ``version``, or after
    :data:`TOO_LARGE_WAIT` seconds (the last list: not reached)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TOO_LARGE_WAIT
    while True:
        listed = await store.list(resource, namespace)
        left = deadline - loop.time()
        if listed.resource_version >= version or left <= 0:
            return listed
        await asyncio.sleep(min(_POLL, left))
