"""``kubectl logs``, ``logs -f``, ``exec`` and ``port-forward`` for a Pod on another node: two
``kawa up --nats`` nodes on one private nats-server, listening on the addresses they
advertise (``127.0.0.2`` for ``a``, ``.3`` for ``b``), and the real kubectl pointed at ``a``
only, for a Pod bound to ``b``.

Only ``b`` has the Pod's log files, process and port: ``a`` could answer none of these
itself (it would say ``is not running on this node``), so each success went through ``b``'s
kawa, signed with the cluster's hop key (``exec -it`` included: the terminal's size
crosses too). Then ``b`` stops: the same requests through ``a``
answer Kubernetes' ``error dialing backend``, not a hang."""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import os
import pty
import struct
import subprocess
import termios
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from kawa.workers import HEADER

from ..kubectl.kubectl_support import Kubectl, read_until
from ..nats_support import nats_server
from ..waiting import wait_until
from .e2e_support import KawaProcess, free_port, stop
from .test_e2e_nodes import node, ready_nodes

POD = "on-b"


def pod(site: Path) -> dict[str, Any]:
    script = (
        "echo hello-from-b; (i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.3; done) & "
        'exec python3 -m http.server 8080 --bind "$KAWA_POD_IP"'
    )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": POD, "namespace": "default"},
        "spec": {
            "nodeName": "b",
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "app",
                    "image": "busybox",
                    "command": ["sh", "-c"],
                    "args": [script],
                    "workingDir": str(site),
                    "env": [{"name": "WHERE", "value": "on b"}],
                    "ports": [{"containerPort": 8080}],
                }
            ],
        },
    }


