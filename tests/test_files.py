"""The data dir is private: nobody but kawa's user reads Secrets, events, Pod output or the
token, whatever the umask kawa was started with.

Every test here runs under umask 0 (the most permissive there is: without explicit modes
every file would be 0666 and every directory 0777). First :mod:`kawa.files` itself, then each
writer of the data dir through its own code (the SQLite files and their ``-wal``/``-shm``,
the kubelet's logs and pid files, the token, certificate and kubeconfig; the sources'
state is in the resource store), then a whole kawa running a Pod, and a data dir an older
kawa left readable, tightened on start.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from kawa import files
from kawa.apiserver import access
from kawa.eventlog.sqlite import SqliteEventLog
from kawa.serving.kubelet.logs import LogWriter
from kawa.serving.kubelet.process import PidFiles
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from .broker.broker_support import running_kawa
from .waiting import eventually


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def modes(root: Path) -> dict[str, int]:
    """Every path under ``root`` (``root`` itself as ``.``) -> its permission bits."""
    found = {".": mode(root)}
    for at, dirs, names in os.walk(root):
        for name in [*dirs, *names]:
            path = Path(at, name)
            found[str(path.relative_to(root))] = mode(path)
    return found


def shared(root: Path) -> dict[str, str]:
    """What under ``root`` group or others may use, with its mode."""
    return {path: oct(bits) for path, bits in modes(root).items() if bits & 0o077}


# -- kawa.files ------------------------------------------------------------------------------


def test_directories_are_made_0700_parents_included(tmp_path: Path) -> None:
    files.make_dir(tmp_path / "a" / "b" / "c")
    assert {p: oct(m) for p, m in modes(tmp_path / "a").items()} == {
        ".": "0o700",
        "b": "0o700",
        "b/c": "0o700",
    }


def test_a_file_in_the_way_of_a_directory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"")
    with pytest.raises(FileExistsError):
        files.make_dir(tmp_path / "a" / "b")


def test_files_are_written_0600(tmp_path: Path) -> None:
    files.write_private(tmp_path / "d" / "token", b"secret")
    files.create_private(tmp_path / "d" / "empty.db")
    with open(tmp_path / "d" / "log", "ab", opener=files.private) as f:
        f.write(b"line\n")
    assert (tmp_path / "d" / "token").read_bytes() == b"secret"
    assert shared(tmp_path / "d") == {}
    files.write_private(tmp_path / "d" / "token", b"new")  # a rewrite truncates
    assert (tmp_path / "d" / "token").read_bytes() == b"new"


def test_tighten_takes_group_and_other_bits_off_what_kawa_keeps_only(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "kubelet" / "logs" / "ns_p_uid").mkdir(parents=True, mode=0o755)
    (root / "events.db").write_bytes(b"")
    (root / "events.db-wal").write_bytes(b"")
    (root / "kubelet" / "logs" / "ns_p_uid" / "c.log").write_bytes(b"")
    (root / "notes.txt").write_bytes(b"")  # the user's, not kawa's
    os.chmod(root / "events.db", 0o754)
    os.symlink("/etc/passwd", root / "kubelet" / "link")
    for path in [root, root / "kubelet", root / "kubelet" / "logs"]:
        os.chmod(path, 0o755)

    changed = files.tighten(root, ["events.db*", "kubelet"])

    assert {str(p.relative_to(root)) for p in changed} == {
        ".",
        "events.db",
        "events.db-wal",
        "kubelet",
        "kubelet/logs",
        "kubelet/logs/ns_p_uid",
        "kubelet/logs/ns_p_uid/c.log",
    }
    assert mode(root) == 0o700
    assert mode(root / "events.db") == 0o700  # the owner's bits stay as they were
    assert mode(root / "events.db-wal") == 0o600
    assert mode(root / "kubelet" / "logs" / "ns_p_uid" / "c.log") == 0o600
    assert mode(root / "notes.txt") == 0o666
    assert mode(Path("/etc/passwd")) == 0o644  # a link is not followed
    assert files.tighten(root, ["events.db*", "kubelet"]) == []

    os.chmod(root, 0o755)  # a data dir given as a link to a directory
    (tmp_path / "link").symlink_to(root)
    assert files.tighten(tmp_path / "link", []) == [tmp_path / "link"]
    assert mode(root) == 0o700


# -- each writer of the data dir ---------------------------------------------------------------


async def test_the_event_log_files_are_private(tmp_path: Path) -> None:
    log = await SqliteEventLog.open(str(tmp_path / "events.db"), reserve=64 * 1024)
    try:
        await log.append("s", [b"secret event"])
        await log.save_cursor("c", "s", 1)
        names = set(os.listdir(tmp_path))
        assert {"events.db", "events.db-wal", "events.db-shm", "events.db.lock"} <= names
        assert "events.db.reserve" in names
        assert shared(tmp_path) == {}
    finally:
        await log.close()


async def test_the_resource_store_files_are_private(tmp_path: Path) -> None:
    store = SqliteResourceStore(str(tmp_path / "resources.db"))
    try:
        secret = {"kind": "Secret", "metadata": {}, "stringData": {"password": "hunter2"}}
        await store.create(ResourceKey("secrets", "default", "s"), secret)
        assert {"resources.db", "resources.db-wal", "resources.db-shm"} <= set(os.listdir(tmp_path))
        assert shared(tmp_path) == {}
    finally:
        await store.close()


def test_kubelet_logs_and_pid_files_are_private(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path / "kubelet" / "logs" / "ns_p_uid", "c", lambda: 200)
    for _ in range(2):  # a second run moves the first to .previous
        writer.start_run()
        writer.feed("stdout", b"a line of output\n" * 20)  # past half of 200 bytes: rotated
        writer.close()
    PidFiles(tmp_path / "kubelet" / "pids").add(os.getpid())
    assert {"c.log", "c.log.1", "c.previous.log", "c.previous.log.1"} <= set(
        os.listdir(tmp_path / "kubelet" / "logs" / "ns_p_uid")
    )
    assert os.listdir(tmp_path / "kubelet" / "pids") == [str(os.getpid())]
    assert shared(tmp_path) == {}


def test_the_token_certificate_and_kubeconfig_are_private(tmp_path: Path) -> None:
    token = access.ensure_token(tmp_path)
    cert, _ = access.ensure_certificate(tmp_path, "127.0.0.1")
    access.write_kubeconfig(tmp_path, "https://127.0.0.1:7443", token, cert)
    assert set(modes(tmp_path)) == {
        ".",
        "token",
        "kubeconfig",
        "tls",
        "tls/server.crt",
        "tls/server.key",
    }
    assert shared(tmp_path) == {}


# -- a whole kawa ------------------------------------------------------------------------------


async def test_a_running_kawa_keeps_its_data_dir_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox", "args": ["echo", "pod output"]}],
        },
    }
    async with running_kawa(data_dir) as kawa:
        async with kawa.session.post(f"{kawa.url}/api/v1/namespaces/default/pods", json=pod) as r:
            assert r.status == 201, await r.text()

        async def logged() -> bool:
            logs = list((data_dir / "kubelet" / "logs").glob("default_p_*/c.log"))
            return bool(logs) and b"pod output" in logs[0].read_bytes()

        await eventually(logged, 20.0, "the Pod's output never reached its log file")
        found = modes(data_dir)
        assert {"resources.db-wal", "events.db-wal", "tls/server.key", "server.json"} <= set(found)
        assert shared(data_dir) == {}


async def test_a_data_dir_left_readable_is_made_private_on_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "data"
    async with running_kawa(data_dir):
        pass
    for path in [data_dir, *data_dir.rglob("*")]:  # as an older kawa left it
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    (data_dir / "notes.txt").write_bytes(b"")  # not kawa's: left alone

    with caplog.at_level(logging.WARNING, logger="kawa.runtime"):
        async with running_kawa(data_dir):
            assert shared(data_dir) == {"notes.txt": "0o666"}
    (line,) = [r.getMessage() for r in caplog.records if "readable by other" in r.getMessage()]
    assert f"the data dir {data_dir} was readable by other users: made" in line
    assert "events.db" in line
