"""Readiness and liveness checks of a running container.

A container's ``readinessProbe`` (``httpGet``, ``tcpSocket`` or ``exec``) is run as the
kubelet runs it (HTTP status 200-399, a TCP connect, exit status 0), with its
``timeoutSeconds``; a container without a probe but with a declared port is ready once
the port accepts a connection (kawa's rule: a process is reached through its port); one
with neither is ready as soon as it runs. Used by :mod:`kawa.serving.kubelet.container`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kawa.serving.kubelet import process

if TYPE_CHECKING:
    from kawa.serving.kubelet.container import ContainerRunner
    from kawa.serving.kubelet.pod_view import PodView

HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Probe:
    """What to check and how often (Kubernetes' probe fields and defaults)."""

    kind: str  # "http", "tcp", "exec" or "none"
    port: int = 0
    path: str = "/"
    host: str = HOST
    scheme: str = "HTTP"
    headers: tuple[tuple[str, str], ...] = ()
    command: tuple[str, ...] = ()
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3
    explicit: bool = True

    def describe(self) -> str:
        if self.kind == "http":
            return f"http-get {self.scheme.lower()}://{self.host}:{self.port}{self.path}"
        if self.kind == "tcp":
            return f"tcp-socket {self.host}:{self.port}"
        return f"exec {list(self.command)}"


def _num(spec: Mapping[str, Any], key: str, default: float, minimum: float) -> float:
    value = spec.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return max(float(value), minimum)
    return default


def _port(value: Any, container: Mapping[str, Any]) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value.isdigit():
            return int(value)
        for port in container.get("ports") or ():
            if isinstance(port, Mapping) and port.get("name") == value:
                return int(port.get("containerPort") or 0)
    return declared_port(container)


def declared_port(container: Mapping[str, Any]) -> int:
    """``ports[0].containerPort`` of a container dict, 0 when it declares none."""
    ports = container.get("ports")
    if isinstance(ports, list) and ports and isinstance(ports[0], Mapping):
        value = ports[0].get("containerPort")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return 0


def readiness_probe(container: Mapping[str, Any], *, host: str = HOST) -> Probe:
    """The readiness check of a container dict; ``host`` is the Pod's address, where checks
    without a ``host`` of their own connect."""
    probe = probe_of(container, "readinessProbe", host=host)
    if probe is None:
        port = declared_port(container)
        return Probe("tcp" if port else "none", port=port, host=host, explicit=False)
    return probe


def probe_of(container: Mapping[str, Any], field: str, *, host: str = HOST) -> Probe | None:
    """The container's ``field`` (``readinessProbe``, ``livenessProbe``) as a Probe, None
    when it has none."""
    spec = container.get(field)
    if not isinstance(spec, Mapping) or not any(
        isinstance(spec.get(k), Mapping) for k in ("httpGet", "tcpSocket", "exec")
    ):
        return None
    timing = {
        "initial_delay": _num(spec, "initialDelaySeconds", 0.0, 0.0),
        "period": _num(spec, "periodSeconds", 10.0, 0.0) or 1.0,
        "timeout": _num(spec, "timeoutSeconds", 1.0, 0.001),
        "success_threshold": int(_num(spec, "successThreshold", 1, 1)),
        "failure_threshold": int(_num(spec, "failureThreshold", 3, 1)),
    }
    http = spec.get("httpGet")
    if isinstance(http, Mapping):
        headers = tuple(
            (str(h.get("name")), str(h.get("value", "")))
            for h in http.get("httpHeaders") or ()
            if isinstance(h, Mapping) and h.get("name")
        )
        return Probe(
            "http",
            port=_port(http.get("port"), container),
            path=str(http.get("path") or "/"),
            host=str(http.get("host") or host),
            scheme=str(http.get("scheme") or "HTTP").upper(),
            headers=headers,
            **timing,  # type: ignore[arg-type]
        )
    tcp = spec.get("tcpSocket")
    if isinstance(tcp, Mapping):
        return Probe(
            "tcp",
            port=_port(tcp.get("port"), container),
            host=str(tcp.get("host") or host),
            **timing,  # type: ignore[arg-type]
        )
    command = spec["exec"].get("command")
    argv = tuple(str(c) for c in command) if isinstance(command, list) else ()
    return Probe("exec", command=argv, **timing)  # type: ignore[arg-type]


async def check(probe: Probe, env: Mapping[str, str], cwd: str | None) -> tuple[bool, str]:
    """Run ``probe`` once: whether it succeeded, and why not."""
    try:
        async with asyncio.timeout(probe.timeout):
            if probe.kind == "tcp":
                return await _tcp(probe)
            if probe.kind == "http":
                return await _http(probe)
            if probe.kind == "exec":
                return await _exec(probe, env, cwd)
            return True, ""
    except TimeoutError:
        return False, f"{probe.describe()}: timeout after {probe.timeout:g}s"


async def listens(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    ok, _ = await check(Probe("tcp", host=host, port=port, timeout=timeout), {}, None)
    return ok


async def _tcp(probe: Probe) -> tuple[bool, str]:
    try:
        _, writer = await asyncio.open_connection(probe.host, probe.port)
    except OSError as err:
        return False, f"dial tcp {probe.host}:{probe.port}: {err.strerror or err}"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True, ""


async def _http(probe: Probe) -> tuple[bool, str]:
    context = None
    if probe.scheme == "HTTPS":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        reader, writer = await asyncio.open_connection(probe.host, probe.port, ssl=context)
    except OSError as err:
        return False, (
            f'Get "{probe.scheme.lower()}://{probe.host}:{probe.port}{probe.path}": '
            f"dial tcp {probe.host}:{probe.port}: {err.strerror or err}"
        )
    try:
        names = {name.lower() for name, _ in probe.headers}
        head = [f"GET {probe.path} HTTP/1.1", f"Host: {probe.host}:{probe.port}"]
        if "user-agent" not in names:
            head.append("User-Agent: kube-probe/1.30")
        head += [f"{name}: {value}" for name, value in probe.headers]
        head += ["Connection: close", "", ""]
        writer.write("\r\n".join(head).encode("latin-1"))
        await writer.drain()
        status_line = await reader.readline()
    except OSError as err:
        return False, f"{probe.describe()}: {err}"
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    parts = status_line.split()
    code = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    if 200 <= code < 400:
        return True, ""
    return False, f"HTTP probe failed with statuscode: {code}"


async def _exec(probe: Probe, env: Mapping[str, str], cwd: str | None) -> tuple[bool, str]:
    if not probe.command:
        return False, "exec probe has no command"
    try:
        child = process.spawn(probe.command, env, cwd, capture=False)
    except OSError as err:
        return False, f"{probe.describe()}: {err}"
    try:
        status = await child.wait()
    finally:
        child.signal_group(signal.SIGKILL)
    if status == 0:
        return True, ""
    return False, f"command {list(probe.command)} exited with {process.exit_code(status)}"


async def liveness(
    worker: PodView,
    runner: ContainerRunner,
    probe: Probe,
    env: Mapping[str, str],
    cwd: str | None,
) -> None:
    """Run a container's liveness probe; once it failed ``failureThreshold`` times in a row,
    stop the run (Events ``Unhealthy``, ``Killing``): the restart policy does the rest."""
    await asyncio.sleep(probe.initial_delay)
    failures = 0
    while True:
        ok, why = await check(probe, env, cwd)
        failures = 0 if ok else failures + 1
        path = worker.field_path(runner)
        if not ok:
            message = f"Liveness probe failed: {why}"
            worker.node.event(worker.pod, "Warning", "Unhealthy", message, field_path=path)
        if failures >= probe.failure_threshold:
            worker.node.event(
                worker.pod,
                "Normal",
                "Killing",
                f"Container {runner.name} failed liveness probe, will be restarted",
                field_path=path,
            )
            await runner.stop(worker.grace)
            return
        await asyncio.sleep(probe.period)
