"""A Pod's service account token, used from inside the Pod against a real ``kawa up``: the
files Kubernetes projects (``token``, ``ca.crt``, ``namespace``) and
``KUBERNETES_SERVICE_HOST``/``_PORT``, with which an in-cluster client reads its own Pod over
HTTPS. Run with both runtimes: a host process (its files in ``$KAWA_SERVICE_ACCOUNT_DIR``,
the certificate verified) and a podman container (the files at the standard path, the API
through the relay on podman's gateway; skipped where podman cannot run, failed under
``CI=true``).
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from kawa.serving.kubelet.service_account import MOUNT_PATH, SERVICE_NAME

from ...e2e.e2e_support import KawaProcess, kawa_up
from ...waiting import wait_until
from . import podman_support

pytestmark = pytest.mark.slow

PODS = "/api/v1/namespaces/default/pods"
IN_CLUSTER_CLIENT = """
import json, os, ssl, urllib.request
d = os.environ["KAWA_SERVICE_ACCOUNT_DIR"]
ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.crt"))
ns = open(os.path.join(d, "namespace")).read()
token = open(os.path.join(d, "token")).read()
host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"]
url = f"https://{host}:{port}/api/v1/namespaces/{ns}/pods/{os.environ['HOSTNAME']}"
req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
    print("pod uid", json.load(resp)["metadata"]["uid"], flush=True)
"""
# The test image has no TLS client that speaks to kawa's API (busybox's wget fails the
# handshake), so for podman the client runs on the host *in the container's network
# namespace* (nsenter), with the credentials and /etc/hosts the container got.
NETNS_CLIENT = """
import json, os, socket, ssl
ctx = ssl.create_default_context(cadata=os.environ["CA"])
host, port = os.environ["KUBERNETES_SERVICE_HOST"], int(os.environ["KUBERNETES_SERVICE_PORT"])
raw = socket.create_connection((os.environ["ADDRESS"], port), timeout=10)
with ctx.wrap_socket(raw, server_hostname=host) as tls:
    path = f"/api/v1/namespaces/{os.environ['NS']}/pods/{os.environ['POD']}"
    tls.sendall(
        f"GET {path} HTTP/1.0\\r\\nHost: {host}\\r\\nConnection: close\\r\\n"
        f"Authorization: Bearer {os.environ['TOKEN']}\\r\\n\\r\\n".encode()
    )
    data = b""
    while chunk := tls.recv(65536):
        data += chunk
