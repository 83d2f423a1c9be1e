"""Support for the kubectl suite: the real ``/usr/bin/kubectl`` and raw HTTPS against kawa.

:class:`Kubectl` runs kubectl with an explicit ``--kubeconfig`` and a per-test
``--cache-dir`` (never the user's ``~/.kube``); :class:`KubectlWatch` is a ``kubectl get -w``
running in the background with its output in a file. :class:`Api` talks HTTPS to kawa's API
port with the kubeconfig's token and CA, for what kubectl cannot send (malformed bodies).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import os
import select
import ssl
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import yaml

from ..e2e.e2e_support import read_text, stop
from ..waiting import wait_until

KUBECTL = "/usr/bin/kubectl"


@dataclass(frozen=True, slots=True)
class Run:
    """A finished kubectl run."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def explain(self) -> str:
        return (
            f"kubectl {' '.join(self.args)} -> {self.code}\n"
            f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}"
        )


def to_yaml(manifests: dict[str, Any] | Sequence[dict[str, Any]]) -> str:
    docs = [manifests] if isinstance(manifests, dict) else list(manifests)
    return yaml.safe_dump_all(docs, sort_keys=False)


@dataclass(frozen=True, slots=True)
class Kubectl:
    """kubectl against one kawa (its kubeconfig), with its own discovery cache."""

    kubeconfig: Path
    cache_dir: Path

    def command(self, *args: str) -> list[str]:
        return [
            KUBECTL,
            "--kubeconfig",
            str(self.kubeconfig),
            "--cache-dir",
            str(self.cache_dir),
            *args,
        ]

    def run(self, *args: str, stdin: str | None = None, timeout: float = 30.0) -> Run:
        proc = subprocess.run(
            self.command(*args),
            input=stdin,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            check=False,
        )
        return Run(tuple(args), proc.returncode, proc.stdout, proc.stderr)

    def ok(self, *args: str, stdin: str | None = None) -> str:
        """Run; assert success; the standard output."""
        result = self.run(*args, stdin=stdin)
        assert result.code == 0, result.explain()
        return result.stdout

    def fails(self, *args: str, stdin: str | None = None) -> Run:
        """Run; assert failure."""
        result = self.run(*args, stdin=stdin)
        assert result.code != 0, result.explain()
        return result

    def apply(self, manifests: dict[str, Any] | Sequence[dict[str, Any]]) -> str:
        return self.ok("apply", "-f", "-", stdin=to_yaml(manifests))

    def json(self, *args: str) -> Any:
        return orjson.loads(self.ok(*args, "-o", "json"))

    def service_log(self, service: str, namespace: str) -> str:
        """The whole log of a Knative Service's user containers (``kubectl logs -l``), ``""``
        while kubectl cannot show it."""
        log = self.run(
            "logs",
            "-l",
            f"serving.knative.dev/service={service}",
            "-c",
            "user-container",
            "-n",
            namespace,
            "--tail=-1",
        )
        return log.stdout if log.code == 0 else ""

    @contextlib.contextmanager
    def watch(self, out: Path, *args: str) -> Iterator[KubectlWatch]:
        """``kubectl ARGS`` (a ``get -w``) in the background, stopped at the end."""
        with out.open("wb") as sink:
            proc = subprocess.Popen(
                self.command(*args), stdin=subprocess.DEVNULL, stdout=sink, stderr=sink
            )
        try:
            yield KubectlWatch(proc, out)
        finally:
            stop(proc)


@dataclass(frozen=True, slots=True)
class KubectlWatch:
    proc: subprocess.Popen[bytes]
    out: Path

    def lines(self) -> list[str]:
        return read_text(self.out).splitlines()

    def wait_for(self, predicate: Any, message: str, timeout: float = 10.0) -> list[str]:
        """Wait until ``predicate(lines)``; the lines."""

        def check() -> list[str] | None:
            lines = self.lines()
            if predicate(lines):
                return lines
            if self.proc.poll() is not None:
                raise AssertionError(f"kubectl get -w exited {self.proc.returncode}: {lines}")
            return None

        result: list[str] = wait_until(check, timeout, f"{message}; saw {self.lines()}")
        return result


def header(table: str) -> list[str]:
    """The column names of the first line of ``kubectl get`` output (split on 2+ spaces)."""
    first = table.splitlines()[0]
    return [c for c in (part.strip() for part in first.split("  ")) if c]


def condition(obj: dict[str, Any], kind: str = "Ready") -> dict[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class Api:
    """HTTPS requests to kawa's API port with the kubeconfig's token and CA."""

    def __init__(self, kubeconfig: Path) -> None:
        config = yaml.safe_load(kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        url = urlsplit(cluster["server"])
        self.host = str(url.hostname)
        self.port = int(url.port or 443)
        ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
        self.context = ssl.create_default_context(cadata=ca)
        self.token = str(config["users"][0]["user"]["token"])

    def connection(self, timeout: float = 10.0) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(
            self.host, self.port, context=self.context, timeout=timeout
        )

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str | None = "application/json",
        *,
        token: str | None = None,
        timeout: float = 20.0,
    ) -> Response:
        headers = {"Authorization": f"Bearer {self.token if token is None else token}"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        conn = self.connection(timeout)
        try:
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
            except (BrokenPipeError, ConnectionResetError):
                # the server may answer a huge body early and close: read what it said
                resp = conn.getresponse()
            return Response(resp.status, dict(resp.getheaders()), resp.read())
        finally:
            conn.close()

    def call(self, method: str, path: str, obj: Any = None, content_type: str = "") -> Any:
        """A request that must succeed; its JSON body."""
        body = None if obj is None else orjson.dumps(obj)
        resp = self.request(method, path, body, content_type or "application/json")
        assert resp.status < 300, (resp.status, resp.body[:2000])
        return resp.json()


def watch_lines(api: Api, path: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The first ``count`` events of a watch on ``path`` (fewer if the stream ends)."""
    conn = api.connection(timeout)
    events: list[dict[str, Any]] = []
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {api.token}"})
        resp = conn.getresponse()
        assert resp.status == 200, (resp.status, resp.read())
        deadline = time.monotonic() + timeout
        while len(events) < count and time.monotonic() < deadline:
            try:
                line = resp.readline()
            except TimeoutError:
                break
            if not line:
                break
            if line.strip():
                events.append(orjson.loads(line))
    finally:
        conn.close()
    return events


def read_until(fd: int, until: bytes, timeout: float = 20.0) -> bytes:
    """Read the terminal ``fd`` (kubectl's, from pty.fork) until ``until`` appears."""
    out = b""
    deadline = time.monotonic() + timeout
    while until not in out:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {until!r} from kubectl: {out!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the terminal closed
                break
            if not chunk:
                break
            out += chunk
    return out
