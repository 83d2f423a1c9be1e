"""A private NATS server with JetStream for the tests: ``nats-server`` on a free port.

The tests never touch the machine's own server at 127.0.0.1:4222: each user of
:func:`nats_server` gets a child ``nats-server -js`` on a free loopback port with its store in
a temporary directory, stopped (and its directory removed with ``tmp_path``) at the end. The
fixture :func:`nats_url` gives one server per test module; tests keep apart by naming their
streams and buckets uniquely (:func:`unique`). :func:`users_config` writes a server
configuration with a restricted user ``kawa`` and an unrestricted ``admin``. Skips when
``nats-server`` is not installed.

:func:`nats_cluster` starts a JetStream cluster of three such servers (each its own ports and
store; routes to one another), usable once every server sees a meta leader and a stream
replicated on all three can be made; a test can SIGKILL one, start it again, find a stream's
leader or the meta leader, and move a stream's leader (:class:`NatsCluster`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nats
import nats.errors
import pytest
from nats.aio.client import Client
from nats.js import api

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
_COUNTER = itertools.count(1)


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unique(prefix: str) -> str:
    """A name no other test of this run uses (streams, buckets)."""
    return f"{prefix}{next(_COUNTER)}"


def _need_nats_server() -> None:
    if not Path(NATS_SERVER).exists():
        pytest.skip("nats-server is not installed")


@contextlib.contextmanager
def nats_server(
    store_dir: Path, *extra: str, port: int | None = None, jetstream: bool = True
) -> Iterator[str]:
    """A running ``nats-server -js`` on loopback (without ``-js`` if not ``jetstream``); its
    ``nats://`` URL."""
    _need_nats_server()
    port = port or free_port()
    store_dir.mkdir(parents=True, exist_ok=True)
    argv = [NATS_SERVER, "-a", "127.0.0.1", "-p", str(port)]
    if jetstream:
        argv += ["-js", "-sd", str(store_dir)]
    log = (store_dir / "server.log").open("wb")
    proc = subprocess.Popen([*argv, *extra], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"nats-server did not start: {(store_dir / 'server.log').read_text()}"
                )
            time.sleep(0.02)
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


PASSWORD = "s3cret"
"""The password of the users of :func:`users_config`."""


def users_config(path: Path, permissions: str = "", *, jetstream: bool = True) -> Path:
    """A nats-server config file: user ``kawa`` with ``permissions`` (the body of a NATS
    ``permissions`` block, such as ``publish: {deny: ["$JS.API.>"]}``) and user ``admin``
    with every permission, both with :data:`PASSWORD`. Without ``jetstream``, ``kawa`` is in
    an account of its own that has no JetStream."""
    kawa = f"{{user: kawa, password: {PASSWORD}, permissions: {{ {permissions} }}}}"
    admin = f"{{user: admin, password: {PASSWORD}}}"
    if jetstream:
        text = f"authorization {{ users = [ {kawa}, {admin} ] }}\n"
    else:
        text = (
            f"accounts {{ ADMIN: {{ jetstream: enabled, users: [ {admin} ] }}, "
            f"KAWA: {{ users: [ {kawa} ] }} }}\n"
        )
    path.write_text(text)
    return path


def as_user(url: str, user: str) -> str:
    """``url`` with ``user`` and :data:`PASSWORD` in it."""
    return url.replace("nats://", f"nats://{user}:{PASSWORD}@")


