"""Benchmark: kawa's broker end to end, against nginx and a naive Python forwarder.

One run, everything on this machine over loopback, every server a separate child process:

* the **subscriber** (``bench/e2e_roles.py subscriber``) answers 202 and computes each
  delivery's latency from the ``benchsent`` extension the sender put into the event;
* the **load generator** is ``wrk`` (C, one thread, ``--connections`` keep-alive
  connections) with a Lua script that stamps every request with CLOCK_MONOTONIC; the same
  generator drives every target;
* targets: **nginx** (``return 202;``, the loopback ceiling), the **naive forwarder**
  (aiohttp + PyPI ``cloudevents``, forwards to the subscriber before its 202), and **kawa**
  (``python -m kawa up`` on a temporary data dir, durability ``full``) with no trigger
  (ingress only), 1 trigger and 10 triggers;
* kawa's channels (``channels``): an InMemoryChannel with 10 Subscriptions at saturation
  (deliveries/s beside the 10-trigger broker's), then at the open-loop rate a channel with
  one Subscription and a 3-step Sequence whose steps echo the event (``/echo/`` of the
  subscriber) and whose reply is the subscriber, then both again one event at a time (the next
  sent when the last arrived: latency without load): ``(p50 Sequence - p50 channel) / 3`` is
  what a step adds;
* then kawa with 1 trigger at a fixed open-loop rate (``e2e_roles.py pacer``) for latency
  (with ``forwarder`` and ``paced`` both chosen, the naive forwarder is paced the same way
  first: the reference for the open-loop latency on this machine);
* then (``backpressure``) a second kawa with ``--max-delivery-lag`` (``--lag``, 1 s), whose
  10-trigger broker answers 429 once its events wait longer than that for delivery: the
  ingress rate and e2e latency with the bound, beside the row without it (``err`` counts
  the 429s; wrk retries at once, it does not honour ``Retry-After``).

``--backend`` chooses what kawa's event log and store run on: ``sqlite`` (the default: ``kawa
up --data-dir``), ``jetstream`` (``kawa up --nats``) or ``both``; every kawa phase above runs
once per backend, in turn, and the table gets a row per backend with a side-by-side summary
after it. For JetStream the bench starts its own ``nats-server`` processes on free loopback
ports with their stores in the temporary directory (never the machine's server at :4222):
one server for ``--nats-replicas 1``, a three-server cluster (routes on loopback) for ``3``,
and waits until JetStream is ready (on a cluster: every server names the same meta leader)
before it starts kawa with ``--nats URL[,URL,URL] --nats-replicas N``. ``--nats-replicas``
is repeatable (``--nats-replicas 1 --nats-replicas 3``: both, one after the other); each
setup gets fresh servers, and the servers' CPU is reported as ``nats`` (all three summed).

Prints a table. Needs nginx and wrk (``bash bench/setup.sh``) and, for JetStream,
``nats-server``::

    .venv/bin/python bench/broker_e2e.py [--duration 10] [--connections 64]
    .venv/bin/python bench/broker_e2e.py --backend both --nats-replicas 1 --nats-replicas 3

Bounded: every phase has a deadline and every child is stopped at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

HERE = Path(__file__).resolve().parent
ROLES = HERE / "e2e_roles.py"
API = "/apis/eventing.knative.dev/v1/namespaces/default"
TARGETS = ("nginx", "forwarder", "kawa", "paced", "channels", "backpressure", "transform")
MESSAGING = "/apis/messaging.knative.dev/v1/namespaces/default"
FLOWS = "/apis/flows.knative.dev/v1/namespaces/default"
TRANSFORMS = "/apis/eventing.knative.dev/v1alpha1/namespaces/default"
TRANSFORM_EXPRESSION = '$merge([$, {"type": "bench.transformed"}])'
"""The transform target's expression: the event with another type (Knative's enrichment)."""
CLK_TCK = os.sysconf("SC_CLK_TCK")
BACKENDS = ("sqlite", "jetstream", "both")
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
RUN = time.time_ns()

WRK_SCRIPT = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local counter = 0
-- CloudEvents ids are unique per source: each wrk thread numbers its own events, so the id
-- carries the thread and the run (a JetStream log keeps a resent source+id once)
local threads = 0
local prefix = ""
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
init = function(args)
  ffi.C.clock_gettime(0, ts)
  prefix = string.format("%d.%d-%d-", tonumber(ts.tv_sec), tonumber(ts.tv_nsec), tid or 0)
end
wrk.method = "POST"
wrk.body = '{"message":"hello from the kawa benchmark","padding":"'
  .. string.rep("x", 40) .. '"}'
wrk.headers["ce-specversion"] = "1.0"
wrk.headers["ce-type"] = "bench.event"
wrk.headers["ce-source"] = "/bench/wrk"
wrk.headers["content-type"] = "application/json"
-- authentication-oidc on: the token kubectl create token would give (--oidc-on)
local token = os.getenv("KAWA_BENCH_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

request = function()
  counter = counter + 1
  ffi.C.clock_gettime(1, ts)
  wrk.headers["ce-id"] = prefix .. tostring(counter)
  wrk.headers["ce-benchsent"] = string.format("%d",
    tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000))
  return wrk.format()
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""

NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{ return 202; }}
    }}
}}
"""


@dataclass(frozen=True)
class Backend:
    """What kawa's event log and store run on in one set of kawa phases."""

    kind: str  # "sqlite" or "jetstream"
    replicas: int = 1
    workers: int = 1

    @property
    def label(self) -> str:
        if self.kind == "sqlite":
            return "sqlite"
        return f"jetstream R{self.replicas}" + (f" x{self.workers}" if self.workers > 1 else "")

    @property
    def slug(self) -> str:
        if self.kind == "sqlite":
            return "sqlite"
        return f"js-r{self.replicas}" + (f"-w{self.workers}" if self.workers > 1 else "")


@dataclass
class Row:
    target: str
    backend: str = ""
    ingress_rate: float = 0.0
    ingress_p50_ms: float = 0.0
    ingress_p99_ms: float = 0.0
    delivered_rate: float | None = None
    e2e_p50_ms: float | None = None
    e2e_p99_ms: float | None = None
    e2e_max_ms: float | None = None
    errors: int = 0
    cpu: dict[str, float] = field(default_factory=dict)
    cpu_us_per_event: float | None = None
    """CPU of the system under test (everything but the subscriber and the load generator)
    per accepted event, in microseconds."""
    note: str = ""


