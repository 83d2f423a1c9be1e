"""Benchmark: cold start of a Knative Service in kawa (first request to a Service at zero).

One run on this machine: ``python -m kawa up`` in a child process on a temporary data dir,
a Service with kawa's built-in event-display (image ``.../event_display``), the autoscaler
shortened through ``config-autoscaler`` so that the Service returns to zero within about a
second of its last request. Each round waits until the Service has no Pod left, then POSTs
one CloudEvent to the Service's URL and measures the time to the 202 (the activator holds the
request while the kubelet starts the process and the readiness check passes). A warm request
right after is measured too, as a reference.

With ``--runtime podman`` the Service runs a real container instead: an image built here
(``podman import`` of a rootfs holding Debian's busybox-static, ``httpd`` serving a page on
``$PORT``), and each round GETs the page (``kawa up --runtime podman``; nothing is pulled).

Prints p50/p99/max over the rounds::

    .venv/bin/python bench/serving_cold_start.py [--rounds 30] [--runtime podman]

Bounded: every wait has a deadline and the kawa child is stopped at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

IMAGE = "gcr.io/knative-releases/knative.dev/eventing/cmd/event_display"
PODMAN_IMAGE = "localhost/kawa-bench/httpd:1"
CONTAINERS_CONF = """[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
"""


def build_image(work: Path) -> None:
    """PODMAN_IMAGE: busybox-static's httpd serving /www on $PORT."""
    tar, page, conf = work / "rootfs.tar", work / "index.html", work / "containers.conf"
    page.write_text("hello\n")
    conf.write_text(CONTAINERS_CONF)
    with tarfile.open(tar, "w") as archive:
        archive.add("/bin/busybox", "bin/busybox")
        for applet in ("sh", "httpd"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            archive.addfile(link)
        archive.add(page, "www/index.html")
    command = 'CMD ["sh", "-c", "exec httpd -f -p ${PORT:-8080} -h /www"]'
    subprocess.run(
        ["podman", "import", "--change", command, str(tar), PODMAN_IMAGE],
        env={**os.environ, "CONTAINERS_CONF": str(conf)},
        check=True,
        capture_output=True,
        timeout=60,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Kawa:
    def __init__(self, work: Path, runtime: str = "process") -> None:
        self.port = free_port()
        self.data = work / "kawa"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kawa",
                "up",
                "--data-dir",
                str(self.data),
                "--port",
                str(self.port),
                "--api-port",
                str(free_port()),
                "--runtime",
                runtime,
            ],
            stdout=subprocess.DEVNULL,
            stderr=(work / "kawa.err").open("wb"),
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while not (self.data / "server.json").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"kawa did not start: {(work / 'kawa.err').read_text()}")
            time.sleep(0.05)
        self.token = (self.data / "token").read_text().strip()
        self._tls = ssl.create_default_context()

    def api(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if body is not None:
            ctype = "application/merge-patch+json" if method == "PATCH" else "application/json"
            request.add_header("Content-Type", ctype)
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.loads(resp.read())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out: {what}")
        time.sleep(0.02)


def get_page(url: str, n: int) -> float:
    start = time.perf_counter()
    with urllib.request.urlopen(f"{url}/index.html?n={n}", timeout=60) as resp:
        resp.read()
        if resp.status != 200:
            raise SystemExit(f"httpd answered {resp.status}")
    return (time.perf_counter() - start) * 1000


def post_event(url: str, n: int) -> float:
    request = urllib.request.Request(url, data=b'{"n": %d}' % n, method="POST")
    for name, value in {
        "ce-specversion": "1.0",
        "ce-id": f"cold-{n}",
        "ce-source": "/bench/cold-start",
        "ce-type": "bench.cold",
        "content-type": "application/json",
    }.items():
        request.add_header(name, value)
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as resp:
        resp.read()
        if resp.status != 202:
            raise SystemExit(f"event-display answered {resp.status}")
    return (time.perf_counter() - start) * 1000


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--runtime", choices=("process", "podman"), default="process")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kawa-cold-") as tmp:
        if args.runtime == "podman":
            build_image(Path(tmp))
        kawa = Kawa(Path(tmp), args.runtime)
        try:
            run(kawa, args.rounds, args.runtime)
        finally:
            kawa.stop()


def run(kawa: Kawa, rounds: int, runtime: str = "process") -> None:
    container: dict[str, Any] = {"image": IMAGE}
    request = post_event
    if runtime == "podman":
        container = {"image": PODMAN_IMAGE, "imagePullPolicy": "IfNotPresent"}
        request = get_page
    kawa.api(
        "PATCH",
        "/api/v1/namespaces/knative-serving/configmaps/config-autoscaler",
        {
            "data": {
                "tick-interval": "100ms",
                "stable-window": "1s",
                "scale-to-zero-grace-period": "200ms",
            }
        },
    )
    ksvc = "/apis/serving.knative.dev/v1/namespaces/default/services"
    kawa.api(
        "POST",
        ksvc,
        {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "metadata": {"name": "cold"},
            "spec": {"template": {"spec": {"containers": [container]}}},
        },
    )

    def service_url() -> str | None:
        status = kawa.api("GET", f"{ksvc}/cold").get("status", {})
        url = status.get("url")
        return url if isinstance(url, str) else None

    url = wait(service_url, 30, "the Service never got a URL")

    def ready() -> bool:
        conditions = kawa.api("GET", f"{ksvc}/cold").get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    wait(ready, 60, "the Service never became Ready")

    def pods() -> int:
        listed = kawa.api(
            "GET", "/api/v1/namespaces/default/pods?labelSelector=serving.knative.dev/service=cold"
        )
        return len(listed["items"])

    cold: list[float] = []
    warm: list[float] = []
    for n in range(rounds):
        wait(lambda: pods() == 0, 60, "the Service never returned to zero")
        time.sleep(0.2)  # let the kubelet finish its bookkeeping of the stopped Pod
        cold.append(request(url, n))
        warm.append(request(url, 10_000 + n))
    what = "podman container (busybox httpd)" if runtime == "podman" else "built-in event-display"
    print(f"kawa Service cold start, {what}, {rounds} rounds (ms)")
    print(f"{'':10} {'p50':>8} {'p99':>8} {'max':>8}")
    for name, values in (("cold", cold), ("warm", warm)):
        print(
            f"{name:10} {statistics.median(values):8.1f} {pct(values, 99):8.1f} {max(values):8.1f}"
        )
    print(f"(machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
