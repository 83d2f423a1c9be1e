"""``kawa up --workers N`` without processes: the option, the restart policy, the ports.

The supervisor's life with real workers is in ``tests/e2e/test_e2e_workers.py``.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from kawa.cli import workers
from kawa.runtime import ListenError
from kawa.workers import identity, kubelet_url, runs_node_agent, state_file

from .conftest import Cli


def test_worker_counts() -> None:
    assert workers.parse_count("3") == 3
    assert workers.parse_count("auto") == workers.cores() >= 1
    assert workers.parse_count("AUTO") == workers.cores()
    for bad in ("0", "-1", "two", ""):
        with pytest.raises(ValueError, match=r"neither a number|at least one worker"):
            workers.parse_count(bad)


def test_more_than_one_worker_needs_nats(cli: Cli) -> None:
    run = cli("up", "--workers", "2")
    assert run.code == 2, run.explain()
    assert "--workers" in run.stderr, run.explain()
    assert "need --nats" in run.stderr, run.explain()
    assert "Traceback" not in run.stderr


def test_bad_worker_options(cli: Cli) -> None:
    run = cli("up", "--workers", "none", "--nats", "nats://127.0.0.1:1")
    assert run.code == 2, run.explain()
    assert "'none' is neither a number of workers" in run.stderr, run.explain()
    run = cli("up", "--workers", "2", "--worker-index", "1", "--nats", "nats://127.0.0.1:1")
    assert run.code == 2, run.explain()
    assert "--worker-index" in run.stderr, run.explain()


def test_what_a_worker_is() -> None:
    assert identity("a", None) == "a"
    assert identity("a", 1) == "a/1"
    assert runs_node_agent(None)
    assert runs_node_agent(0)
    assert not runs_node_agent(1)
    assert state_file(Path("d"), 2) == Path("d/workers/2.json")


def test_worker_zeros_kubelet_url_is_read_from_its_state_file(tmp_path: Path) -> None:
    assert kubelet_url(tmp_path) is None  # not started
    path = state_file(tmp_path, 0)
    path.parent.mkdir()
    for written in (b"{not json", b"[]", b'{"url": "http://x"}', b'{"kubeletUrl": 7}'):
        path.write_bytes(written)
        assert kubelet_url(tmp_path) is None, written
    path.write_bytes(b'{"url": "http://x", "kubeletUrl": "http://127.0.0.1:4001"}')
    assert kubelet_url(tmp_path) == "http://127.0.0.1:4001"


def test_a_worker_dying_is_restarted_later_and_later_until_it_keeps_dying() -> None:
    loop = workers.CrashLoop(limit=4, window=60.0, first_delay=0.5, max_delay=1.5)
    assert loop.died(0.0) == 0.5
    assert loop.died(1.0) == 1.0
    assert loop.died(2.0) == 1.5  # capped
    assert loop.died(3.0) is None  # four deaths within a minute


def test_deaths_older_than_the_window_are_forgotten() -> None:
    loop = workers.CrashLoop(limit=3, window=10.0, first_delay=0.5)
    assert loop.died(0.0) == 0.5
    assert loop.died(5.0) == 1.0
    assert loop.died(11.0) == 1.0  # the one at 0 is forgotten: two in the window
    assert loop.died(20.0) == 1.0
    assert loop.died(20.5) is None  # 11, 20 and 20.5


def test_a_reserved_port_is_shared_by_workers_and_refused_to_others() -> None:
    held = workers.reserve("127.0.0.1", 0)
    try:
        port = held.getsockname()[1]
        assert port > 0
        listeners = []
        for _ in range(2):  # two workers listen beside the reservation
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(("127.0.0.1", port))
            sock.listen(8)
            listeners.append(sock)
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # served by a listener, not by the (non-listening) reservation
        with socket.socket() as other, pytest.raises(OSError, match="in use"):  # no SO_REUSEPORT
            other.bind(("127.0.0.1", port))
        with pytest.raises(ListenError, match="already in use"):  # another kawa's supervisor
            workers.reserve("127.0.0.1", port)
        for sock in listeners:
            sock.close()
    finally:
        held.close()


def test_a_port_something_listens_on_cannot_be_reserved() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        with pytest.raises(ListenError, match="already in use"):
            workers.reserve("127.0.0.1", busy.getsockname()[1])