# -- processes -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class Children:
    """Every child process of the run; all are stopped on exit."""

    def __init__(self, logs: Path) -> None:
        self._logs = logs
        self._procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, name: str, argv: list[str], log_dir: Path | None = None
    ) -> subprocess.Popen[bytes]:
        path = (log_dir or self._logs) / f"{name}.log"
        log = open(path, "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self._procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc in self._procs:
            self._procs.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(list(self._procs)):
            self.stop(proc)


Pids = dict[str, int | tuple[int, ...]]
"""Processes whose CPU a row reports, by name (a tuple: their sum, e.g. a NATS cluster)."""


def cpu_seconds(pid: int | tuple[int, ...]) -> float:
    """User + system CPU of a process (its threads included), or the sum of several."""
    if isinstance(pid, tuple):
        return sum(cpu_seconds(one) for one in pid)
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def stolen_seconds() -> float:
    """CPU time the hypervisor gave to other guests instead of this machine, over all its
    CPUs (``/proc/stat``'s steal; 0 where there is none)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return 0.0
    return int(fields[8]) / CLK_TCK if len(fields) > 8 and fields[0] == "cpu" else 0.0


# -- HTTP helpers (urllib: the bench's own control traffic is tiny) --------------------------------


API_TOKEN: dict[str, str] = {}
"""The bearer token of the kawa under test (its API needs it; the ingress does not)."""


def http(method: str, url: str, body: Any = None, timeout: float = 10.0) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if "token" in API_TOKEN and ("/apis/" in url or "/api/" in url):
        request.add_header("Authorization", f"Bearer {API_TOKEN['token']}")
    if data is not None:
        request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


WRK_ENV: dict[str, str] = {}
"""Environment of the wrk runs (``KAWA_BENCH_TOKEN``: the OIDC token its requests carry)."""
BENCH_BROKERS: Final = ("ingress", "one", "ten")


def enable_oidc(url: str) -> str:
    """authentication-oidc on in the kawa at ``url`` (ConfigMap
    ``knative-eventing/config-features``): a token of a ServiceAccount ``bench`` for the
    bench brokers' audiences, once their ingress refuses requests without one."""
    cm_url = f"{url}/api/v1/namespaces/knative-eventing/configmaps/config-features"
    status, cm = http("GET", cm_url)
    if status != 200 or not isinstance(cm, dict):
        raise RuntimeError(f"reading config-features failed: {status} {cm}")
    cm["data"] = {**(cm.get("data") or {}), "authentication-oidc": "enabled"}
    status, body = http("PUT", cm_url, cm)
    if status != 200:
        raise RuntimeError(f"enabling authentication-oidc failed: {status} {body}")
    accounts = f"{url}/api/v1/namespaces/default/serviceaccounts"
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bench"}}
    status, body = http("POST", accounts, account)
    if status not in (201, 409):
        raise RuntimeError(f"creating the ServiceAccount failed: {status} {body}")
    audiences = [f"eventing.knative.dev/broker/default/{name}" for name in BENCH_BROKERS]
    request = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"audiences": audiences, "expirationSeconds": 7200},
    }
    status, answer = http("POST", f"{accounts}/bench/token", request)
    if status != 201 or not isinstance(answer, dict):
        raise RuntimeError(f"the token request failed: {status} {answer}")
    deadline = time.monotonic() + 30
    while post_event(f"{url}/brokers/default/ingress", "oidc-probe") != 401:
        if time.monotonic() > deadline:
            raise RuntimeError("the ingress still takes events without a token")
        time.sleep(0.1)
    return str(answer["status"]["token"])