head, _, body = data.partition(b"\\r\\n\\r\\n")
print(head.split(b"\\r\\n")[0].decode())
print("pod uid", json.loads(body)["metadata"]["uid"])
"""


@pytest.fixture(scope="module", params=["process", "podman"])
def kawa(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KawaProcess]:
    runtime = str(request.param)
    workdir = tmp_path_factory.mktemp(f"kawa-sa-{runtime}")
    if runtime == "podman":
        podman_support.require()
        podman_support.build_image(workdir, podman_support.write_conf(workdir))
    with kawa_up(workdir, "--runtime", runtime) as running:
        yield running


def runtime_of(kawa: KawaProcess) -> str:
    return "podman" if "podman" in kawa.extra else "process"


def run_pod(kawa: KawaProcess, name: str, container: dict[str, Any]) -> dict[str, Any]:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", **container}]},
    }
    status, body = kawa.request("POST", PODS, pod)
    assert status == 201, body

    def ended() -> dict[str, Any] | None:
        _, found = kawa.request("GET", f"{PODS}/{name}")
        phase = found.get("status", {}).get("phase")
        return dict(found) if phase in ("Succeeded", "Failed") else None

    return wait_until(ended, 60, f"the Pod {name} never ended")


def log_of(kawa: KawaProcess, name: str) -> str:
    token = (kawa.data_dir / "token").read_text().strip()
    req = urllib.request.Request(
        f"{kawa.url}{PODS}/{name}/log", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return str(resp.read().decode())


def test_an_in_cluster_client_reads_its_own_pod(kawa: KawaProcess) -> None:
    if runtime_of(kawa) == "podman":
        _podman_client(kawa)
        return
    container = {"image": "busybox", "command": [sys.executable, "-c", IN_CLUSTER_CLIENT]}
    pod = run_pod(kawa, "client", container)
    log = log_of(kawa, "client")
    assert pod["status"]["phase"] == "Succeeded", log
    assert f"pod uid {pod['metadata']['uid']}" in log, log


def _podman_client(kawa: KawaProcess) -> None:
    status, body = kawa.request(
        "POST",
        PODS,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "client"},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [
                    {
                        "name": "c",
                        "image": podman_support.IMAGE,
                        "imagePullPolicy": "Never",
                        "command": ["sleep", "3600"],
                    }
                ],
            },
        },
    )
    assert status == 201, body

    def running() -> dict[str, Any] | None:
        _, found = kawa.request("GET", f"{PODS}/client")
        statuses = found.get("status", {}).get("containerStatuses") or [{}]
        return dict(found) if statuses[0].get("state", {}).get("running") else None

    pod = wait_until(running, 30, "the client Pod never ran")
    name = pod["status"]["containerStatuses"][0]["containerID"].removeprefix("podman://")
    conf = kawa.data_dir / "kubelet" / "containers.conf"

    def inside(*command: str) -> str:
        done = podman_support.podman(conf, "exec", name, *command, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def started() -> bool:  # "running" is reported as podman run starts
        return podman_support.podman(conf, "exec", name, "true", check=False).returncode == 0

    wait_until(started, 20, "the container never accepted podman exec")

    files = {f: inside("cat", f"{MOUNT_PATH}/{f}") for f in ("token", "ca.crt", "namespace")}
    assert files["token"] == (kawa.data_dir / "token").read_text().strip()
    assert files["ca.crt"] == (kawa.data_dir / "tls" / "server.crt").read_text()
    assert files["namespace"] == "default"
    env = dict(line.split("=", 1) for line in inside("env").splitlines() if "=" in line)
    assert env["KUBERNETES_SERVICE_HOST"] == SERVICE_NAME
    [address] = [
        line.split()[0]
        for line in inside("cat", "/etc/hosts").splitlines()
        if SERVICE_NAME in line.split()[1:]
    ]
    pid = podman_support.podman(conf, "inspect", "--format", "{{.State.Pid}}", name).stdout
    client = subprocess.run(
        ["nsenter", "-t", pid.strip(), "-n", sys.executable, "-c", NETNS_CLIENT],
        env={
            "KUBERNETES_SERVICE_HOST": env["KUBERNETES_SERVICE_HOST"],
            "KUBERNETES_SERVICE_PORT": env["KUBERNETES_SERVICE_PORT"],
            "ADDRESS": address,
            "CA": files["ca.crt"],
            "TOKEN": files["token"],
            "NS": files["namespace"],
            "POD": "client",
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert client.returncode == 0, client.stderr
    assert client.stdout.splitlines()[0].endswith("200 OK"), client.stdout
    assert f"pod uid {pod['metadata']['uid']}" in client.stdout
    # the API is not on the container's own loopback: only the relay makes this work
    assert address != "127.0.0.1"


def test_the_certificate_names_the_service(kawa: KawaProcess) -> None:
    """What a verifying client in a container checks: the API's certificate, from the Pod's
    ``ca.crt``, valid for ``kubernetes.default.svc``."""
    context = ssl.create_default_context(cafile=str(kawa.data_dir / "tls" / "server.crt"))
    with (
        socket.create_connection(("127.0.0.1", kawa.api_port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=SERVICE_NAME) as tls,
    ):
        assert tls.version()


def test_automount_false_projects_nothing(kawa: KawaProcess) -> None:
    if runtime_of(kawa) == "podman":
        script = f'test -e {MOUNT_PATH} && echo mounted; echo "host=[$KUBERNETES_SERVICE_HOST]"'
        container = {"image": podman_support.IMAGE, "imagePullPolicy": "Never"}
    else:
        script = 'echo "dir=[$KAWA_SERVICE_ACCOUNT_DIR] host=[$KUBERNETES_SERVICE_HOST]"'
        container = {"image": "busybox"}
    name = "no-token"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "containers": [{"name": "c", **container, "command": ["sh", "-c", script]}],
        },
    }
    status, body = kawa.request("POST", PODS, pod)
    assert status == 201, body
    wait_until(
        lambda: (
            kawa.request("GET", f"{PODS}/{name}")[1].get("status", {}).get("phase") == "Succeeded"
        ),
        60,
        "the Pod never succeeded",
    )
    log = log_of(kawa, name)
    assert "mounted" not in log, log
    assert "host=[]" in log, log
    assert "dir=[]" in log or runtime_of(kawa) == "podman", log
