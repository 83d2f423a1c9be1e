"""Test support for the ContainerSource and SinkBinding tests: a whole kawa in-process (real
kubelet, real child processes, real HTTP), a client for any kind, and the heartbeat container.

Until :mod:`kawa.runtime` runs the ContainerSource and SinkBinding controllers itself,
:func:`sources_kawa` adds them next to the other sources and takes their kinds out of the
pending controller's list (a no-op once the runtime runs them).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from ...broker.broker_support import running_kawa
from ...serving.serving_support import condition_of as condition
from ...waiting import eventually

HEARTBEAT = str(Path(__file__).with_name("heartbeat.py"))
PYTHON_IMAGE = "docker.io/library/python:3.11-slim"
PATHS = {
    "Pod": "/api/v1/namespaces/{ns}/pods",
    "Event": "/api/v1/namespaces/{ns}/events",
    "Service": "/apis/serving.knative.dev/v1/namespaces/{ns}/services",
    "Revision": "/apis/serving.knative.dev/v1/namespaces/{ns}/revisions",
    "Broker": "/apis/eventing.knative.dev/v1/namespaces/{ns}/brokers",
    "Trigger": "/apis/eventing.knative.dev/v1/namespaces/{ns}/triggers",
    "ContainerSource": "/apis/sources.knative.dev/v1/namespaces/{ns}/containersources",
    "SinkBinding": "/apis/sources.knative.dev/v1/namespaces/{ns}/sinkbindings",
    "ConfigMap": "/api/v1/namespaces/{ns}/configmaps",
    "Secret": "/api/v1/namespaces/{ns}/secrets",
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
}


def heartbeat(**env: str) -> dict[str, Any]:
    """The heartbeat container: a real Python process (image ``python`` maps to nothing, so
    the command is what runs)."""
    container: dict[str, Any] = {
        "name": "heartbeat",
        "image": PYTHON_IMAGE,
        "command": [sys.executable, HEARTBEAT],
    }
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    return container


def container_source(
    name: str, sink: dict[str, Any], *containers: dict[str, Any], **spec: Any
) -> dict[str, Any]:
    labels = spec.pop("labels", None)
    template: dict[str, Any] = {"spec": {"containers": list(containers) or [heartbeat()]}}
    if labels:
        template["metadata"] = {"labels": labels}
    return {
        "apiVersion": "sources.knative.dev/v1",
        "kind": "ContainerSource",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"template": template, "sink": sink, **spec},
    }


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env") or []}


@dataclass
class Client:
    url: str
    session: aiohttp.ClientSession

    def path(self, kind: str, name: str = "", ns: str = "default") -> str:
        base = self.url + PATHS[kind].format(ns=ns)
        return f"{base}/{name}" if name else base

    async def _call(self, method: str, url: str, body: Any = None) -> Any:
        headers = {"Content-Type": "application/merge-patch+json"} if method == "PATCH" else {}
        async with self.session.request(method, url, json=body, headers=headers) as resp:
            answer = await resp.json()
            if resp.status >= 300:
                raise AssertionError(f"{method} {url}: {resp.status} {answer}")
            return answer

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        ns = obj["metadata"].get("namespace", "default")
        return dict(await self._call("POST", self.path(obj["kind"], ns=ns), obj))

    async def get(self, kind: str, name: str) -> dict[str, Any] | None:
        async with self.session.get(self.path(kind, name)) as resp:
            if resp.status == 404:
                return None
            assert resp.status == 200, await resp.text()
            return dict(await resp.json())

    async def patch(
        self, kind: str, name: str, body: dict[str, Any], ns: str = "default"
    ) -> dict[str, Any]:
        return dict(await self._call("PATCH", self.path(kind, name, ns), body))

    async def delete(self, kind: str, name: str) -> None:
        await self._call("DELETE", self.path(kind, name))

    async def list(self, kind: str, selector: str = "") -> list[dict[str, Any]]:
        query = f"?labelSelector={selector}" if selector else ""
        return list((await self._call("GET", self.path(kind) + query))["items"])

    async def wait_condition(
        self, kind: str, name: str, type_: str, status: str, timeout: float = 30.0
    ) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            obj = await self.get(kind, name)
            if obj is not None and condition(obj, type_).get("status") == status:
                return obj
            return None

        try:
            return await eventually(probe, timeout, "")
        except AssertionError:
            obj = await self.get(kind, name)
            raise AssertionError(
                f"{kind} {name} never had {type_}={status}: {(obj or {}).get('status')}"
            ) from None


@contextlib.asynccontextmanager
async def sources_kawa(data_dir: Path) -> AsyncIterator[Client]:
    """A whole kawa with the ContainerSource and SinkBinding controllers running."""
    async with running_kawa(data_dir) as running:
        client = Client(running.url, running.session)
        await client.patch(
            "ConfigMap",
            "config-kawa-kubelet",
            {"data": {"crash-loop-backoff-initial": "300ms", "crash-loop-backoff-max": "1s"}},
            ns="knative-serving",
        )
        yield client