def post_event(url: str, event_id: str) -> int:
    """POST one small event without any token: the status."""
    headers = {
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-source": "/bench/probe",
        "ce-type": "bench.probe",
        "content-type": "application/json",
    }
    request = urllib.request.Request(url, data=b"{}", method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def sub_stats(sub_url: str) -> dict[str, Any]:
    status, stats = http("GET", f"{sub_url}/_stats")
    if status != 200 or not isinstance(stats, dict):
        raise RuntimeError(f"subscriber stats failed: {status} {stats}")
    return stats


def sub_reset(sub_url: str) -> None:
    http("POST", f"{sub_url}/_reset", body={})


NOTES: list[str] = []
"""Things the run saw besides the table (printed after it)."""


def send_event(url: str, event_id: str, timeout: float = 10.0) -> int:
    """POST one small binary-mode event stamped with ``benchsent``; the answer's status."""
    headers = {
        "ce-specversion": "1.0",
        "ce-id": f"{RUN}-{event_id}",  # ids are unique per source: never repeat across runs
        "ce-source": "/bench",
        "ce-type": "bench.serial",
        "content-type": "application/json",
        "ce-benchsent": str(time.monotonic_ns() // 1000),
    }
    request = urllib.request.Request(url, data=b"{}", method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def prime(url: str, sub_url: str, what: str, delivered: bool, timeout: float = 60.0) -> None:
    """Send events to ``url`` until one is accepted (and, with ``delivered``, until one arrives
    at the subscriber), so no measurement includes the making of a log stream: on a JetStream
    cluster a new stream takes appends only once its replicas elected a leader. Notes what it
    took when the first event did not make it."""
    started = time.monotonic()
    deadline = started + timeout
    sends = failures = 0
    while time.monotonic() < deadline:
        before = int(sub_stats(sub_url)["count"])
        sends += 1
        if send_event(url, f"prime-{sends}") != 202:
            failures += 1
            time.sleep(0.05)
            continue
        if not delivered:
            break
        arrive_by = time.monotonic() + 3.0
        while int(sub_stats(sub_url)["count"]) <= before and time.monotonic() < arrive_by:
            time.sleep(0.01)
        if int(sub_stats(sub_url)["count"]) > before:
            break
    else:
        raise RuntimeError(f"{what} took no event in {timeout}s")
    if sends > 1:
        NOTES.append(
            f"{what}: {sends} sends over {time.monotonic() - started:.1f} s before an event "
            f"{'arrived' if delivered else 'was accepted'} ({failures} answered other than 202)"
        )


def wait_delivered(sub_url: str, expected: int, timeout: float) -> dict[str, Any]:
    """Subscriber stats once ``expected`` deliveries arrived, or progress stalls for 5 s."""
    deadline = time.monotonic() + timeout
    last_count, last_change = -1, time.monotonic()
    while True:
        stats = sub_stats(sub_url)
        count = int(stats["count"])
        if count >= expected or time.monotonic() > deadline:
            return stats
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        elif time.monotonic() - last_change > 5.0:
            return stats
        time.sleep(0.1)


def quiesce(sub_url: str, quiet: float = 1.0, timeout: float = 120.0) -> None:
    """Wait until no delivery has arrived for ``quiet`` seconds (a previous backlog is done)."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        count = int(sub_stats(sub_url)["count"])
        if count == last:
            return
        last = count
        time.sleep(quiet)


# -- load ------------------------------------------------------------------------------------------


def run_wrk(
    url: str, script: Path, duration: float, connections: int, threads: int
) -> dict[str, Any]:
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    out = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=False,
        env={**os.environ, **WRK_ENV},
    ).stdout
    for line in out.splitlines():
        if line.startswith("WRKJSON "):
            result: dict[str, Any] = json.loads(line[len("WRKJSON ") :])
            return result
    raise RuntimeError(f"wrk printed no summary:\n{out}")


@dataclass
class Load:
    script: Path
    duration: float
    warmup: float
    connections: int
    threads: int
    sub_url: str

    def measure(
        self,
        target: str,
        url: str,
        *,
        fanout: int,
        pids: Pids,
        drain_timeout: float = 60.0,
    ) -> Row:
        """Warm up, then load ``url`` for ``duration`` and (``fanout`` > 0) wait for the
        subscriber to receive ``fanout`` deliveries per accepted request."""
        quiesce(self.sub_url)
        sub_reset(self.sub_url)
        if self.warmup > 0:
            warm = run_wrk(url, self.script, self.warmup, self.connections, self.threads)
            if fanout:  # let the warm-up's backlog finish before measuring
                warm_accepted = int(warm["requests"]) - int(warm["status_errors"])
                wait_delivered(self.sub_url, warm_accepted * fanout, drain_timeout)
            quiesce(self.sub_url)
        sub_reset(self.sub_url)
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        stolen_before = stolen_seconds()
        started = time.monotonic()
        spy = profiler(target, pids, self.duration)
        result = run_wrk(url, self.script, self.duration, self.connections, self.threads)
        if spy is not None:
            spy.wait(timeout=60)
        accepted = int(result["requests"]) - int(result["status_errors"])
        row = Row(
            target=target,
            ingress_rate=accepted / (int(result["duration_us"]) / 1e6),
            ingress_p50_ms=int(result["p50_us"]) / 1000,
            ingress_p99_ms=int(result["p99_us"]) / 1000,
            errors=int(result["status_errors"]) + int(result["socket_errors"]),
        )
        if fanout:
            stats = wait_delivered(self.sub_url, accepted * fanout, drain_timeout)
            count = int(stats["count"])
            span = (int(stats["last_receipt_us"]) - int(stats["first_sent_us"])) / 1e6
            row.delivered_rate = count / span if span > 0 else 0.0
            row.e2e_p50_ms = int(stats["p50_us"]) / 1000
            row.e2e_p99_ms = int(stats["p99_us"]) / 1000
            row.e2e_max_ms = int(stats["max_us"]) / 1000
            if count < accepted * fanout:
                row.note = f"only {count} of {accepted * fanout} deliveries arrived"
        elapsed = time.monotonic() - started
        used = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        row.cpu = {name: seconds / elapsed for name, seconds in used.items()}
        if accepted:
            served = sum(seconds for name, seconds in used.items() if name != "subscriber")
            row.cpu_us_per_event = served / accepted * 1e6
        # the machine's CPUs taken by the hypervisor meanwhile (a share of one core): a run
        # with much of it measured a slower machine, not a slower target
        row.cpu["stolen"] = (stolen_seconds() - stolen_before) / elapsed
        return row


def profiler(target: str, pids: Pids, duration: float) -> subprocess.Popen[bytes] | None:
    """With ``KAWA_BENCH_PYSPY=DIR`` set, a py-spy recording of kawa (raw, 200 Hz) over the
    measured load, written to DIR/<target>.txt; else nothing. Idle threads are sampled too
    (wall time) unless ``KAWA_BENCH_PYSPY_IDLE=0``."""
    out = os.environ.get("KAWA_BENCH_PYSPY")
    pid = pids.get("kawa")
    if not out or not isinstance(pid, int):
        return None
    Path(out).mkdir(parents=True, exist_ok=True)
    name = "".join(c if c.isalnum() else "-" for c in target)
    command = [str(Path(sys.executable).with_name("py-spy")), "record", "--rate", "200"]
    command += ["--format", "raw", "--duration", str(max(1, int(duration)))]
    if os.environ.get("KAWA_BENCH_PYSPY_IDLE", "1") != "0":  # 0: on-CPU samples only
        command.append("--idle")
    command += ["--pid", str(pid), "--output", str(Path(out) / f"{name}.txt")]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# -- targets ---------------------------------------------------------------------------------------


def start_subscriber(children: Children) -> tuple[subprocess.Popen[bytes], str]:
    """The bench's subscriber (``e2e_roles.py subscriber``) and its URL, once it listens."""
    port = free_port()
    role = [sys.executable, str(ROLES), "subscriber", "--port", str(port)]
    proc = children.start("subscriber", role)
    wait_port(port)
    return proc, f"http://127.0.0.1:{port}"


def start_load(
    children: Children, work: Path, args: argparse.Namespace
) -> tuple[subprocess.Popen[bytes], Load]:
    """The subscriber and the wrk load of ``args`` (``duration``, ``warmup``,
    ``connections``, ``threads``) against it."""
    script = work / "events.lua"
    script.write_text(WRK_SCRIPT)
    sub, sub_url = start_subscriber(children)
    return sub, Load(script, args.duration, args.warmup, args.connections, args.threads, sub_url)


def start_nginx(children: Children, work: Path) -> tuple[subprocess.Popen[bytes], int]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise RuntimeError("nginx is not installed: run 'bash bench/setup.sh'")
    prefix = work / "nginx"
    prefix.mkdir()
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=prefix, port=port))
    proc = children.start("nginx", [nginx, "-e", "stderr", "-p", str(prefix), "-c", str(conf)])
    wait_port(port)
    return proc, port


def http_json(url: str, timeout: float = 2.0) -> Any:
    """A monitoring endpoint's JSON (no token: not kawa's API)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def start_nats(
    children: Children, work: Path, replicas: int, timeout: float = 30.0
) -> tuple[list[subprocess.Popen[bytes]], list[str]]:
    """``replicas`` private JetStream servers on loopback (a cluster when more than one), their
    stores and logs under ``work``, ready: every server answers ``/healthz`` and, on a
    cluster, names the same meta leader. Their processes and ``nats://`` URLs."""
    if not Path(NATS_SERVER).exists():
        raise RuntimeError("nats-server is not installed (needed for --backend jetstream)")
    clients = [free_port() for _ in range(replicas)]
    monitors = [free_port() for _ in range(replicas)]
    routes = [free_port() for _ in range(replicas)]
    cluster_name = f"kawa-bench-{os.getpid()}-{replicas}"
    work.mkdir(parents=True, exist_ok=True)
    procs = []
    for i in range(replicas):
        name = f"n{i + 1}"
        argv = [NATS_SERVER, "-a", "127.0.0.1", "-p", str(clients[i])]
        argv += ["-m", str(monitors[i]), "-js", "-sd", str(work / name), "--server_name", name]
        if replicas > 1:
            argv += ["--cluster", f"nats://127.0.0.1:{routes[i]}", "--cluster_name", cluster_name]
            argv += ["--routes", ",".join(f"nats://127.0.0.1:{port}" for port in routes)]
        procs.append(children.start(name, argv, log_dir=work))
    deadline = time.monotonic() + timeout
    for port in clients:
        wait_port(port, timeout)
    while True:
        leaders: set[str] = set()
        healthy = 0
        for port in monitors:
            with contextlib.suppress(OSError, ValueError):
                if http_json(f"http://127.0.0.1:{port}/healthz").get("status") == "ok":
                    healthy += 1
                if replicas > 1:
                    meta = http_json(f"http://127.0.0.1:{port}/jsz").get("meta_cluster") or {}
                    leaders.add(str(meta.get("leader") or ""))
        if healthy == replicas and (replicas == 1 or (len(leaders) == 1 and "" not in leaders)):
            break
        if time.monotonic() > deadline or any(proc.poll() is not None for proc in procs):
            raise RuntimeError(f"JetStream (R{replicas}) not ready in {timeout}s: see {work}")
        time.sleep(0.1)
    return procs, [f"nats://127.0.0.1:{port}" for port in clients]


def kawa_pids(proc: subprocess.Popen[bytes], work: Path, child: str) -> int | tuple[int, ...]:
    """The kawa process, or with ``--workers`` the supervisor and its workers (whose CPU the
    rows add up)."""
    state = work / child / "server.json"
    if not state.exists():
        return proc.pid
    workers = json.loads(state.read_text()).get("workers") or []
    return (proc.pid, *(int(pid) for pid in workers)) if workers else proc.pid


def transform_row(load: Load, url: str, sub_url: str, pids: Pids) -> Row:
    """A Broker whose one Trigger's subscriber is an EventTransform (JSONata) whose sink is
    the subscriber: events/s through broker -> transform -> sink (issue 20)."""
    sink = {"uri": f"{sub_url}/transformed/0"}
    spec = {"jsonata": {"expression": TRANSFORM_EXPRESSION}, "sink": sink}
    apply(url, "eventtransforms", {"metadata": {"name": "stamp"}, "spec": spec})
    apply(url, "brokers", {"metadata": {"name": "tx"}, "spec": {}})
    ref = {"apiVersion": "eventing.knative.dev/v1alpha1", "kind": "EventTransform", "name": "stamp"}
    trigger = {"broker": "tx", "subscriber": {"ref": ref}}
    apply(url, "triggers", {"metadata": {"name": "tx-0"}, "spec": trigger})
    for plural, name in (("eventtransforms", "stamp"), ("brokers", "tx"), ("triggers", "tx-0")):
        wait_ready(url, plural, name)
    time.sleep(0.5)  # the data plane watches the store: let it start the consumer
    prime(f"{url}/brokers/default/tx", sub_url, "kawa: broker tx (transform)", delivered=True)
    return load.measure(
        "kawa, 1 trigger -> EventTransform -> sink",
        f"{url}/brokers/default/tx",
        fanout=1,
        pids=pids,
        drain_timeout=120.0,
    )


def broker_rows(load: Load, url: str, pids: Pids, suffix: str = "") -> list[Row]:
    """The kawa target: ingress only, one trigger, ten triggers."""
    return [
        load.measure(
            target + suffix,
            f"{url}/brokers/default/{broker}",
            fanout=fanout,
            pids=pids,
            drain_timeout=120.0,
        )
        for target, broker, fanout in (
            ("kawa, ingress only", "ingress", 0),
            ("kawa, 1 trigger", "one", 1),
            ("kawa, 10 triggers", "ten", 10),
        )
    ]


def start_kawa(
    children: Children,
    work: Path,
    sub_url: str,
    durability: str,
    extra: tuple[str, ...] = (),
    child: str = "kawa",
    label: str = "",
    broker_annotations: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    argv = [sys.executable, "-m", "kawa", "up", "--data-dir", str(work / child)]
    argv += ["--port", str(port), "--api-port", str(free_port())]
    argv += ["--durability", durability, "--log-level", "warning", *extra]
    proc = children.start(child, argv)
    wait_port(port)
    if "--workers" in extra:  # every worker listening: the supervisor wrote server.json
        deadline = time.monotonic() + 60
        while not (work / child / "server.json").exists():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"kawa workers not ready: see {work / child}")
            time.sleep(0.1)
    API_TOKEN["token"] = (work / child / "token").read_text().strip()
    url = f"http://127.0.0.1:{port}"
    for name, triggers in (("ingress", 0), ("one", 1), ("ten", 10)):
        meta: dict[str, Any] = {"name": name, "annotations": dict(broker_annotations or {})}
        apply(url, "brokers", {"metadata": meta, "spec": {}})
        for i in range(triggers):
            spec = {"broker": name, "subscriber": {"uri": f"{sub_url}/{name}/{i}"}}
            apply(url, "triggers", {"metadata": {"name": f"{name}-{i}"}, "spec": spec})
    for name in ("ingress", "one", "ten"):
        wait_ready(url, "brokers", name)
    for name, triggers in (("one", 1), ("ten", 10)):
        for i in range(triggers):
            wait_ready(url, "triggers", f"{name}-{i}")
    time.sleep(0.5)  # the data plane watches the store: let it start the consumers
    for name, triggers in (("ingress", 0), ("one", 1), ("ten", 10)):
        what = f"{label or child}: broker {name}"
        prime(f"{url}/brokers/default/{name}", sub_url, what, delivered=triggers > 0)
    return proc, url


KINDS = {
    "brokers": ("Broker", "eventing.knative.dev/v1", API),
    "triggers": ("Trigger", "eventing.knative.dev/v1", API),
    "inmemorychannels": ("InMemoryChannel", "messaging.knative.dev/v1", MESSAGING),
    "subscriptions": ("Subscription", "messaging.knative.dev/v1", MESSAGING),
    "sequences": ("Sequence", "flows.knative.dev/v1", FLOWS),
    "eventtransforms": ("EventTransform", "eventing.knative.dev/v1alpha1", TRANSFORMS),
}


def apply(url: str, plural: str, obj: dict[str, Any]) -> None:
    kind, api_version, path = KINDS[plural]
    obj = {"apiVersion": api_version, "kind": kind, **obj}
    obj["metadata"]["namespace"] = "default"
    status, body = http("POST", f"{url}{path}/{plural}", obj)
    if status != 201:
        raise RuntimeError(f"creating {kind} failed: {status} {body}")


def get(url: str, plural: str, name: str) -> tuple[int, Any]:
    return http("GET", f"{url}{KINDS[plural][2]}/{plural}/{name}")


def start_channels(url: str, sub_url: str, label: str = "kawa") -> dict[str, str]:
    """A channel with 10 subscriptions, one with 1, and a 3-step echo Sequence: their
    addresses by name (``fan``, ``single``, ``seq``)."""
    for name, subscriptions in (("fan", 10), ("single", 1)):
        apply(url, "inmemorychannels", {"metadata": {"name": name}, "spec": {}})
        for i in range(subscriptions):
            spec: dict[str, Any] = {
                "channel": {
                    "apiVersion": "messaging.knative.dev/v1",
                    "kind": "InMemoryChannel",
                    "name": name,
                },
                "subscriber": {"uri": f"{sub_url}/{name}/{i}"},
            }
            apply(url, "subscriptions", {"metadata": {"name": f"{name}-{i}"}, "spec": spec})
    steps = [{"uri": f"{sub_url}/echo/{i}"} for i in range(3)]
    flow: dict[str, Any] = {"steps": steps, "reply": {"uri": f"{sub_url}/seq/end"}}
    apply(url, "sequences", {"metadata": {"name": "seq"}, "spec": flow})
    addresses = {}
    for plural, name in (
        ("inmemorychannels", "fan"),
        ("inmemorychannels", "single"),
        ("sequences", "seq"),
    ):
        wait_ready(url, plural, name)
        addresses[name] = str(get(url, plural, name)[1]["status"]["address"]["url"])
    for name, subscriptions in (("fan", 10), ("single", 1)):
        for i in range(subscriptions):
            wait_ready(url, "subscriptions", f"{name}-{i}")
    time.sleep(0.5)  # the data plane watches the store: let it start the consumers
    for name, address in addresses.items():
        prime(address, sub_url, f"{label}: {name}", delivered=True)
    return addresses


def wait_ready(url: str, plural: str, name: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, obj = get(url, plural, name)
        if status == 200 and isinstance(obj, dict):
            for cond in obj.get("status", {}).get("conditions", []):
                if cond.get("type") == "Ready" and cond.get("status") == "True":
                    return
        time.sleep(0.05)
    raise RuntimeError(f"{plural}/{name} did not become Ready in {timeout}s")


def paced(
    children: Children,
    url: str,
    sub_url: str,
    rate: float,
    duration: float,
    pids: Pids,
    what: str = "1 trigger",
) -> Row:
    quiesce(sub_url)
    sub_reset(sub_url)
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    stolen_before = stolen_seconds()
    argv = [sys.executable, str(ROLES), "pacer", "--url", url, "--rate", str(rate)]
    argv += ["--duration", str(duration)]
    spy = profiler(f"paced {what}", pids, duration)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60, check=False)
    if spy is not None:
        spy.wait(timeout=60)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"the pacer failed:\n{out.stdout}\n{out.stderr}")
    summary = json.loads(lines[-1])
    accepted = int(summary["statuses"].get("202", 0))
    stats = wait_delivered(sub_url, accepted, 30.0)
    row = Row(
        target=f"kawa, {what}, open loop {rate:,.0f}/s",
        ingress_rate=accepted / float(summary["elapsed_s"]),
        ingress_p50_ms=int(summary["p50_us"]) / 1000,
        ingress_p99_ms=int(summary["p99_us"]) / 1000,
        delivered_rate=int(stats["count"]) / float(summary["elapsed_s"]),
        e2e_p50_ms=int(stats["p50_us"]) / 1000,
        e2e_p99_ms=int(stats["p99_us"]) / 1000,
        e2e_max_ms=int(stats["max_us"]) / 1000,
        errors=int(summary["sent"]) - accepted,
        cpu={
            name: (cpu_seconds(pid) - before[name]) / float(summary["elapsed_s"])
            for name, pid in pids.items()
        }
        | {"stolen": (stolen_seconds() - stolen_before) / float(summary["elapsed_s"])},
        note=f"sender max lag {int(summary['max_sender_lag_us']) / 1000:.1f} ms",
    )
    return row


