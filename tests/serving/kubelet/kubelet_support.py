"""Helpers of the kubelet tests: a running Kubelet on a real SQLite store, Pods, waits."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from kawa.apis.core.pod import default_pod
from kawa.apiserver.server import ApiServer
from kawa.controllers.nodes import NodeControllers
from kawa.coordination.node_lease import NodeLease
from kawa.errors import NotFoundError
from kawa.serving.kubelet import Kubelet
from kawa.serving.kubelet import config as kubelet_config
from kawa.serving.kubelet.podman import Podman
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ...waiting import eventually

PYTHON = sys.executable
HTTP_SERVER = (
    "import http.server, os\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        self.send_response(200); self.end_headers(); self.wfile.write(b'ok')\n"
    "    def log_message(self, *a):\n"
    "        pass\n"
    "print('listening on', os.environ['PORT'], flush=True)\n"
    "http.server.HTTPServer(('', int(os.environ['PORT'])), H).serve_forever()\n"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pod_key(name: str, namespace: str = "default") -> ResourceKey:
    return ResourceKey("pods", namespace, name)


def pod_obj(
    name: str,
    containers: list[dict[str, Any]],
    *,
    restart_policy: str = "Always",
    grace: int | None = None,
    init_containers: list[dict[str, Any]] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": containers, "restartPolicy": restart_policy}
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    if init_containers:
        spec["initContainers"] = init_containers
    meta: dict[str, Any] = {"name": name, "namespace": "default"}
    if labels:
        meta["labels"] = labels
    return default_pod({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})


def sh(script: str, name: str = "c", **fields: Any) -> dict[str, Any]:
    """A busybox container running ``sh -c script`` (args only, as kubectl run does)."""
    return {"name": name, "image": "busybox", "args": ["sh", "-c", script], **fields}


def conditions(pod: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions", [])}


def container_status(pod: dict[str, Any], name: str = "c") -> dict[str, Any]:
    for entry in pod.get("status", {}).get("containerStatuses", []):
        if entry["name"] == name:
            return dict(entry)
    return {}


def pid_of(pod: dict[str, Any], name: str = "c") -> int:
    return int(container_status(pod, name)["containerID"].removeprefix("kawa://"))


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def session_members(sid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                found.append(int(entry))
    return found


@dataclass
class Node:
    """A Kubelet running on a store, for one test."""

    store: SqliteResourceStore
    kubelet: Kubelet
    data_dir: Path

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        return await self.store.create(pod_key(meta["name"], meta["namespace"]), obj)

    async def get(self, name: str) -> dict[str, Any]:
        return await self.store.get(pod_key(name))

    async def wait_pod(
        self, name: str, check: Callable[[dict[str, Any]], bool], *, timeout: float = 10.0
    ) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            try:
                pod = await self.get(name)
            except NotFoundError:
                return None
            return pod if check(pod) else None

        return await eventually(probe, timeout=timeout, message=f"pod {name}")

    async def wait_phase(self, name: str, phase: str, timeout: float = 10.0) -> dict[str, Any]:
        return await self.wait_pod(
            name, lambda p: p.get("status", {}).get("phase") == phase, timeout=timeout
        )

    async def events(self, name: str) -> list[dict[str, Any]]:
        listed = await self.store.list("events", "default")
        return [e for e in listed.items if e["involvedObject"]["name"] == name]

    async def wait_events(
        self, name: str, reasons: set[str], timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        async def probe() -> list[dict[str, Any]] | None:
            found = await self.events(name)
            return found if reasons <= {e["reason"] for e in found} else None

        return await eventually(probe, timeout=timeout, message=f"events {reasons} of {name}")

    async def configure(self, name: str, data: dict[str, str]) -> None:
        key = ResourceKey("configmaps", "knative-serving", name)
        obj = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "knative-serving"},
            "data": data,
        }
        try:
            await self.store.create(key, obj)
        except Exception:
            await self.store.update(key, obj)
        if name == kubelet_config.CONFIG_MAP:
            want, _ = kubelet_config.config_from_configmap(data)

            async def applied() -> bool:  # the kubelet watches it
                return self.kubelet.node.config == want

            await eventually(applied, 5.0, f"the kubelet never applied {name}")

    def log_file(self, pod: dict[str, Any], container: str = "c", suffix: str = ".log") -> Path:
        meta = pod["metadata"]
        return (
            self.data_dir
            / "kubelet"
            / "logs"
            / f"{meta['namespace']}_{meta['name']}_{meta['uid']}"
            / f"{container}{suffix}"
        )


@contextlib.asynccontextmanager
async def running_kubelet(
    data_dir: Path, store: SqliteResourceStore | None = None, *, podman: Podman | None = None
) -> AsyncIterator[Node]:
    """A Kubelet on ``store`` (running images the catalog does not map in ``podman``) with
    what a single kawa node runs beside it: its heartbeat Lease and the leader's scheduler
    (which binds the Pods to it)."""
    own = store is None
    store = store or SqliteResourceStore(":memory:")
    kubelet = Kubelet(store, data_dir, podman=podman)
    tasks = [asyncio.create_task(kubelet.run())]
    try:
        await asyncio.wait_for(kubelet.ready.wait(), 10)
        tasks.append(asyncio.create_task(NodeLease(store, "kawa").run()))
        tasks.append(asyncio.create_task(NodeControllers(store, me="kawa").run()))
        yield Node(store, kubelet, data_dir)
    finally:
        for task in reversed(tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if own:
            await store.close()


@contextlib.asynccontextmanager
async def api_server(node: Node) -> AsyncIterator[str]:
    """kawa's API server with the kubelet's ``log`` handler on a loopback port; its URL."""
    app = web.Application()
    server = ApiServer(node.store)
    server.add_subresource("pods", "log", node.kubelet.pod_log)
    server.install(app)
    runner = web.AppRunner(app, handler_cancellation=True)  # watches end with kubectl
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


KUBECTL = Path("/usr/bin/kubectl")


class Kubectl:
    """The real kubectl against a test's API server."""

    def __init__(self, kubeconfig: Path, cache: Path) -> None:
        self.kubeconfig = kubeconfig
        self.cache = cache

    async def __call__(self, *args: str, timeout: float = 20) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            str(KUBECTL),
            "--kubeconfig",
            str(self.kubeconfig),
            "--cache-dir",
            str(self.cache),
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        return int(proc.returncode or 0), out.decode(), err.decode()


@contextlib.asynccontextmanager
async def kubectl_for(node: Node, directory: Path) -> AsyncIterator[Kubectl]:
    """kubectl talking to an API server (with the kubelet's ``log``) over ``node``."""
    async with api_server(node) as url:
        config = directory / "kubeconfig"
        config.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters:\n- name: kawa\n  cluster:\n    server: {url}\n"
            "users:\n- name: me\n  user: {}\n"
            "contexts:\n- name: kawa\n  context:\n    cluster: kawa\n    user: me\n"
            "    namespace: default\n"
            "current-context: kawa\n"
        )
        yield Kubectl(config, directory / "cache")
