"""Support for the end-to-end tests: kawa's real CLI as child processes.

Every child runs ``[sys.executable, "-m", "kawa", ...]`` (the venv's interpreter) with its
stdout and stderr in files under the test's temporary directory, so a child never blocks on
a full pipe and its output is still readable after it died. :func:`spawn` registers each
child in :data:`CHILDREN`; the fixtures in ``conftest.py`` fail a test that leaves one
running. :class:`KawaProcess` is one ``kawa up``: started, found through its ``server.json``,
stopped (SIGTERM, then SIGKILL) or killed on purpose. :class:`Recorder` is a subscriber in
the test process (it outlives any kawa child) that records the ids delivered to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from kawa.backends import STORE_BUCKET
from kawa.broker.dataplane import trigger_cursor
from kawa.channels.dataplane import subscription_cursor
from kawa.cloudevents import http as ce_http
from kawa.errors import NotFoundError, TemporaryError
from kawa.eventlog.jetstream import JetStreamEventLog
from kawa.jetstream import NatsOptions
from kawa.store.base import ResourceKey
from kawa.store.jetstream import JetStreamResourceStore

from ..broker.broker_support import saved_cursors
from ..waiting import wait_until

KAWA: tuple[str, ...] = (sys.executable, "-m", "kawa")
API = "/apis/eventing.knative.dev/v1/namespaces"
ACK_WAIT = 3.0
"""``--nats-ack-wait`` of every kawa these tests run on NATS: how soon a killed node's
deliveries come again (10 s by default; live nodes keep theirs with progress notes)."""
CHILDREN: list[subprocess.Popen[bytes]] = []
"""Every child process the e2e tests started (the leak checks look here)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}


@dataclass(frozen=True, slots=True)
class Result:
    """A finished CLI run."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def explain(self) -> str:
        command = " ".join(self.args)
        return f"kawa {command} -> {self.code}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


def run_cli(*args: str, cwd: Path, stdin: str | None = None, timeout: float = 30.0) -> Result:
    """Run one kawa command to completion (killed if it outlives ``timeout``)."""
    proc = subprocess.run(
        [*KAWA, *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        cwd=cwd,
        env=child_env(),
        check=False,
    )
    return Result(tuple(args), proc.returncode, proc.stdout, proc.stderr)


def run_many(
    commands: Sequence[Sequence[str]], *, cwd: Path, timeout: float = 30.0
) -> list[Result]:
    """Run several kawa commands at once; their results in order."""
    procs = [
        subprocess.Popen(
            [*KAWA, *cmd],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=child_env(),
        )
        for cmd in commands
    ]
    results = []
    try:
        for cmd, proc in zip(commands, procs, strict=True):
            out, err = proc.communicate(timeout=timeout)
            results.append(
                Result(tuple(cmd), proc.returncode, out.decode("utf-8"), err.decode("utf-8"))
            )
    finally:
        for proc in procs:
            stop(proc)
    return results


def spawn(args: Sequence[str], *, cwd: Path, out: Path, err: Path) -> subprocess.Popen[bytes]:
    """Start ``kawa ARGS`` in the background, output to the files ``out`` and ``err``."""
    with out.open("ab") as stdout, err.open("ab") as stderr:
        proc = subprocess.Popen(
            [*KAWA, *args],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            cwd=cwd,
            env=child_env(),
        )
    CHILDREN.append(proc)
    return proc


def stop(proc: subprocess.Popen[Any], timeout: float = 5.0) -> int:
    """Terminate (SIGTERM), wait, then kill; the exit code."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout)
    return int(proc.returncode)


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


