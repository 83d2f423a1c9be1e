"""``kubectl exec`` and ``kubectl port-forward`` (kubectl 1.32: WebSocket, SPDY tunnelled in
a WebSocket) against a running kawa whose kubelet runs the Pod as a host process.

One Pod for the module: a shell image running Python's HTTP server on its Pod address, in
a working directory of the test's, with an env var of its own. ``exec`` must run in the
container's environment and directory, carry stdout, stderr, stdin and the exit code; ``-it``
gets a terminal of the size kubectl's terminal has; ``port-forward`` reaches the server.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import struct
import subprocess
import termios
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..e2e.e2e_support import KawaProcess, free_port, stop
from ..waiting import wait_until
from .kubectl_support import Kubectl, read_until

pytestmark = pytest.mark.slow

NS = "exec-test"
POD = "web"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    (root / "hello.txt").write_text("hello from the pod\n")
    return root


@pytest.fixture(scope="module")
def pod(kawa: KawaProcess, site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    k = Kubectl(kawa.data_dir / "kubeconfig", tmp_path_factory.mktemp("kube-cache"))
    if k.run("get", "namespace", NS).code != 0:
        k.ok("create", "namespace", NS)
    k.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": POD, "namespace": NS},
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "image": "busybox",
                        "command": ["sh", "-c"],
                        "args": ['exec python3 -m http.server 8080 --bind "$KAWA_POD_IP"'],
                        "workingDir": str(site),
                        "env": [{"name": "GREETING", "value": "hi there"}],
                        "ports": [{"containerPort": 8080}],
                    }
                ]
            },
        }
    )
    k.ok("wait", "-n", NS, "--for=condition=Ready", f"pod/{POD}", "--timeout=60s")
    yield POD
    k.run("delete", "namespace", NS, "--wait=false")


def test_exec_runs_in_the_container_and_its_exit_code_propagates(
    kubectl: Kubectl, pod: str, site: Path
) -> None:
    script = 'echo "$HOSTNAME/$GREETING"; pwd; echo oops >&2; exit 3'
    run = kubectl.run("exec", "-n", NS, pod, "--", "sh", "-c", script)
    assert run.code == 3, run.explain()
    assert run.stdout.splitlines() == [f"{pod}/hi there", str(site)], run.explain()
    assert "oops" in run.stderr
    assert "command terminated with exit code 3" in run.stderr
    assert kubectl.run("exec", "-n", NS, pod, "-c", "app", "--", "true").code == 0


def test_exec_pipes_stdin_to_the_command(kubectl: Kubectl, pod: str) -> None:
    assert kubectl.ok("exec", "-i", "-n", NS, pod, "--", "cat", stdin="one\ntwo\n") == "one\ntwo\n"
    big = "x" * 300_000 + "\n"  # more than one message's worth, and stdin's end is seen (v5)
    assert kubectl.ok("exec", "-i", "-n", NS, pod, "--", "wc", "-c", stdin=big).strip() == str(
        len(big)
    )


def test_exec_of_a_missing_command_is_exit_127(kubectl: Kubectl, pod: str) -> None:
    run = kubectl.run("exec", "-n", NS, pod, "--", "no-such-command-here")
    assert run.code == 127, run.explain()
    assert 'exec: "no-such-command-here": executable file not found in $PATH' in run.stderr
    assert "command terminated with exit code 127" in run.stderr
    assert "Traceback" not in run.stderr


def test_exec_errors_before_the_command(kubectl: Kubectl, pod: str) -> None:
    missing = kubectl.run("exec", "-n", NS, "nope", "--", "true")
    assert missing.code == 1
    assert 'pods "nope" not found' in missing.stderr, missing.explain()
    container = kubectl.run("exec", "-n", NS, pod, "-c", "other", "--", "true")
    assert container.code == 1
    assert f"container other is not valid for pod {pod}" in container.stderr, container.explain()


def test_exec_with_a_terminal(kubectl: Kubectl, pod: str) -> None:
    pid, fd = pty.fork()
    if pid == 0:  # the child: kubectl on a terminal of 33 rows, 111 columns
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
        argv = kubectl.command("exec", "-it", "-n", NS, pod, "--", "sh")
        os.execv(argv[0], argv)
    try:
        read_until(fd, b"# ")
        os.write(fd, b"tty; stty size; echo $((6 * 7))\r")
        seen = read_until(fd, b"42\r\n")
        assert b"/dev/pts/" in seen, seen
        assert b"33 111" in seen, seen
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


@contextlib.contextmanager
def forwarding(kubectl: Kubectl, *args: str) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    out = Path(kubectl.cache_dir).with_name("port-forward.out")
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as sink:
        proc = subprocess.Popen(kubectl.command("port-forward", *args), stdout=sink, stderr=sink)
    try:
        yield proc, out
    finally:
        stop(proc)


def test_port_forward_reaches_the_pods_server(kubectl: Kubectl, pod: str) -> None:
    local = free_port()
    with forwarding(kubectl, "-n", NS, f"pod/{pod}", f"{local}:8080") as (proc, out):
        wait_until(lambda: b"Forwarding from" in out.read_bytes(), 20, "port-forward started")
        for _ in range(3):  # each request a connection of its own through the one session
            url = f"http://127.0.0.1:{local}/hello.txt"
            with urllib.request.urlopen(url, timeout=10) as response:
                assert response.read() == b"hello from the pod\n"
        assert proc.poll() is None, out.read_text()


def test_port_forward_to_a_closed_port_says_so(kubectl: Kubectl, pod: str) -> None:
    local = free_port()
    with forwarding(kubectl, "-n", NS, f"pod/{pod}", f"{local}:9") as (_, out):
        wait_until(lambda: b"Forwarding from" in out.read_bytes(), 20, "port-forward started")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{local}/", timeout=10),
        ):
            pass
        wait_until(lambda: b"error forwarding port 9" in out.read_bytes(), 10, "the error shown")


def test_port_forward_to_a_missing_pod(kubectl: Kubectl, pod: str) -> None:
    run = kubectl.run("port-forward", "-n", NS, "pod/nope", f"{free_port()}:80")
    assert run.code == 1
    assert 'pods "nope" not found' in run.stderr, run.explain()


def test_exec_and_port_forward_need_create_on_their_subresources(
    kubectl: Kubectl, pod: str
) -> None:
    kubectl.ok("create", "role", "pod-reader", "-n", NS, "--verb=get", "--resource=pods")
    kubectl.ok("create", "rolebinding", "reader", "-n", NS, "--role=pod-reader", "--user=exec-user")
    refused = kubectl.run("exec", "-n", NS, pod, "--as=exec-user", "--", "true")
    assert refused.code == 1
    assert 'cannot create resource "pods/exec"' in refused.stderr, refused.explain()
    can_i = kubectl.run("auth", "can-i", "create", "pods/exec", "-n", NS, "--as=exec-user")
    assert can_i.stdout.strip() == "no", can_i.explain()
    kubectl.ok("create", "role", "pod-exec", "-n", NS, "--verb=create", "--resource=pods/exec")
    kubectl.ok("create", "rolebinding", "execer", "-n", NS, "--role=pod-exec", "--user=exec-user")
    allowed = kubectl.run("exec", "-n", NS, pod, "--as=exec-user", "--", "echo", "in")
    assert allowed.code == 0, allowed.explain()
    assert allowed.stdout == "in\n"


def test_a_client_gone_ends_its_command(kubectl: Kubectl, pod: str, tmp_path: Path) -> None:
    out = tmp_path / "exec.out"
    with out.open("wb") as sink:
        argv = kubectl.command("exec", "-n", NS, pod, "--", "sh", "-c", "echo $$; exec sleep 60")
        proc = subprocess.Popen(argv, stdout=sink, stderr=sink)
    try:
        pid = int(wait_until(lambda: out.read_text().strip(), 20, "the command's pid"))
        os.kill(pid, 0)  # running
    finally:
        stop(proc)

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_until(gone, 10, "the command killed when kubectl went away")