FLOOR_PAYLOAD = b"x" * 300


@dataclass
class Floor:
    events: int
    commits: int
    p50_ms: float
    p99_ms: float
    max_ms: float


def commit_floor(directory: Path, rate: float, duration: float) -> Floor:
    """Group-commit events arriving at ``rate`` per second for ``duration`` seconds into a
    fresh SQLite file in ``directory``, as kawa's log does (WAL, ``synchronous = FULL``);
    each event's latency from its arrival to the end of its commit (:mod:`bench.disk_floor`)."""
    with tempfile.TemporaryDirectory(dir=directory, prefix="disk-floor-") as tmp:
        conn = sqlite3.connect(Path(tmp) / "floor.db", isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute(
                "CREATE TABLE records (stream_id INTEGER NOT NULL, seq INTEGER NOT NULL, "
                "appended_at REAL NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (stream_id, seq))"
            )
            return _floor_run(conn, rate, duration)
        finally:
            conn.close()


def _floor_run(conn: sqlite3.Connection, rate: float, duration: float) -> Floor:
    total = max(1, int(rate * duration))
    start = time.perf_counter()
    latencies: list[float] = []
    commits = 0
    stored = 0
    while stored < total:
        now = time.perf_counter()
        arrived = min(total, int((now - start) * rate) + 1)
        if arrived <= stored:  # nothing new: wait for the next arrival
            time.sleep(max(0.0, start + stored / rate - now))
            continue
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO records VALUES (1, ?, ?, ?)",
            [(seq, now, FLOOR_PAYLOAD) for seq in range(stored, arrived)],
        )
        conn.execute("COMMIT")
        end = time.perf_counter()
        latencies.extend(end - (start + seq / rate) for seq in range(stored, arrived))
        stored = arrived
        commits += 1
    latencies.sort()
    return Floor(
        events=len(latencies),
        commits=commits,
        p50_ms=latencies[len(latencies) // 2] * 1000,
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        max_ms=latencies[-1] * 1000,
    )


def disk_floor_row(work: Path, rate: float, duration: float) -> Row:
    """The disk alone at the open-loop rate (:mod:`bench.disk_floor`): events group-committed
    to a SQLite file as kawa's are, latency from arrival to commit. kawa's e2e cannot beat it."""
    floor = commit_floor(work, rate, duration)
    return Row(
        target=f"disk alone (SQLite commits), {rate:,.0f}/s",
        ingress_rate=floor.events / duration,
        ingress_p50_ms=floor.p50_ms,  # a 202 would go out at the commit
        ingress_p99_ms=floor.p99_ms,
        delivered_rate=floor.events / duration,
        e2e_p50_ms=floor.p50_ms,
        e2e_p99_ms=floor.p99_ms,
        e2e_max_ms=floor.max_ms,
        note=f"{floor.commits} group commits; no HTTP, no kawa",
    )


# -- report ----------------------------------------------------------------------------------------


def channel_rows(
    children: Children,
    load: Load,
    url: str,
    sub_url: str,
    args: argparse.Namespace,
    pids: Pids,
    label: str = "kawa",
) -> list[Row]:
    """Channel fan-out at saturation, then a channel and a Sequence at the open-loop rate."""
    addresses = start_channels(url, sub_url, label)
    rows = [
        load.measure(
            "kawa, channel, 10 subscriptions",
            addresses["fan"],
            fanout=10,
            pids=pids,
            drain_timeout=120.0,
        )
    ]
    for name, what in (("single", "channel, 1 subscription"), ("seq", "Sequence of 3 steps")):
        rows.append(
            paced(
                children,
                addresses[name],
                sub_url,
                args.rate,
                args.rate_duration,
                pids,
                what=what,
            )
        )
    for name, what in (("single", "channel, 1 subscription"), ("seq", "Sequence of 3 steps")):
        rows.append(one_at_a_time(addresses[name], sub_url, what, pids))
    for single, seq in ((rows[1], rows[2]), (rows[3], rows[4])):
        if single.e2e_p50_ms is not None and seq.e2e_p50_ms is not None:
            step = (seq.e2e_p50_ms - single.e2e_p50_ms) / 3
            seq.note += ("; " if seq.note else "") + f"a step adds {step:.2f} ms p50"
    return rows


def one_at_a_time(url: str, sub_url: str, what: str, pids: Pids, count: int = 300) -> Row:
    """``count`` events, each sent when the one before has arrived: latency without load."""
    quiesce(sub_url)
    sub_reset(sub_url)
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time.monotonic()
    for i in range(count):
        send_event(url, f"serial-{i}")
        deadline = time.monotonic() + 10.0
        while int(sub_stats(sub_url)["count"]) <= i and time.monotonic() < deadline:
            time.sleep(0.0005)
    elapsed = time.monotonic() - started
    stats = sub_stats(sub_url)
    return Row(
        target=f"kawa, {what}, one at a time",
        ingress_rate=count / elapsed,
        delivered_rate=int(stats["count"]) / elapsed,
        e2e_p50_ms=int(stats["p50_us"]) / 1000,
        e2e_p99_ms=int(stats["p99_us"]) / 1000,
        e2e_max_ms=int(stats["max_us"]) / 1000,
        cpu={name: (cpu_seconds(pid) - before[name]) / elapsed for name, pid in pids.items()},
    )


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'target':<36} {'backend':<12} {'ingress/s':>10} {'202 p50':>8} {'202 p99':>8} "
        f"{'delivered/s':>11} {'e2e p50':>8} {'e2e p99':>8} {'e2e max':>8} {'err':>4} "
        f"{'us/ev':>6}  cpu"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        cpu = " ".join(f"{k}={v:.0%}" for k, v in r.cpu.items())
        line = (
            f"{r.target:<36} {r.backend or '-':<12} {r.ingress_rate:>10,.0f} "
            f"{r.ingress_p50_ms:>8.2f} {r.ingress_p99_ms:>8.2f} "
            f"{fmt(r.delivered_rate, '>11,.0f')} "
            f"{fmt(r.e2e_p50_ms, '>8.2f')} {fmt(r.e2e_p99_ms, '>8.2f')} "
            f"{fmt(r.e2e_max_ms, '>8.2f')} {r.errors:>4} {fmt(r.cpu_us_per_event, '>6.0f')}  {cpu}"
        )
        print(line + (f"  ({r.note})" if r.note else ""))
    print("latencies in ms; '202' = the generator's request latency; 'e2e' = send -> subscriber")
    print("us/ev = CPU microseconds per accepted event of the target (kawa and its NATS servers")
    print("  or the forwarder; not the subscriber or wrk); cpu = share of one core each;")
    print("  stolen = the machine's CPU time the hypervisor gave other guests meanwhile")
    print("* = run after the saturation runs, while kawa trims their records from the log")