@dataclass
class KawaProcess:
    """One ``kawa up`` child on a fixed port and data dir (restartable on the same ones)."""

    workdir: Path
    data_dir: Path
    port: int
    api_port: int
    extra: tuple[str, ...] = ()
    nats: str | None = None
    """The NATS URL when this kawa runs on JetStream (``kawa up --nats``), else SQLite."""
    host: str = "127.0.0.1"
    """Where it listens (``kawa up --host``)."""
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    logs: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def broker_url(self, name: str = "default", namespace: str = "default") -> str:
        return f"{self.url}/brokers/{namespace}/{name}"

    @property
    def stderr(self) -> str:
        return "".join(read_text(p) for p in self.logs)

    def start(self, timeout: float = 20.0) -> None:
        """Start ``kawa up`` and return once its server.json names this process."""
        self.starts += 1
        err = self.workdir / f"kawa-up-{self.port}-{self.starts}.err"
        self.logs.append(err)
        args = [
            "up",
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
            "--api-port",
            str(self.api_port),
            "--host",
            self.host,
            *(("--nats", self.nats) if self.nats else ()),
            *(("--nats-ack-wait", str(ACK_WAIT)) if self.nats else ()),
            *self.extra,
        ]
        self.proc = proc = spawn(args, cwd=self.workdir, out=err, err=err)
        server_file = self.data_dir / "server.json"

        def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"kawa up exited with {proc.returncode}:\n{read_text(err)}")
            try:
                info = orjson.loads(server_file.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                return False
            return bool(info.get("pid") == proc.pid and info.get("url") == self.url)

        wait_until(ready, timeout, f"kawa up never wrote {server_file}:\n{read_text(err)}")

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind (that is the point)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        return stop(self.proc) if self.proc is not None else 0

    # -- the API, straight over HTTP (the CLI is tested on its own) --------------------------

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else orjson.dumps(body)
        token = (self.data_dir / "token").read_text().strip()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, orjson.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, orjson.loads(err.read() or b"null")

    def create(self, obj: dict[str, Any], *, unavailable_for: float = 0.0) -> None:
        """Create ``obj``; ``unavailable_for``: seconds to try again while kawa answers 503
        (its store between leaders after a server of the NATS cluster was killed)."""
        ns = obj["metadata"].get("namespace", "default")
        plural = obj["kind"].lower() + "s"
        deadline = time.monotonic() + unavailable_for
        while True:
            status, body = self.request("POST", f"{_api(plural)}/{ns}/{plural}", obj)
            if status != 503 or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        assert status == 201, body

    def get(self, plural: str, name: str, ns: str = "default") -> tuple[int, Any]:
        return self.request("GET", f"{_api(plural)}/{ns}/{plural}/{name}")

    def wait_ready(self, plural: str, name: str, ns: str = "default", timeout: float = 15.0) -> Any:
        def ready() -> Any:
            status, obj = self.get(plural, name, ns)
            if status != 200:
                return None
            conditions = obj.get("status", {}).get("conditions", [])
            ok = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
            return obj if ok else None

        obj = wait_until(ready, timeout, f"{plural} {ns}/{name} never became Ready")
        # Ready comes first, then the data plane starts the consumer, which saves its cursor
        if plural == "triggers":
            wait_until(lambda: _saved(self.cursor, obj), timeout, f"{name} has no consumer")
        if plural == "subscriptions":
            wait_until(
                lambda: _saved(self.subscription_cursor, obj), timeout, f"{name} has no consumer"
            )
        return obj

    def cursor(self, trigger: dict[str, Any]) -> int | None:
        """The cursor the consumer of ``trigger`` saved on its broker's stream (in kawa's event
        log, read as another process), or None while it has none (not started, or stopped)."""
        meta = trigger["metadata"]
        _, broker_obj = self.get("brokers", trigger["spec"]["broker"], meta["namespace"])
        stream = f"broker:{(broker_obj.get('metadata') or {}).get('uid')}"
        return self.load_cursor(trigger_cursor(meta["uid"], stream))

    def subscription_cursor(self, subscription: dict[str, Any]) -> int | None:
        """The cursor of ``subscription``'s consumer on its channel's stream, as :meth:`cursor`
        (a Channel's events are in the InMemoryChannel of the same name)."""
        meta = subscription["metadata"]
        channel = subscription["spec"]["channel"]["name"]
        _, imc = self.get("inmemorychannels", channel, meta["namespace"])
        stream = f"channel:{(imc.get('metadata') or {}).get('uid')}"
        return self.load_cursor(subscription_cursor(meta["uid"], stream))

    def load_cursor(self, consumer: str) -> int | None:
        """A cursor of kawa's event log, read as another process: from ``events.db`` on
        SQLite, through the event log's own API on JetStream (a connection of its own)."""
        if self.nats is None:
            saved = saved_cursors(self.data_dir).get(consumer)
            return None if saved is None else saved[1]
        return asyncio.run(_load_jetstream_cursor(self._nats_options(), consumer))

    def stored(self, key: ResourceKey) -> dict[str, Any] | None:
        """An object of kawa's resource store (also one the API does not serve), read as
        another process: from ``resources.db`` on SQLite (a read-only connection, schema in
        :mod:`kawa.store.sqlite`), through the JetStream store's own code otherwise (a
        connection of its own); None when there is none."""
        if self.nats is None:
            return stored_in_sqlite(self.data_dir / "resources.db", key)
        return asyncio.run(_jetstream_get(self._nats_options(), key))

    def _nats_options(self) -> NatsOptions:
        assert self.nats is not None
        extra = list(self.extra)
        replicas = (
            int(extra[extra.index("--nats-replicas") + 1]) if "--nats-replicas" in extra else 1
        )
        return NatsOptions.parse(self.nats, replicas=replicas)


def _saved(cursor: Any, obj: dict[str, Any]) -> bool:
    """Whether ``cursor(obj)`` finds a saved cursor. A NATS request that times out (a cluster
    still placing the new consumer's replicas, a loaded machine) counts as not yet."""
    try:
        return cursor(obj) is not None
    except TemporaryError:
        return False


async def _load_jetstream_cursor(options: NatsOptions, consumer: str) -> int | None:
    log = await JetStreamEventLog.open(options)
    try:
        return await log.load_cursor(consumer)
    finally:
        await log.close()


async def _jetstream_get(options: NatsOptions, key: ResourceKey) -> dict[str, Any] | None:
    store = await JetStreamResourceStore.open(options, STORE_BUCKET)
    try:
        return await store.get(key)
    except NotFoundError:
        return None
    finally:
        await store.close()


def stored_in_sqlite(path: Path, key: ResourceKey) -> dict[str, Any] | None:
    """The object at ``key`` in the SQLite resource store at ``path``, read over a read-only
    connection of its own (as another process sees it); None when there is none."""
    if not path.exists():
        return None
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        row = conn.execute(
            "SELECT body FROM objects WHERE resource = ? AND namespace = ? AND name = ?",
            (key.resource, key.namespace, key.name),
        ).fetchone()
    if row is None:
        return None
    obj: dict[str, Any] = orjson.loads(row[0])
    return obj


def _api(plural: str) -> str:
    """The namespaced API path of a Knative kind's ``plural``."""
    if plural in ("inmemorychannels", "channels", "subscriptions"):
        return "/apis/messaging.knative.dev/v1/namespaces"
    if plural in ("sequences", "parallels"):
        return "/apis/flows.knative.dev/v1/namespaces"
    return API


def start_together(kawas: Iterable[KawaProcess]) -> None:
    """Start several ``kawa up`` at once (each in a thread of its own, as they wait on their
    children); returns once all are up, raises the first failure."""
    with ThreadPoolExecutor() as pool:
        for started in [pool.submit(kawa.start) for kawa in kawas]:
            started.result()


def stop_together(kawas: Iterable[KawaProcess]) -> None:
    """Stop several ``kawa up`` at once (as :meth:`KawaProcess.stop`)."""
    with ThreadPoolExecutor() as pool:
        for stopped in [pool.submit(kawa.stop) for kawa in kawas]:
            stopped.result()


@contextlib.contextmanager
def kawa_up(
    workdir: Path, *extra: str, data_dir: Path | None = None, nats: str | None = None
) -> Iterator[KawaProcess]:
    """A running ``kawa up`` on a free port (on JetStream at ``nats`` if given); stopped (or
    killed) at the end, whatever happens."""
    kawa = KawaProcess(
        workdir, data_dir or workdir / "data", free_port(), free_port(), tuple(extra), nats
    )
    try:
        kawa.start()
        yield kawa
    finally:
        kawa.stop()


@contextlib.contextmanager
def event_display(workdir: Path, name: str = "display") -> Iterator[tuple[str, Path]]:
    """A ``kawa event-display`` child; yields (its URL, the file its stdout goes to)."""
    port = free_port()
    out = workdir / f"{name}.out"
    err = workdir / f"{name}.err"
    proc = spawn(["event-display", "--port", str(port)], cwd=workdir, out=out, err=err)
    url = f"http://127.0.0.1:{port}/"
    try:

        def healthy() -> bool:
            if proc.poll() is not None:
                raise AssertionError(
                    f"event-display exited with {proc.returncode}: {read_text(err)}"
                )
            try:
                with urllib.request.urlopen(url + "healthz", timeout=1) as resp:
                    return bool(resp.status == 200)
            except OSError:
                return False

        wait_until(healthy, 15, f"event-display never answered:\n{read_text(err)}")
        yield url, out
    finally:
        stop(proc)


def broker(name: str = "default", ns: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Broker",
        "metadata": {"name": name, "namespace": ns},
    }


def trigger(name: str, uri: str, broker_name: str = "default", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Trigger",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"broker": broker_name, "subscriber": {"uri": uri}, **spec},
    }


@dataclass
class Recorder:
    """The subscriber: records the id of every event delivered to it.

    While ``gate`` is closed, deliveries for which ``hold(id)`` is true wait; a delivery
    that started before :meth:`reopen` (sent by a kawa process that has died since) is not
    counted.
    """

    url: str = ""
    ids: set[str] = field(default_factory=set)
    order: list[str] = field(default_factory=list)
    """Every id delivered, in the order the deliveries arrived (redeliveries too)."""
    deliveries: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    generation: int = 0
    hold: Callable[[str], bool] = lambda _: False
    answer: int = 202

    def close(self, hold: Callable[[str], bool]) -> None:
        self.hold = hold
        self.gate.clear()

    def reopen(self) -> None:
        self.generation += 1
        self.gate.set()

    async def handle(self, request: web.Request) -> web.Response:
        generation = self.generation
        body = await request.read()
        event_id = request.headers.get("ce-id") or ce_http.from_http(request.headers, body).id
        if self.hold(event_id):
            await self.gate.wait()
        if generation != self.generation:
            return web.Response(status=503)  # its sender is dead; nobody reads this
        self.ids.add(event_id)
        self.order.append(event_id)
        self.deliveries += 1
        self.changed.set()
        return web.Response(status=self.answer)

    async def wait_for(self, wanted: set[str], timeout: float) -> set[str]:
        """The ids of ``wanted`` still missing when they all arrived or ``timeout`` passed."""
        deadline = time.monotonic() + timeout
        while missing := wanted - self.ids:
            left = deadline - time.monotonic()
            if left <= 0:
                return missing
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(left, 0.5))
        return set()


@contextlib.asynccontextmanager
async def recorder() -> AsyncIterator[Recorder]:
    rec = Recorder()
    app = web.Application()
    app.router.add_post("/{tail:.*}", rec.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    host, port = runner.addresses[0][:2]
    rec.url = f"http://{host}:{port}/"
    try:
        yield rec
    finally:
        await runner.cleanup()
