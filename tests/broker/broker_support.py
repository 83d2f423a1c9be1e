"""Test support for the broker tests: kawa running in-process, and a recording subscriber.

:func:`running_kawa` starts :func:`kawa.runtime.serve` on a free port of 127.0.0.1 with its
data in a temporary directory; :class:`Kawa` applies manifests through the real HTTP API and
waits for conditions. :class:`Subscriber` is a real aiohttp server whose answers a test
scripts per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import aiohttp
from aiohttp import web

from kawa.broker.dataplane import trigger_cursor
from kawa.cloudevents import http as ce_http
from kawa.cloudevents.event import CloudEvent
from kawa.errors import NotFoundError
from kawa.eventlog.base import EventLog
from kawa.eventlog.jetstream import JetStreamEventLog
from kawa.jetstream import NatsOptions
from kawa.runtime import Config, Running, serve

from ..waiting import eventually

Responder = Callable[[web.Request], Awaitable[web.StreamResponse]]
API = "/apis/eventing.knative.dev/v1/namespaces"


def event(id_: str = "1", type_: str = "test.type", **attrs: Any) -> CloudEvent:
    base: dict[str, Any] = {"specversion": "1.0", "id": id_, "source": "/test", "type": type_}
    base.update(attrs)
    data = base.pop("data", None)
    return CloudEvent(base, data)


class Publisher(Protocol):
    async def publish(self, namespace: str, name: str, events: list[CloudEvent]) -> None: ...


async def publish_once_known(plane: Publisher, names: tuple[str, ...]) -> None:
    """Publish one event ``<name>-1`` to each of ``names`` (namespace ``default``) as soon as
    the data plane knows them all (until then it answers NotFoundError)."""

    async def known() -> bool:
        try:
            for name in names:
                await plane.publish("default", name, [event(f"{name}-1")])
        except NotFoundError:
            return False
        return True

    await eventually(known)


async def trimmed_away(trim: Callable[[], Awaitable[int]], log: EventLog, stream: str) -> None:
    """Trim until ``stream`` is empty (a changed retention applies from the next trim)."""

    async def empty() -> bool:
        await trim()
        return await log.read(stream, 0, 10) == []

    await eventually(empty)


def broker(name: str = "default", ns: str = "default", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Broker",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def trigger(
    name: str,
    uri: str,
    *,
    broker_name: str = "default",
    ns: str = "default",
    annotations: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if annotations:
        meta["annotations"] = annotations
    return {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Trigger",
        "metadata": meta,
        "spec": {"broker": broker_name, "subscriber": {"uri": uri}, **spec},
    }


def saved_cursors(data_dir: Path) -> dict[str, tuple[str, int]]:
    """The cursors committed to kawa's event log (``events.db``, schema in
    :mod:`kawa.eventlog.sqlite`): consumer -> (stream, seq), read over a read-only connection
    of its own, as another process would see them."""
    path = data_dir / "events.db"
    if not path.exists():
        return {}
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        rows = conn.execute(
            "SELECT c.consumer, s.name, c.seq FROM cursors c JOIN streams s ON s.id = c.stream_id"
        ).fetchall()
    return {consumer: (stream, seq) for consumer, stream, seq in rows}


BACKEND: ContextVar[str | None] = ContextVar("BACKEND", default=None)
"""The NATS URL when the test runs kawa on JetStream (set by the ``each_backend`` fixture of
tests/broker/conftest.py), ``None`` for the SQLite default."""


@dataclass
class Kawa:
    url: str
    session: aiohttp.ClientSession
    data_dir: Path
    event_log: EventLog | None = None
    """A second view of kawa's log when it runs on JetStream (cursors are read there)."""
    ingress_session: aiohttp.ClientSession | None = None
    """Connections for event ingress only (no token): the API's requests hand a connection
    to aiohttp for good, so ingress sent on ``session`` would not reach the lean path."""

    @property
    def ingress(self) -> aiohttp.ClientSession:
        return self.ingress_session or self.session

    async def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        ns = obj["metadata"]["namespace"]
        plural = obj["kind"].lower() + "s"
        async with self.session.post(f"{self.url}{API}/{ns}/{plural}", json=obj) as resp:
            body = await resp.json()
            if resp.status != 201:
                raise AssertionError(f"create failed: {resp.status} {body}")
            return dict(body)

    async def get(self, kind: str, name: str, ns: str = "default") -> dict[str, Any]:
        async with self.session.get(f"{self.url}{API}/{ns}/{kind.lower()}s/{name}") as resp:
            return dict(await resp.json())

    async def delete(self, kind: str, name: str, ns: str = "default") -> None:
        async with self.session.delete(f"{self.url}{API}/{ns}/{kind.lower()}s/{name}") as resp:
            assert resp.status == 200, await resp.text()

    async def wait_ready(
        self, kind: str, name: str, ns: str = "default", timeout: float = 10.0
    ) -> dict[str, Any]:
        return await self.wait_condition(kind, name, "Ready", "True", ns=ns, timeout=timeout)

    async def wait_condition(
        self,
        kind: str,
        name: str,
        type_: str,
        status: str,
        *,
        ns: str = "default",
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        obj: dict[str, Any] = {}

        async def reached() -> dict[str, Any] | None:
            nonlocal obj
            obj = await self.get(kind, name, ns)
            observed = obj.get("status") if obj.get("kind") == kind else None
            conditions = observed.get("conditions", []) if isinstance(observed, dict) else []
            met = any(c["type"] == type_ and c["status"] == status for c in conditions)
            return obj if met else None

        try:
            found = await eventually(reached, timeout)
        except AssertionError:
            raise AssertionError(
                f"{kind} {name} never had {type_}={status}: {obj.get('status')}"
            ) from None
        if (kind, type_, status) == ("Trigger", "Ready", "True"):
            await self.consumer_started(found, timeout=timeout)
        return found

    async def cursor(self, trigger: dict[str, Any]) -> int | None:
        """The committed cursor of a Trigger's consumer on its broker's stream, if any."""
        meta = trigger["metadata"]
        broker_obj = await self.get("Broker", trigger["spec"]["broker"], meta["namespace"])
        stream = f"broker:{broker_obj['metadata'].get('uid')}"
        if self.event_log is not None:
            return await self.event_log.load_cursor(trigger_cursor(meta["uid"], stream))
        for consumer, (on, seq) in saved_cursors(self.data_dir).items():
            if consumer.startswith(f"trigger:{meta['uid']}@") and on == stream:
                return seq
        return None

    async def consumer_started(self, trigger: dict[str, Any], timeout: float = 10.0) -> None:
        """Wait until the data plane runs the Trigger's consumer: it saves its cursor on the
        broker's stream before it reads (the Trigger's Ready status alone comes first)."""

        async def saved() -> bool:
            return await self.cursor(trigger) is not None

        name = trigger["metadata"]["name"]
        await eventually(saved, timeout, f"Trigger {name} is Ready but has no consumer")

    async def cursor_reaches(self, trigger: dict[str, Any], seq: int) -> None:
        """Wait until the Trigger's consumer committed a cursor at or past ``seq``: every event
        up to there is finished (delivered, dead-lettered, dropped or filtered out)."""

        async def reached() -> bool:
            return (await self.cursor(trigger) or 0) >= seq

        name = trigger["metadata"]["name"]
        await eventually(reached, 10.0, f"Trigger {name}'s cursor never reached {seq}")

    def broker_url(self, name: str = "default", ns: str = "default") -> str:
        return f"{self.url}/brokers/{ns}/{name}"

    async def send(
        self, ev: CloudEvent, *, broker_name: str = "default", structured: bool = False
    ) -> int:
        headers, body = ce_http.to_structured(ev) if structured else ce_http.to_binary(ev)
        async with self.ingress.post(
            self.broker_url(broker_name), data=body, headers=headers
        ) as resp:
            await resp.read()
            return resp.status


@contextlib.asynccontextmanager
async def running_kawa(data_dir: Path, **config: Any) -> AsyncIterator[Kawa]:
    nats_url = BACKEND.get()
    if nats_url is not None and "event_log_backend" not in config:
        config.update(event_log_backend="jetstream", nats=NatsOptions.parse(nats_url))
    ready: asyncio.Future[Running] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve(Config(data_dir=data_dir, port=0, api_port=0, **config), on_ready=ready.set_result)
    )
    waiters: list[asyncio.Future[Any]] = [task, ready]
    done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()
    running = ready.result()
    log: EventLog | None = None
    try:
        if config.get("event_log_backend") == "jetstream":
            log = await JetStreamEventLog.open(config["nats"])
        headers = {"Authorization": f"Bearer {running.token}"}
        async with (
            aiohttp.ClientSession(headers=headers) as session,
            aiohttp.ClientSession() as ingress,
        ):
            yield Kawa(running.url, session, running.data_dir, log, ingress)
    finally:
        if log is not None:
            await log.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def respond(
    status: int = 202, body: bytes = b"", headers: dict[str, str] | None = None
) -> Responder:
    async def answer(_: web.Request) -> web.StreamResponse:
        return web.Response(status=status, body=body, headers=headers)

    return answer


@dataclass
class Subscriber:
    """Records every event; answers from ``script`` (in order), then with ``default``."""

    url: str = ""
    events: list[CloudEvent] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    script: list[Responder] = field(default_factory=list)
    default: Responder = field(default_factory=respond)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.headers.append({k.lower(): v for k, v in request.headers.items()})
        self.events.append(ce_http.from_http(request.headers, body))
        responder = self.script.pop(0) if self.script else self.default
        response = await responder(request)
        async with self.arrived:
            self.arrived.notify_all()
        return response

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[CloudEvent]:
        async with self.arrived:
            await asyncio.wait_for(
                self.arrived.wait_for(lambda: len(self.events) >= count), timeout
            )
        return self.events

    async def wait_for_id(self, id_: str, timeout: float = 10.0) -> list[CloudEvent]:
        async with self.arrived:
            await asyncio.wait_for(
                self.arrived.wait_for(lambda: any(e.id == id_ for e in self.events)), timeout
            )
        return self.events


@contextlib.asynccontextmanager
async def subscriber(path: str = "/") -> AsyncIterator[Subscriber]:
    sub = Subscriber()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", sub.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    sub.url = f"http://{host}:{port}{path}"
    try:
        yield sub
    finally:
        await runner.cleanup()
