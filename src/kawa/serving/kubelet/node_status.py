"""kawa's Node object: created by the kubelet, its status kept up to date by a heartbeat.

Like a kubelet, kawa's registers its node (``kawa up --node-name``, default ``kawa``) when it
starts and then reports the node's status every :data:`HEARTBEAT` seconds: capacity and
allocatable (CPUs, memory and the data dir's disk of this machine, 110 pods), the conditions
``Ready``, ``MemoryPressure``, ``DiskPressure`` and ``PIDPressure`` (each with its
``lastHeartbeatTime``; ``lastTransitionTime`` kept until the status changes), addresses
(``InternalIP``: ``kawa up --advertise-address``, default 127.0.0.1; the host name) and
``nodeInfo`` (kernel, OS image, architecture, versions). Labels
``kubernetes.io/hostname|os|arch`` and ``node-role.kubernetes.io/control-plane`` (kawa is its
own control plane) are set when it is created; a user's labels and annotations are kept. Started
by :meth:`kawa.serving.kubelet.Kubelet.run`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import platform
import shutil
import socket
from pathlib import Path
from typing import Any, Final

from kawa import __version__
from kawa.apis import core
from kawa.apis.conditions import Clock
from kawa.errors import ConflictError, KawaError, NotFoundError
from kawa.serving.kubelet import steps
from kawa.store.base import ResourceKey, ResourceStore

log = logging.getLogger(__name__)

HEARTBEAT: Final = 30.0
"""Seconds between two status reports (Kubernetes' kubelet: 10 s; a store write each)."""
MAX_PODS: Final = "110"
KUBELET_VERSION: Final = f"v1.32.0+kawa.{__version__}"
DEFAULT_ADDRESS: Final = "127.0.0.1"

_ARCH: Final = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}


def _memory_kib() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _os_image() -> str:
    try:
        for line in Path("/etc/os-release").read_text(encoding="utf-8").splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="ascii").strip()
    except OSError:
        return ""


def architecture() -> str:
    machine = platform.machine()
    return _ARCH.get(machine, machine.lower())


def resources(data_dir: Path) -> dict[str, str]:
    """The machine's capacity, as a kubelet reports it (quantities as strings)."""
    try:
        disk = shutil.disk_usage(data_dir).total // 1024
    except OSError:
        disk = 0
    return {
        "cpu": str(os.cpu_count() or 1),
        "memory": f"{_memory_kib()}Ki",
        "ephemeral-storage": f"{disk}Ki",
        "pods": MAX_PODS,
    }


_CONDITIONS: Final = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)


def status(
    data_dir: Path,
    now: str,
    previous: dict[str, Any] | None = None,
    address: str = DEFAULT_ADDRESS,
    port: int = 0,
    runtime_version: str = "",
) -> dict[str, Any]:
    """The node's status at ``now`` (RFC 3339); transitions kept from ``previous``;
    ``address`` its ``InternalIP``, ``port`` kawa's HTTP port there (the kubelet endpoint's:
    other nodes relay Pod traffic through it, :mod:`kawa.serving.podnet`; 0: unknown)."""
    before = {
        c.get("type"): c for c in (previous or {}).get("conditions") or () if isinstance(c, dict)
    }
    conditions = []
    for kind, value, reason, message in _CONDITIONS:
        old = before.get(kind) or {}
        since = old.get("lastTransitionTime") if old.get("status") == value else None
        conditions.append(
            {
                "type": kind,
                "status": value,
                "reason": reason,
                "message": message,
                "lastHeartbeatTime": now,
                "lastTransitionTime": since or now,
            }
        )
    capacity = resources(data_dir)
    uname = platform.uname()
    return {
        "capacity": capacity,
        "allocatable": dict(capacity),
        "conditions": conditions,
        "addresses": [
            {"type": "InternalIP", "address": address},
            {"type": "Hostname", "address": socket.gethostname()},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
        "nodeInfo": {
            "machineID": _read("/etc/machine-id"),
            "systemUUID": _read("/etc/machine-id"),
            "bootID": _read("/proc/sys/kernel/random/boot_id"),
            "kernelVersion": uname.release,
            "osImage": _os_image(),
            "containerRuntimeVersion": runtime_version or f"kawa://{__version__}",
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": KUBELET_VERSION,
            "operatingSystem": uname.system.lower(),
            "architecture": architecture(),
        },
    }


def new_node(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": platform.system().lower(),
                "kubernetes.io/arch": architecture(),
                "node-role.kubernetes.io/control-plane": "",
            },
        },
        "spec": {},
    }


async def report(
    store: ResourceStore,
    name: str,
    data_dir: Path,
    clock: Clock,
    address: str = DEFAULT_ADDRESS,
    port: int = 0,
    runtime_version: str = "",
) -> None:
    """Create the node, or write its status now (``runtime_version``: the container
    runtime's, ``podman://4.3.1``; default: kawa's processes, ``kawa://<version>``)."""
    key = ResourceKey(core.NODE.resource, "", name)
    now = clock().strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        node = await store.get(key)
    except NotFoundError:
        node = new_node(name)
        node["status"] = status(
            data_dir, now, address=address, port=port, runtime_version=runtime_version
        )
        await store.create(key, node)
        return
    node["status"] = status(data_dir, now, node.get("status"), address, port, runtime_version)
    await store.update(key, node, status_only=True)


async def heartbeat(
    store: ResourceStore,
    name: str,
    data_dir: Path,
    clock: Clock,
    address: str = DEFAULT_ADDRESS,
    interval: float = HEARTBEAT,
    port: int = 0,
    runtime_version: str = "",
) -> None:
    """Report the node's status every ``interval`` seconds until cancelled."""
    while True:
        with contextlib.suppress(ConflictError):  # someone wrote the node: next beat wins
            try:
                # finished: a store write is never abandoned half-way (see .steps)
                await steps.finish(
                    report(store, name, data_dir, clock, address, port, runtime_version)
                )
            except KawaError as err:
                log.warning("kubelet: cannot report node %s: %s", name, err)
        await asyncio.sleep(interval)
