"""A private NATS server with JetStream for the tests: ``nats-server`` on a free port.

The tests never touch the machine's own server at 127.0.0.1:4222: each user of
:func:`nats_server` gets a child ``nats-server -js`` on a free loopback port with its store in
a temporary directory, stopped (and its directory removed with ``tmp_path``) at the end. The
fixture :func:`nats_url` gives one server per test module; tests keep apart by naming their
streams and buckets uniquely (:func:`unique`). :func:`users_config` writes a server
configuration with a restricted user ``kawa`` and an unrestricted ``admin``. Skips when
``nats-server`` is not installed.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
_COUNTER = itertools.count(1)


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unique(prefix: str) -> str:
    """A name no other test of this run uses (streams, buckets)."""
    return f"{prefix}{next(_COUNTER)}"


@contextlib.contextmanager
def nats_server(
    store_dir: Path, *extra: str, port: int | None = None, jetstream: bool = True
) -> Iterator[str]:
    """A running ``nats-server -js`` on loopback (without ``-js`` if not ``jetstream``); its
    ``nats://`` URL."""
    if not Path(NATS_SERVER).exists():
        pytest.skip("nats-server is not installed")
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