def print_side_by_side(rows: list[Row], backends: list[Backend]) -> None:
    """The kawa rows again, one column group per backend: delivered/s (ingress/s where nothing
    is delivered) and e2e p50 / p99 in ms."""
    labels = [backend.label for backend in backends]
    if len(labels) < 2:
        return
    by = {(r.target, r.backend): r for r in rows if r.backend}
    targets = list(dict.fromkeys(r.target for r in rows if r.backend))
    width, first = 30, max(len("kawa target"), *(len(target) for target in targets))
    print()
    print(f"{'kawa target':<{first}}" + "".join(f" {label:>{width}}" for label in labels))
    print(f"{'':<{first}}" + "".join(f" {'events/s  p50 / p99 ms':>{width}}" for _ in labels))
    print("-" * (first + (width + 1) * len(labels)))
    for target in targets:
        cells = []
        for label in labels:
            r = by.get((target, label))
            if r is None:
                cells.append(f"{'-':>{width}}")
                continue
            rate = r.delivered_rate if r.delivered_rate is not None else r.ingress_rate
            p50 = r.e2e_p50_ms if r.e2e_p50_ms is not None else r.ingress_p50_ms
            p99 = r.e2e_p99_ms if r.e2e_p99_ms is not None else r.ingress_p99_ms
            cells.append(f"{f'{rate:,.0f}  {p50:.2f} / {p99:.2f}':>{width}}")
        print(f"{target:<{first}}" + "".join(f" {cell}" for cell in cells))
    print("events/s = delivered/s (ingress/s and 202 latency for 'ingress only')")


