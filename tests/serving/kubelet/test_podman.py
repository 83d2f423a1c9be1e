"""The podman runtime in a whole ``kawa up --runtime podman``: real containers from an image
built here (a busybox-static rootfs, ``podman import``; nothing is pulled): a Knative Service
answering through the activator from zero, a Deployment reading a ConfigMap volume and a
Secret env behind a Service, ``kubectl exec`` (piped, on a terminal) and ``port-forward``
into its container, a failing liveness probe restarting its container, a missing image
reported as ErrImagePull, and no container left after kawa is SIGKILLed and started again.

Skipped where podman cannot run (failed under ``CI=true``: ``./dev install`` installs it).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import os
import pty
import struct
import subprocess
import termios
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kawa.serving.kubelet.node import node_id
from kawa.serving.kubelet.podman import NODE_LABEL

from ...e2e.e2e_support import KawaProcess, free_port, kawa_up, stop
from ...kubectl.kubectl_support import KUBECTL, Kubectl, read_until
from ...waiting import wait_until
from .podman_support import IMAGE, INDEX, build_image, podman, require, write_conf

pytestmark = pytest.mark.slow

PODS = "/api/v1/namespaces/default/pods"
KSVC = "/apis/serving.knative.dev/v1/namespaces/default/services"


@pytest.fixture(scope="module")
def kawa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KawaProcess]:
    require()
    workdir = tmp_path_factory.mktemp("kawa-podman")
    build_image(workdir, write_conf(workdir))
    with kawa_up(workdir, "--runtime", "podman") as running:
        yield running


def conf_of(kawa: KawaProcess) -> Path:
    return kawa.data_dir / "kubelet" / "containers.conf"


def create(kawa: KawaProcess, path: str, obj: dict[str, Any]) -> None:
    status, body = kawa.request("POST", path, obj)
    assert status == 201, body


def pod(kawa: KawaProcess, name: str) -> dict[str, Any]:
    status, body = kawa.request("GET", f"{PODS}/{name}")
    assert status == 200, body
    return dict(body)


def container_status(kawa: KawaProcess, name: str) -> dict[str, Any]:
    statuses = pod(kawa, name).get("status", {}).get("containerStatuses") or [{}]
    return dict(statuses[0])


def test_the_node_shows_podman(kawa: KawaProcess) -> None:
    def reported() -> dict[str, Any] | None:
        status, found = kawa.request("GET", "/api/v1/nodes/kawa")
        return dict(found) if status == 200 else None

    node = wait_until(reported, 10, "the Node was never reported")
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("podman://")


def test_a_knative_service_from_a_local_image_answers_from_zero(kawa: KawaProcess) -> None:
    token = (kawa.data_dir / "token").read_text().strip()
    patch = urllib.request.Request(
        f"{kawa.url}/api/v1/namespaces/knative-serving/configmaps/config-autoscaler",
        data=b'{"data": {"allow-zero-initial-scale": "true"}}',
        method="PATCH",
        headers={
            "Content-Type": "application/merge-patch+json",
            "Authorization": f"Bearer {token}",
        },
    )
    with urllib.request.urlopen(patch, timeout=10) as resp:
        assert resp.status == 200
    create(
        kawa,
        KSVC,
        {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "metadata": {"name": "hello", "namespace": "default"},
            "spec": {
                "template": {
                    "metadata": {"annotations": {"autoscaling.knative.dev/initial-scale": "0"}},
                    "spec": {"containers": [{"image": IMAGE, "imagePullPolicy": "IfNotPresent"}]},
                }
            },
        },
    )

    def ready() -> dict[str, Any] | None:
        _, svc = kawa.request("GET", f"{KSVC}/hello")
        conditions = svc.get("status", {}).get("conditions") or []
        ok = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
        return dict(svc) if ok else None

    svc = wait_until(ready, 30, "the Knative Service never got Ready")
    _, pods = kawa.request("GET", f"{PODS}?labelSelector=serving.knative.dev%2Fservice%3Dhello")
    assert pods["items"] == []  # from zero: the request starts the container
    began = time.monotonic()
    with urllib.request.urlopen(svc["status"]["url"] + "/index.html", timeout=30) as response:
        text = response.read().decode()
    assert text == INDEX
    assert time.monotonic() - began < 20
    _, pods = kawa.request("GET", f"{PODS}?labelSelector=serving.knative.dev%2Fservice%3Dhello")
    [started] = pods["items"]
    assert started["status"]["containerStatuses"][0]["containerID"].startswith("podman://")


@pytest.fixture(scope="module")
def web(kawa: KawaProcess) -> dict[str, Any]:
    """The Deployment ``web`` (its container serves /tmp on 8080, a page made from a ConfigMap
    volume and a Secret env) and its first ready Pod. A fixture, not a test's side effect:
    pytest-xdist may run this module's tests on different workers, each with its own kawa."""
    create(
        kawa,
        "/api/v1/namespaces/default/configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings"},
            "data": {"greeting": "bonjour"},
        },
    )
    create(
        kawa,
        "/api/v1/namespaces/default/secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds"},
            "data": {"token": base64.b64encode(b"s3cret").decode()},
        },
    )
    script = (
        'echo "$(cat /etc/settings/greeting) $TOKEN" > /tmp/www.html && '
        "cd /tmp && echo ready && exec httpd -f -p 8080 -h /tmp"
    )
    spec = {
        "containers": [
            {
                "name": "web",
                "image": IMAGE,
                "imagePullPolicy": "Never",
                "command": ["sh", "-c", script],
                "ports": [{"containerPort": 8080}],
                "env": [
                    {
                        "name": "TOKEN",
                        "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}},
                    }
                ],
                "volumeMounts": [{"name": "settings", "mountPath": "/etc/settings"}],
            }
        ],
        "volumes": [{"name": "settings", "configMap": {"name": "settings"}}],
    }
    create(
        kawa,
        "/apis/apps/v1/namespaces/default/deployments",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": spec},
            },
        },
    )

    def ready_pod() -> dict[str, Any] | None:
        _, found = kawa.request("GET", f"{PODS}?labelSelector=app%3Dweb")
        for item in found.get("items", []):
            statuses = item.get("status", {}).get("containerStatuses") or []
            if statuses and statuses[0].get("ready"):
                return dict(item)
        return None

    return dict(wait_until(ready_pod, 30, "the Deployment's container never got ready"))


