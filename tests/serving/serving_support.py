"""A kawa running in-process for serving tests, with a small client for the API and Services.

Everything is real: the store, the kubelet's child processes, the router and activator on
kawa's HTTP port; only the autoscaler's windows are shortened (ConfigMap config-autoscaler).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from ..broker.broker_support import running_kawa
from ..waiting import eventually

SERVICES = "/apis/serving.knative.dev/v1/namespaces/default/services"
REVISIONS = "/apis/serving.knative.dev/v1/namespaces/default/revisions"
PODS = "/api/v1/namespaces/default/pods"
CONFIG = "/api/v1/namespaces/knative-serving/configmaps"
EVENT_DISPLAY = "gcr.io/knative-releases/knative.dev/eventing/cmd/event_display"
REVISION_SERVER = str(Path(__file__).with_name("revision_server.py"))

FAST_AUTOSCALER = {
    "tick-interval": "100ms",
    "stable-window": "1s",
    "scale-to-zero-grace-period": "300ms",
}


@dataclass
class Serving:
    url: str
    session: aiohttp.ClientSession

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {}
        if method == "PATCH":
            headers["Content-Type"] = "application/merge-patch+json"
        async with self.session.request(
            method, self.url + path, json=body, headers=headers
        ) as resp:
            answer = await resp.json()
            if resp.status >= 300:
                raise AssertionError(f"{method} {path}: {resp.status} {answer}")
            return answer

    async def configure(self, name: str, data: dict[str, str]) -> None:
        await self.call("PATCH", f"{CONFIG}/{name}", {"data": data})

    async def create_service(
        self, name: str, container: dict[str, Any], **template: Any
    ) -> dict[str, Any]:
        spec = {"containers": [container], **template.pop("spec", {})}
        obj = {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"template": {"spec": spec, **template}},
        }
        return dict(await self.call("POST", SERVICES, obj))

    async def service(self, name: str) -> dict[str, Any]:
        return dict(await self.call("GET", f"{SERVICES}/{name}"))

    async def pods(self, service: str) -> list[dict[str, Any]]:
        selector = f"serving.knative.dev/service={service}"
        listed = await self.call("GET", f"{PODS}?labelSelector={selector}")
        return list(listed["items"])

    async def log(self, pod: str, container: str = "user-container") -> str:
        async with self.session.get(
            f"{self.url}{PODS}/{pod}/log", params={"container": container}
        ) as resp:
            text = await resp.text()
            assert resp.status == 200, text
            return text

    async def wait_ready(self, name: str, timeout: float = 30.0) -> dict[str, Any]:
        async def ready() -> dict[str, Any] | None:
            svc = await self.service(name)
            return svc if condition(svc) == "True" else None

        return await eventually(ready, timeout, f"Service {name} never became Ready")


def condition(obj: dict[str, Any], type_: str = "Ready") -> str | None:
    for cond in obj.get("status", {}).get("conditions", []) or []:
        if cond.get("type") == type_:
            return str(cond.get("status"))
    return None


def condition_of(obj: dict[str, Any], type_: str = "Ready") -> dict[str, Any]:
    for cond in obj.get("status", {}).get("conditions", []) or []:
        if cond.get("type") == type_:
            return dict(cond)
    return {}


def revision_server(**env: str) -> dict[str, Any]:
    """A container running :mod:`revision_server` (a real process; image ``python`` has no
    built-in program, so the command is what runs)."""
    return {
        "image": "docker.io/library/python:3.11-slim",
        "command": [sys.executable, REVISION_SERVER],
        "env": [{"name": k, "value": v} for k, v in env.items()],
    }


def pid_of(pod: dict[str, Any]) -> int | None:
    for status in pod.get("status", {}).get("containerStatuses", []) or []:
        container_id = status.get("containerID", "")
        if container_id.startswith("kawa://"):
            return int(container_id.removeprefix("kawa://"))
    return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextlib.asynccontextmanager
async def serving_kawa(data_dir: Path, **autoscaler: str) -> AsyncIterator[Serving]:
    async with running_kawa(data_dir) as kawa:
        serving = Serving(kawa.url, kawa.session)
        await serving.configure("config-autoscaler", {**FAST_AUTOSCALER, **autoscaler})
        yield serving