def ratios(rows: list[Row], backends: list[Backend]) -> None:
    forwarder = nginx = None
    for r in rows:
        if r.target == "naive forwarder (aiohttp + SDK)":
            forwarder = r
        elif r.target == "nginx return 202 (ceiling)":
            nginx = r
    for backend in backends:
        by = {r.target: r for r in rows if r.backend == backend.label}
        tag = f"[{backend.label}] " if len(backends) > 1 or backend.kind != "sqlite" else ""
        kawa1, ingress = by.get("kawa, 1 trigger"), by.get("kawa, ingress only")
        if kawa1 and forwarder and kawa1.delivered_rate and forwarder.delivered_rate:
            print(
                f"{tag}kawa 1 trigger / forwarder (delivered/s): "
                f"{kawa1.delivered_rate / forwarder.delivered_rate:.2f}"
            )
        if kawa1 and nginx and kawa1.delivered_rate:
            share = kawa1.delivered_rate / nginx.ingress_rate
            print(f"{tag}kawa 1 trigger delivered / nginx 202s: {share:.3f}")
        if ingress and nginx:
            print(
                f"{tag}kawa ingress / nginx 202s: {ingress.ingress_rate / nginx.ingress_rate:.3f}"
            )
        fan, ten = by.get("kawa, channel, 10 subscriptions"), by.get("kawa, 10 triggers")
        if fan and ten and fan.delivered_rate and ten.delivered_rate:
            print(
                f"{tag}channel 10 subscriptions / broker 10 triggers (delivered/s): "
                f"{fan.delivered_rate / ten.delivered_rate:.2f}"
            )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="kawa broker end-to-end benchmark")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per target")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--rate", type=float, default=1000.0, help="open-loop events/s")
    parser.add_argument("--rate-duration", type=float, default=10.0, help="open-loop seconds")
    parser.add_argument(
        "--durability", choices=("full", "normal", "off"), default="full", help="kawa's log"
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="sqlite",
        help="what kawa runs on: sqlite (default), jetstream (private nats-server), or both "
        "(every kawa phase once per backend, side by side)",
    )
    parser.add_argument(
        "--nats-replicas",
        type=int,
        action="append",
        choices=(1, 3),
        help="JetStream replicas: 1 (one server, the default) or 3 (a three-server cluster); "
        "repeatable to run both",
    )
    parser.add_argument(
        "--nats-workers",
        type=int,
        action="append",
        choices=(1, 2, 3, 4),
        help="kawa up --workers on JetStream (1, the default, is one process); repeatable to "
        "compare, each with every --nats-replicas",
    )
    parser.add_argument(
        "--lag", type=float, default=1.0, help="--max-delivery-lag of the backpressure run (s)"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=TARGETS,
        help="run only these targets (repeatable; default all)",
    )
    parser.add_argument(
        "--metrics-off",
        action="store_true",
        help="also measure the kawa target on a kawa with --metrics-port -1 (the first kawa "
        "then serves metrics on a free port): the metrics' overhead in one run",
    )
    parser.add_argument(
        "--lineage-off",
        action="store_true",
        help="also measure the kawa target with its brokers annotated kawa.dev/lineage: off "
        "(no per-event lineage): the lineage's overhead in one run",
    )
    parser.add_argument(
        "--lean-off",
        action="store_true",
        help="also measure the kawa target on a kawa with --no-lean-ingress (all ingress on "
        "aiohttp): the lean ingress path's gain in one run",
    )
    parser.add_argument(
        "--oidc-on",
        action="store_true",
        help="also measure the kawa target with authentication-oidc on (every request with a "
        "ServiceAccount token), over HTTP and over the HTTPS data-plane port: their cost in "
        "one run",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= 300 or not 0 < args.rate_duration <= 300:
        parser.error("--duration and --rate-duration must be in (0, 300]")
    if not 1 <= args.connections <= 4096 or not 1 <= args.threads <= 16:
        parser.error("--connections must be in [1, 4096] and --threads in [1, 16]")
    if not 0 < args.rate <= 100_000:
        parser.error("--rate must be in (0, 100000]")
    if not 0 < args.lag <= 60:
        parser.error("--lag must be in (0, 60]")
    if (args.nats_replicas or args.nats_workers) and args.backend == "sqlite":
        parser.error("--nats-replicas and --nats-workers need --backend jetstream or both")
    return args


def backends_of(args: argparse.Namespace) -> list[Backend]:
    found = [Backend("sqlite")] if args.backend in ("sqlite", "both") else []
    if args.backend in ("jetstream", "both"):
        replicas = dict.fromkeys(args.nats_replicas or [1])  # in the order given, once each
        workers = dict.fromkeys(args.nats_workers or [1])
        found += [Backend("jetstream", n, w) for n in replicas for w in workers]
    return found


@contextlib.contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="kawa-bench-"))
    try:
        yield path
    finally:
        if keep:
            print(f"logs and data kept in {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def kawa_rows(
    children: Children,
    work: Path,
    load: Load,
    sub: subprocess.Popen[bytes],
    args: argparse.Namespace,
    only: set[str],
    backend: Backend,
) -> list[Row]:
    """Every kawa phase of the run on one backend. On JetStream each kawa gets fresh NATS
    servers (the backpressure kawa would find the first one's resources in the store), started
    and stopped here."""
    rows: list[Row] = []
    sub_url = load.sub_url
    servers: list[subprocess.Popen[bytes]] = []

    def backend_args(round_: str) -> tuple[tuple[str, ...], Pids]:
        if backend.kind != "jetstream":
            return (), {}
        for proc in servers:
            children.stop(proc)
        started, urls = start_nats(children, work / round_, backend.replicas)
        servers[:] = started
        extra: tuple[str, ...] = ("--nats", ",".join(urls))
        extra += ("--nats-replicas", str(backend.replicas))
        if backend.workers > 1:
            extra += ("--workers", str(backend.workers))
        return extra, {"nats": tuple(proc.pid for proc in started)}

    try:
        if only & {"kawa", "paced", "channels", "transform"}:
            extra, nats_pids = backend_args(f"nats-{backend.slug}")
            if args.metrics_off:  # surely on (the default port may be taken: then off)
                extra += ("--metrics-port", "0")
            kawa, url = start_kawa(
                children,
                work,
                sub_url,
                args.durability,
                extra,
                child=f"kawa-{backend.slug}",
                label=f"kawa {backend.label}",
            )
            kawa_cpu = kawa_pids(kawa, work, f"kawa-{backend.slug}")
            pids: Pids = {"kawa": kawa_cpu, **nats_pids, "subscriber": sub.pid}
            paced_pids: Pids = {"kawa": kawa_cpu, **nats_pids}
            paced_url = f"{url}/brokers/default/one"
            if "paced" in only and backend.kind == "sqlite" and args.durability == "full":
                rows.append(disk_floor_row(work, args.rate, args.rate_duration))
            if "paced" in only:  # steady state: a fresh log, nothing to trim
                rows.append(
                    paced(children, paced_url, sub_url, args.rate, args.rate_duration, paced_pids)
                )
            if "kawa" in only:
                rows.extend(broker_rows(load, url, pids))
            if "transform" in only:
                rows.append(transform_row(load, url, sub_url, pids))
            if "channels" in only:
                rows.extend(
                    channel_rows(children, load, url, sub_url, args, pids, f"kawa {backend.label}")
                )
            if "paced" in only and "kawa" in only:  # again, while the log trims the backlog
                row = paced(children, paced_url, sub_url, args.rate, args.rate_duration, paced_pids)
                row.target += " *"
                rows.append(row)
            children.stop(kawa)
        variants = [  # the kawa target again with one feature off: its overhead in one run
            ("off", "metrics off", ("--metrics-port", "-1"), None, args.metrics_off),
            ("nolin", "lineage off", (), {"kawa.dev/lineage": "off"}, args.lineage_off),
            ("nolean", "lean ingress off", ("--no-lean-ingress",), None, args.lean_off),
            ("oidc", "OIDC on", (), None, args.oidc_on),
            ("oidctls", "OIDC on, HTTPS", (), None, args.oidc_on),
        ]
        for slug, what, flags, annotations, wanted in variants:
            if "kawa" not in only or not wanted:
                continue
            extra, nats_pids = backend_args(f"nats-{slug}-{backend.slug}")
            other, url = start_kawa(
                children,
                work,
                sub_url,
                args.durability,
                (*extra, *flags),
                child=f"kawa-{slug}-{backend.slug}",
                label=f"kawa {backend.label} ({what})",
                broker_annotations=annotations,
            )
            pids = {"kawa": kawa_pids(other, work, f"kawa-{slug}-{backend.slug}"), **nats_pids,
                    "subscriber": sub.pid}  # fmt: skip
            target = url
            if slug.startswith("oidc"):  # every request with a ServiceAccount's token
                WRK_ENV["KAWA_BENCH_TOKEN"] = enable_oidc(url)
            if slug == "oidctls":  # and over the data plane's HTTPS port (TLS 1.3)
                server = json.loads(
                    (work / f"kawa-{slug}-{backend.slug}" / "server.json").read_text()
                )
                target = str(server["httpsUrl"])
            try:
                rows.extend(broker_rows(load, target, pids, f", {what}"))
            finally:
                WRK_ENV.pop("KAWA_BENCH_TOKEN", None)
            children.stop(other)
        if "backpressure" in only:
            extra, nats_pids = backend_args(f"nats-lag-{backend.slug}")
            bounded, url = start_kawa(
                children,
                work,
                sub_url,
                args.durability,
                (*extra, "--max-delivery-lag", str(args.lag)),
                child=f"kawa-lag-{backend.slug}",
                label=f"kawa {backend.label} (lag bound)",
            )
            row = load.measure(
                f"kawa, 10 triggers, lag bound {args.lag:g}s",
                f"{url}/brokers/default/ten",
                fanout=10,
                pids={"kawa": bounded.pid, **nats_pids, "subscriber": sub.pid},
                drain_timeout=120.0,
            )
            row.note = (row.note + "; " if row.note else "") + "err = 429 answers"
            rows.append(row)
            children.stop(bounded)
    finally:
        for proc in servers:
            children.stop(proc)
    for row in rows:
        row.backend = backend.label
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    only = set(args.only or TARGETS)
    backends = backends_of(args)
    if shutil.which("wrk") is None:
        print("wrk is not installed: run 'bash bench/setup.sh'", file=sys.stderr)
        return 2
    if any(b.kind == "jetstream" for b in backends) and not Path(NATS_SERVER).exists():
        print("nats-server is not installed (needed for --backend jetstream)", file=sys.stderr)
        return 2
    rows: list[Row] = []
    with workdir(args.keep) as work:
        children = Children(work)
        try:
            sub, load = start_load(children, work, args)
            sub_url = load.sub_url
            if "nginx" in only:
                nginx, port = start_nginx(children, work)
                rows.append(
                    load.measure(
                        "nginx return 202 (ceiling)",
                        f"http://127.0.0.1:{port}/",
                        fanout=0,
                        pids={"nginx": nginx.pid},
                    )
                )
                children.stop(nginx)
            if "forwarder" in only:
                port = free_port()
                fwd = children.start(
                    "forwarder",
                    [
                        *(sys.executable, str(ROLES), "forwarder", "--port", str(port)),
                        *("--sink", f"{sub_url}/forwarded"),
                    ],
                )
                wait_port(port)
                if "paced" in only:  # the open-loop reference: what 1,000/s costs it
                    row = paced(
                        children,
                        f"http://127.0.0.1:{port}/",
                        sub_url,
                        args.rate,
                        args.rate_duration,
                        {"forwarder": fwd.pid},
                    )
                    row.target = f"naive forwarder, open loop {args.rate:,.0f}/s"
                    rows.append(row)
                rows.append(
                    load.measure(
                        "naive forwarder (aiohttp + SDK)",
                        f"http://127.0.0.1:{port}/",
                        fanout=1,
                        pids={"forwarder": fwd.pid, "subscriber": sub.pid},
                    )
                )
                children.stop(fwd)
            for backend in backends:
                rows.extend(kawa_rows(children, work, load, sub, args, only, backend))
        finally:
            children.stop_all()
    print(
        f"\n{os.cpu_count()} CPUs; wrk -t{args.threads} -c{args.connections} "
        f"-d{args.duration:g}s per target; kawa durability={args.durability} (SQLite); "
        f"backends: {', '.join(b.label for b in backends)}\n"
    )
    print_table(rows)
    ratios(rows, backends)
    print_side_by_side(rows, backends)
    for note in NOTES:
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