def test_a_deployment_reads_a_configmap_volume_and_a_secret_env(
    kawa: KawaProcess, web: dict[str, Any]
) -> None:
    ready = web
    ip = ready["status"]["podIP"]
    with urllib.request.urlopen(f"http://{ip}:8080/www.html", timeout=5) as resp:
        assert resp.read().decode() == "bonjour s3cret\n"
    # a Service in front (port 80 to the container's 8080) reaches the container by its name
    create(
        kawa,
        "/api/v1/namespaces/default/services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    )

    def through_service() -> str | None:
        request = urllib.request.Request(
            f"http://127.0.0.1:{kawa.port}/www.html",
            headers={"Host": "web.default.svc.cluster.local"},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as resp:
                return str(resp.read().decode())
        except urllib.error.HTTPError:
            return None  # 503 until the Endpoints list the ready container

    assert wait_until(through_service, 30, "the Service never reached the container") == (
        "bonjour s3cret\n"
    )
    # kubectl logs reads the kubelet's log files: the container's output is there
    name = ready["metadata"]["name"]
    token = (kawa.data_dir / "token").read_text().strip()
    req = urllib.request.Request(
        f"{kawa.url}{PODS}/{name}/log", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert "ready" in resp.read().decode()


@pytest.fixture(scope="module")
def kubectl(kawa: KawaProcess, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    if not Path(KUBECTL).exists():
        pytest.skip(f"{KUBECTL} is not installed")
    return Kubectl(kawa.data_dir / "kubeconfig", tmp_path_factory.mktemp("kube-cache"))


@pytest.fixture
def web_pod(kawa: KawaProcess, web: dict[str, Any]) -> str:
    """The name of the Deployment ``web``'s running Pod (its container serves /tmp on 8080)."""

    def running() -> str | None:
        _, found = kawa.request("GET", f"{PODS}?labelSelector=app%3Dweb")
        for item in found.get("items", []):
            statuses = item.get("status", {}).get("containerStatuses") or []
            if statuses and statuses[0].get("ready"):
                return str(item["metadata"]["name"])
        return None

    return wait_until(running, 30, "the Deployment's container is not ready")


def test_a_running_containers_configmap_volume_follows_the_configmap(
    kawa: KawaProcess, kubectl: Kubectl, web_pod: str
) -> None:
    """The kubelet keeps a running container's ConfigMap (and Secret) volumes up to date, as
    Kubernetes' does: what a bound workload's renewed OIDC token Secret relies on."""
    path = "/api/v1/namespaces/default/configmaps/settings"

    def set_greeting(value: str) -> None:
        status, current = kawa.request("GET", path)
        assert status == 200, current
        current["data"]["greeting"] = value
        status, body = kawa.request("PUT", path, current)
        assert status == 200, body

    def greeting() -> str:
        return kubectl.ok("exec", web_pod, "--", "cat", "/etc/settings/greeting").strip()

    set_greeting("hallo")
    try:
        wait_until(lambda: greeting() == "hallo", 45, "the container never saw the new value")
    finally:
        set_greeting("bonjour")


def test_kubectl_exec_runs_in_the_container(kubectl: Kubectl, web_pod: str) -> None:
    name = web_pod
    # files only the image and the container's volume have; the container's environment
    run = kubectl.run("exec", name, "--", "sh", "-c", 'cat /www/index.html; echo "$TOKEN"')
    assert run.code == 0, run.explain()
    assert run.stdout == INDEX + "s3cret\n", run.explain()
    failed = kubectl.run("exec", name, "--", "sh", "-c", "echo oops >&2; exit 3")
    assert failed.code == 3, failed.explain()
    assert "oops" in failed.stderr
    assert "command terminated with exit code 3" in failed.stderr
    piped = kubectl.run("exec", "-i", name, "--", "cat", stdin="one\ntwo\n")
    assert piped.stdout == "one\ntwo\n", piped.explain()
    missing = kubectl.run("exec", name, "--", "no-such-command-here")
    assert missing.code == 127, missing.explain()


def test_kubectl_exec_with_a_terminal_in_the_container(kubectl: Kubectl, web_pod: str) -> None:
    name = web_pod
    pid, fd = pty.fork()
    if pid == 0:  # the child: kubectl on a terminal of 33 rows, 111 columns
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
        argv = kubectl.command("exec", "-it", name, "--", "sh")
        os.execv(argv[0], argv)
    try:
        read_until(fd, b"# ")
        os.write(fd, b"tty; stty size; cat /www/index.html\r")
        seen = read_until(fd, INDEX.encode().replace(b"\n", b"\r\n"))
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


def test_a_client_gone_ends_its_command_in_the_container(
    kubectl: Kubectl, web_pod: str, tmp_path: Path
) -> None:
    name = web_pod
    out = tmp_path / "exec.out"
    with out.open("wb") as sink:
        argv = kubectl.command("exec", name, "--", "sh", "-c", "echo started; exec sleep 3601")
        proc = subprocess.Popen(argv, stdout=sink, stderr=sink)
    list_commands = 'for p in /proc/[0-9]*; do cat "$p/cmdline"; echo; done'

    def commands() -> str:  # the container's processes' command lines
        return kubectl.ok("exec", name, "--", "sh", "-c", list_commands).replace("\0", " ")

    try:
        wait_until(lambda: "started" in out.read_text(), 20, "the command never started")
        assert "sleep 3601" in commands()
    finally:
        stop(proc)
    wait_until(
        lambda: "sleep 3601" not in commands(),
        10,
        "the command still runs in the container after kubectl went away",
    )


def test_kubectl_port_forward_reaches_the_container(kubectl: Kubectl, web_pod: str) -> None:
    name = web_pod
    local = free_port()
    out = Path(kubectl.cache_dir).with_name("port-forward.out")
    with out.open("wb") as sink:
        argv = kubectl.command("port-forward", f"pod/{name}", f"{local}:8080")
        proc = subprocess.Popen(argv, stdout=sink, stderr=sink)
    try:
        wait_until(lambda: b"Forwarding from" in out.read_bytes(), 20, "port-forward started")
        url = f"http://127.0.0.1:{local}/www.html"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.read() == b"bonjour s3cret\n"
        assert proc.poll() is None, out.read_text()
    finally:
        stop(proc)


def test_a_failing_liveness_probe_restarts_the_container(kawa: KawaProcess) -> None:
    create(
        kawa,
        PODS,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "sick"},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [
                    {
                        "name": "c",
                        "image": IMAGE,
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["sleep", "3600"],
                        "livenessProbe": {
                            "exec": {"command": ["test", "-e", "/tmp/healthy"]},
                            "periodSeconds": 1,
                            "failureThreshold": 1,
                        },
                    }
                ],
            },
        },
    )
    restarted = wait_until(
        lambda: container_status(kawa, "sick").get("restartCount", 0) >= 1 or None,
        30,
        "the container was never restarted",
    )
    assert restarted
    events = kawa.request("GET", "/api/v1/namespaces/default/events")[1]["items"]
    messages = [e["message"] for e in events if e["involvedObject"]["name"] == "sick"]
    assert any("Liveness probe failed" in m for m in messages), messages
    assert any("failed liveness probe, will be restarted" in m for m in messages), messages


def test_a_missing_image_reports_err_image_pull(kawa: KawaProcess) -> None:
    began = time.monotonic()
    create(
        kawa,
        PODS,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "missing"},
            "spec": {"containers": [{"name": "c", "image": "localhost/kawa-test/nowhere:1"}]},
        },
    )

    def pull_failed() -> dict[str, Any] | None:
        waiting = container_status(kawa, "missing").get("state", {}).get("waiting") or {}
        reason = waiting.get("reason")
        return dict(waiting) if reason in ("ErrImagePull", "ImagePullBackOff") else None

    waiting = wait_until(pull_failed, 20, "the Pod never reported ErrImagePull")
    assert time.monotonic() - began < 20
    assert "nowhere" in waiting.get("message", ""), waiting