@pytest.fixture(scope="module")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One private JetStream server for the test module."""
    with nats_server(tmp_path_factory.mktemp("nats")) as url:
        yield url


# -- a three-server JetStream cluster ------------------------------------------------------------


@dataclass
class ClusterServer:
    """One server of a :class:`NatsCluster`: fixed ports and store, so it restarts as itself."""

    name: str
    port: int
    cluster_port: int
    monitor_port: int
    store_dir: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return "".join(
            path.read_text(errors="replace")
            for path in sorted(self.store_dir.parent.glob(f"{self.name}-*.log"))
        )


@dataclass
class NatsCluster:
    """A JetStream cluster of child ``nats-server`` processes on loopback (see
    :func:`nats_cluster`)."""

    servers: list[ClusterServer]
    cluster_name: str = "kawa-test"
    history: list[str] = field(default_factory=list)
    """What happened to the servers (``killed n2``, ``started n2``), for failure messages."""

    @property
    def urls(self) -> str:
        """Every server's URL, comma-separated (what ``kawa up --nats`` takes)."""
        return ",".join(s.url for s in self.servers)

    def server(self, name: str) -> ClusterServer:
        return next(s for s in self.servers if s.name == name)

    def start(self, server: ClusterServer) -> None:
        """Start ``server`` (again: same ports, same store) and wait for its client port."""
        routes = ",".join(f"nats://127.0.0.1:{s.cluster_port}" for s in self.servers)
        server.store_dir.mkdir(parents=True, exist_ok=True)
        server.starts += 1
        log_path = server.store_dir.parent / f"{server.name}-{server.starts}.log"
        argv = [
            NATS_SERVER,
            "-a", "127.0.0.1",
            "-p", str(server.port),
            "-m", str(server.monitor_port),
            "-js",
            "-sd", str(server.store_dir),
            "--server_name", server.name,
            "--cluster_name", self.cluster_name,
            "--cluster", f"nats://127.0.0.1:{server.cluster_port}",
            "--routes", routes,
        ]  # fmt: skip
        with log_path.open("wb") as log:
            server.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        self.history.append(f"started {server.name}")
        deadline = time.monotonic() + 10
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", server.port), 0.2),
            ):
                return
            if server.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nats-server {server.name} did not start:\n{server.log()}")
            time.sleep(0.02)

    def kill(self, server: ClusterServer) -> None:
        """SIGKILL ``server``: no goodbye to its peers or clients."""
        assert server.proc is not None
        assert server.running, f"{server.name} is not running"
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(10)
        self.history.append(f"killed {server.name}")

    def stop(self) -> None:
        for server in self.servers:
            if server.proc is not None and server.proc.poll() is None:
                server.proc.terminate()
                try:
                    server.proc.wait(5)
                except subprocess.TimeoutExpired:
                    server.proc.kill()
                    server.proc.wait()

    async def ready(self, timeout: float = 30.0) -> None:
        """Wait until JetStream works on every running server: each sees a meta leader that
        is running and answers for its account; with every server up, a stream replicated on
        all of them can be made and removed (every peer takes part in RAFT groups again)."""
        running = [s for s in self.servers if s.running]
        deadline = time.monotonic() + timeout
        problem = ""
        while True:
            try:
                problem = await self._not_ready(running)
            except (nats.errors.Error, TimeoutError, OSError) as err:
                problem = repr(err)
            if not problem:
                return
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {s.name}\n{s.log()[-3000:]}" for s in running)
                raise AssertionError(
                    f"JetStream cluster not usable within {timeout}s: {problem} "
                    f"({self.history})\n{logs}"
                )
            await asyncio.sleep(0.2)

    async def _not_ready(self, running: list[ClusterServer]) -> str:
        """What is not usable yet ("" when all is)."""
        for server in running:
            leader = await asyncio.to_thread(self._meta_leader_seen_by, server)
            if leader is None or not self.server(leader).running:
                return f"{server.name} sees meta leader {leader!r}"
            client = await nats.connect(server.url, connect_timeout=2, allow_reconnect=False)
            try:
                await client.jetstream(timeout=5).account_info()
            finally:
                await client.close()
        if len(running) == len(self.servers):
            client = await self._connect()
            try:
                js = client.jetstream(timeout=5)
                name = "kawa_test_cluster_ready"
                try:
                    await js.add_stream(name=name, subjects=[name], num_replicas=len(running))
                finally:  # also after a timeout: the stream may have been made
                    with contextlib.suppress(nats.errors.Error, TimeoutError):
                        await js.delete_stream(name)
            finally:
                await client.close()
        return ""

    async def stream_leader(self, stream: str, timeout: float = 30.0) -> ClusterServer:
        """The server leading JetStream stream ``stream``, once it has one (after its
        leader died, the others elect one within seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(nats.errors.Error, TimeoutError, OSError):
                info = await self.stream_info(stream)
                if info.cluster is not None and info.cluster.leader:
                    leader = self.server(info.cluster.leader)
                    if leader.running:
                        return leader
            if time.monotonic() > deadline:
                raise AssertionError(f"stream {stream} has no leader after {timeout}s")
            await asyncio.sleep(0.2)

    async def move_stream_leader(
        self, stream: str, to: ClusterServer, timeout: float = 30.0
    ) -> None:
        """Make ``to`` the leader of JetStream stream ``stream``: ask the leader to step down
        (JetStream elects another) until ``to`` is elected."""
        deadline = time.monotonic() + timeout
        asked: tuple[ClusterServer, float] | None = None
        while (leader := await self.stream_leader(stream)) is not to:
            if time.monotonic() > deadline:
                raise AssertionError(f"{to.name} never became the leader of {stream}")
            if asked is None or asked[0] is not leader or time.monotonic() - asked[1] > 3:
                asked = (leader, time.monotonic())  # asked again if it is still leading in 3s
                client = await self._connect()
                try:
                    with contextlib.suppress(nats.errors.Error, TimeoutError):
                        await client.request(f"$JS.API.STREAM.LEADER.STEPDOWN.{stream}", b"", 5)
                finally:
                    await client.close()
            await asyncio.sleep(0.1)

    def connected(self, name: str) -> list[ClusterServer]:
        """The servers a client connection named ``name`` is connected to (``/connz``)."""
        found = []
        for server in self.servers:
            if server.running:
                url = f"http://127.0.0.1:{server.monitor_port}/connz"
                with urllib.request.urlopen(url, timeout=5) as resp:
                    connections = json.loads(resp.read()).get("connections") or []
                if any(c.get("name") == name for c in connections):
                    found.append(server)
        return found

    def meta_leader(self) -> ClusterServer:
        """The server leading the cluster's JetStream meta group."""
        for server in self.servers:
            if server.running and (leader := self._meta_leader_seen_by(server)):
                return self.server(leader)
        raise AssertionError(f"no meta leader: {self.history}")

    @staticmethod
    def _meta_leader_seen_by(server: ClusterServer) -> str | None:
        """The meta leader's name as ``server``'s monitoring endpoint ``/jsz`` gives it."""
        url = f"http://127.0.0.1:{server.monitor_port}/jsz"
        with urllib.request.urlopen(url, timeout=5) as resp:
            leader = json.loads(resp.read()).get("meta_cluster", {}).get("leader")
        return str(leader) if leader else None

    async def stream_info(self, stream: str) -> api.StreamInfo:
        client = await self._connect()
        try:
            return await client.jetstream().stream_info(stream)
        finally:
            await client.close()

    async def _connect(self) -> Client:
        return await nats.connect(
            servers=[s.url for s in self.servers if s.running],
            connect_timeout=2,
            allow_reconnect=False,
        )


@contextlib.asynccontextmanager
async def nats_cluster(
    base_dir: Path, size: int = 3, started: int | None = None
) -> AsyncIterator[NatsCluster]:
    """``size`` ``nats-server -js`` processes forming one cluster on loopback free ports, each
    with its own store under ``base_dir`` (only the first ``started`` of them started, if
    given: the test starts the others); yielded once JetStream works on all that run, and
    stopped at the end (whatever a test killed or restarted meanwhile)."""
    _need_nats_server()
    servers = [
        ClusterServer(f"n{i}", free_port(), free_port(), free_port(), base_dir / f"n{i}")
        for i in range(1, size + 1)
    ]
    cluster = NatsCluster(servers)
    try:
        for server in servers[:started]:
            await asyncio.to_thread(cluster.start, server)
        await cluster.ready()
        yield cluster
    finally:
        cluster.stop()