@contextlib.contextmanager
def background(kubectl: Kubectl, out: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    with out.open("wb") as sink:
        proc = subprocess.Popen(kubectl.command(*args), stdout=sink, stderr=sink)
    try:
        yield proc
    finally:
        stop(proc)


@pytest.mark.slow
def test_logs_exec_and_port_forward_reach_a_pod_on_another_node(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "hello.txt").write_text("served by the pod on b\n")
    with nats_server(tmp_path / "nats") as url:
        a, b = node(tmp_path, "a", url), node(tmp_path, "b", url)
        try:
            a.start()
            b.start()
            wait_until(lambda: ready_nodes(a) == {"a", "b"}, 30, "the nodes never got Ready")
            kubectl = Kubectl(a.data_dir / "kubeconfig", tmp_path / "kube-cache")
            kubectl.apply(pod(site))
            kubectl.ok("wait", "--for=condition=Ready", f"pod/{POD}", "--timeout=60s")

            # logs: b's log file, through a
            wait_until(
                lambda: "tick-1" in kubectl.ok("logs", POD), 20, "the Pod's log never showed"
            )
            assert kubectl.ok("logs", POD).startswith("hello-from-b\n")
            assert kubectl.ok("logs", POD, "-c", "app", "--tail=1").startswith("tick-")

            # logs -f: a long stream, lines arriving while it is open
            out = tmp_path / "follow.out"
            with background(kubectl, out, "logs", "-f", POD, "--tail=1") as follow:
                first = wait_until(lambda: _ticks(out), 20, "logs -f showed nothing")[0]
                wait_until(
                    lambda: any(t >= first + 3 for t in _ticks(out)),
                    20,
                    f"logs -f stopped streaming: {out.read_text()!r}",
                )
                assert follow.poll() is None, out.read_text()

            # exec: in the container on b, stdin and exit code carried
            script = 'echo "$WHERE"; pwd; echo oops >&2; exit 3'
            run = kubectl.run("exec", POD, "--", "sh", "-c", script)
            assert run.code == 3, run.explain()
            assert run.stdout.splitlines() == ["on b", str(site)], run.explain()
            assert "oops" in run.stderr
            assert "command terminated with exit code 3" in run.stderr
            assert kubectl.ok("exec", "-i", POD, "--", "cat", stdin="one\ntwo\n") == "one\ntwo\n"

            _terminal(kubectl)  # exec -it: the terminal's size (stream 4) passes too

            # port-forward: kubectl's local port to the Pod's, through a and b
            local = free_port()
            out = tmp_path / "forward.out"
            with background(kubectl, out, "port-forward", f"pod/{POD}", f"{local}:8080") as pf:
                wait_until(lambda: b"Forwarding from" in out.read_bytes(), 20, "no port-forward")
                for _ in range(2):
                    address = f"http://127.0.0.1:{local}/hello.txt"
                    with urllib.request.urlopen(address, timeout=10) as response:
                        assert response.read() == b"served by the pod on b\n"
                assert pf.poll() is None, out.read_text()

            # b gone: a says it cannot reach b's kubelet, at once
            b.stop()
            for args in (("logs", POD), ("exec", POD, "--", "true")):
                run = kubectl.run(*args, timeout=30)
                assert run.code == 1, run.explain()
                assert "error dialing backend" in run.stderr, run.explain()
        finally:
            a.stop()
            b.stop()


@pytest.mark.slow
def test_any_worker_reaches_the_pods_of_its_node(tmp_path: Path) -> None:
    """With ``--workers 2`` only worker 0 runs the kubelet; worker 1 sends a Pod's requests
    to worker 0's own loopback listener (``kubeletUrl`` in ``workers/0.json``)."""
    site = tmp_path / "site"
    site.mkdir()
    with nats_server(tmp_path / "nats") as url:
        kawa = KawaProcess(
            tmp_path, tmp_path / "data", free_port(), free_port(), ("--workers", "2"), url
        )
        try:
            kawa.start(40.0)
            state = orjson.loads((kawa.data_dir / "workers" / "0.json").read_bytes())
            assert state["kubeletUrl"].startswith("http://127.0.0.1:"), state
            kubectl = Kubectl(kawa.data_dir / "kubeconfig", tmp_path / "kube-cache")
            manifest = pod(site)
            del manifest["spec"]["nodeName"]  # the only node
            kubectl.apply(manifest)
            kubectl.ok("wait", "--for=condition=Ready", f"pod/{POD}", "--timeout=60s")

            # a fresh connection per request, until both workers answered: a request that
            # is no WebSocket is refused by the kubelet's handler after it found the
            # container running, which only worker 0 can find
            token = (kawa.data_dir / "token").read_text().strip()
            path = f"/api/v1/namespaces/default/pods/{POD}/exec?command=true&stdout=true"
            answered: set[str] = set()
            for _ in range(40):
                conn = http.client.HTTPConnection("127.0.0.1", kawa.port, timeout=30)
                try:
                    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
                    response = conn.getresponse()
                    text = response.read().decode()
                finally:
                    conn.close()
                assert response.status == 400, text
                assert "over WebSocket only" in text, text  # not "not running on this node"
                answered.add(response.headers[HEADER])
                if answered == {"0", "1"}:
                    break
            assert answered == {"0", "1"}, answered
            for _ in range(3):  # and kubectl, over whichever worker its connection reaches
                run = kubectl.run("exec", POD, "--", "sh", "-c", 'echo "$WHERE"')
                assert (run.code, run.stdout) == (0, "on b\n"), run.explain()
        finally:
            kawa.stop()


def _terminal(kubectl: Kubectl) -> None:
    pid, fd = pty.fork()
    if pid == 0:  # the child: kubectl on a terminal of 33 rows, 111 columns
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
        argv = kubectl.command("exec", "-it", POD, "--", "sh")
        os.execv(argv[0], argv)
    try:
        read_until(fd, b"# ")
        os.write(fd, b"stty size; echo $((6 * 7))\r")
        assert b"33 111" in read_until(fd, b"42\r\n")
        os.write(fd, b"exit 5\r")
        read_until(fd, b"command terminated with exit code 5")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 5
        pid = 0
    finally:
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)


def _ticks(out: Path) -> list[int]:
    """The tick numbers of the whole lines ``logs -f`` has written so far."""
    lines = out.read_text(errors="replace").split("\n")[:-1]  # the last one may be partial
    return [int(line[5:]) for line in lines if line.startswith("tick-") and line[5:].isdigit()]