def test_sigkill_of_kawa_leaves_no_container_after_the_next_start(kawa: KawaProcess) -> None:
    create(
        kawa,
        PODS,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "sleeper"},
            "spec": {"containers": [{"name": "c", "image": IMAGE, "command": ["sleep", "3600"]}]},
        },
    )
    label = f"label={NODE_LABEL}={node_id(kawa.data_dir)}"

    def containers() -> list[str]:
        listed = podman(conf_of(kawa), "ps", "-a", "-q", "--filter", label)
        return listed.stdout.split()

    wait_until(
        lambda: container_status(kawa, "sleeper").get("state", {}).get("running"),
        20,
        "the sleeper never ran",
    )
    before = set(containers())
    assert before
    kawa.kill()
    kawa.start()
    wait_until(
        lambda: not before & set(containers()) or None, 20, f"containers left: {containers()}"
    )
    # (its Pod runs again, in a new container)
    wait_until(
        lambda: container_status(kawa, "sleeper").get("state", {}).get("running"),
        20,
        "the sleeper never ran again",
    )


def test_a_container_sends_an_event_to_a_broker(kawa: KawaProcess) -> None:
    """kawa's HTTP port is on the host's loopback: a container reaches it through the relay on
    podman's gateway, its ``K_SINK`` (the Broker's address) rewritten to it."""
    brokers = "/apis/eventing.knative.dev/v1/namespaces/default/brokers"
    create(
        kawa,
        brokers,
        {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "metadata": {"name": "b"}},
    )

    def address() -> str | None:
        _, broker = kawa.request("GET", f"{brokers}/b")
        url = broker.get("status", {}).get("address", {}).get("url")
        return str(url) if url else None

    sink = wait_until(address, 20, "the Broker never got an address")
    script = (
        'echo "sink $K_SINK"; wget -q -O /dev/null --post-data "{}" '
        '--header "Content-Type: application/json" --header "ce-specversion: 1.0" '
        '--header "ce-id: 1" --header "ce-source: /podman" --header "ce-type: test.podman" '
        '"$K_SINK" && echo sent'
    )
    create(
        kawa,
        PODS,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "source"},
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {
                        "name": "c",
                        "image": IMAGE,
                        "imagePullPolicy": "Never",
                        "command": ["sh", "-c", script],
                        "env": [{"name": "K_SINK", "value": sink}],
                    }
                ],
            },
        },
    )

    def ended() -> str | None:
        phase = pod(kawa, "source").get("status", {}).get("phase")
        return str(phase) if phase in ("Succeeded", "Failed") else None

    phase = wait_until(ended, 30, "the source Pod never ended")
    token = (kawa.data_dir / "token").read_text().strip()
    req = urllib.request.Request(
        f"{kawa.url}{PODS}/source/log", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        log = resp.read().decode()
    assert phase == "Succeeded", f"{sink}: {log}"
    assert "sent" in log, log
    assert f"sink {sink}" not in log, log  # rewritten: the host's loopback is not the container's
