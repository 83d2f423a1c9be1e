"""Knative Services in a whole kawa: real child processes, the router and activator on kawa's
HTTP port, the autoscaler with shortened windows, Triggers delivering to Services.

These are the "Must hold" cases of issue #5 that need every part together.
"""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kawa.cloudevents import http as ce_http
from kawa.cloudevents.event import CloudEvent

from ..waiting import eventually
from .serving_support import (
    EVENT_DISPLAY,
    REVISIONS,
    SERVICES,
    Serving,
    alive,
    condition,
    condition_of,
    pid_of,
    revision_server,
    serving_kawa,
)

pytestmark = pytest.mark.slow


def _event(id_: str) -> CloudEvent:
    return CloudEvent(
        {"specversion": "1.0", "id": id_, "source": "/serving/test", "type": "serving.test"},
        b"{}",
    )


async def _post_event(serving: Serving, url: str, id_: str) -> int:
    headers, body = ce_http.to_binary(_event(id_))
    async with serving.session.post(url, data=body, headers=headers) as resp:
        await resp.read()
        return resp.status


async def _no_pods(serving: Serving, name: str, timeout: float = 30.0) -> None:
    async def none_left() -> bool:
        return not await serving.pods(name)

    await eventually(none_left, timeout, f"{name} never scaled to zero")


async def test_event_display_service_starts_from_zero_and_returns_to_zero(tmp_path: Path) -> None:
    async with serving_kawa(tmp_path) as serving:
        await serving.create_service("display", {"image": EVENT_DISPLAY})
        svc = await serving.wait_ready("display")
        url = svc["status"]["url"]
        assert svc["status"]["address"]["url"] == url
        assert svc["status"]["latestReadyRevisionName"] == "display-00001"
        await _no_pods(serving, "display")

        async def inactive() -> bool:
            revision = await serving.call("GET", f"{REVISIONS}/display-00001")
            return condition_of(revision, "Active").get("reason") == "NoTraffic"

        # the Revision's status follows its Pods being gone
        await eventually(inactive, 10, "the Revision never became inactive (NoTraffic)")
        assert condition(await serving.service("display")) == "True"

        # the first request to a Service at zero is held while an instance starts
        assert await _post_event(serving, url, "cold-1") == 202
        pods = await serving.pods("display")
        assert len(pods) == 1
        labels = pods[0]["metadata"]["labels"]
        assert labels["serving.knative.dev/revision"] == "display-00001"
        assert labels["serving.knative.dev/configuration"] == "display"
        assert [c["name"] for c in pods[0]["spec"]["containers"]] == ["user-container"]

        async def logged() -> str | None:
            text = await serving.log(pods[0]["metadata"]["name"])
            return text if "id: cold-1" in text else None

        text = await eventually(logged, 10, "the event never reached the event-display's log")
        assert "type: serving.test" in text
        await _no_pods(serving, "display")


@pytest.mark.parametrize("api_version", ["serving.knative.dev/v1", "serving.knative.dev/v1alpha1"])
async def test_trigger_delivers_to_a_service_waking_it_from_zero(
    tmp_path: Path, api_version: str
) -> None:
    async with serving_kawa(tmp_path) as serving:
        await serving.create_service("sink", {"image": EVENT_DISPLAY})
        await serving.wait_ready("sink")
        await _no_pods(serving, "sink")
        eventing = "/apis/eventing.knative.dev/v1/namespaces/default"
        await serving.call(
            "POST",
            f"{eventing}/brokers",
            {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "metadata": {"name": "b"}},
        )
        await serving.call(
            "POST",
            f"{eventing}/triggers",
            {
                "apiVersion": "eventing.knative.dev/v1",
                "kind": "Trigger",
                "metadata": {"name": "to-sink"},
                "spec": {
                    "broker": "b",
                    "subscriber": {
                        "ref": {"apiVersion": api_version, "kind": "Service", "name": "sink"}
                    },
                },
            },
        )

        async def trigger_ready() -> bool:
            trigger = await serving.call("GET", f"{eventing}/triggers/to-sink")
            return condition(trigger) == "True"

        await eventually(trigger_ready, 20, "the Trigger never became Ready")
        assert await _post_event(serving, f"{serving.url}/brokers/default/b", "via-broker") == 202

        async def delivered() -> str | None:
            for pod in await serving.pods("sink"):
                text = await serving.log(pod["metadata"]["name"])
                if "id: via-broker" in text:
                    return text
            return None

        await eventually(delivered, 30, "the event never reached the Service")


async def test_concurrent_load_scales_out_within_max_scale(tmp_path: Path) -> None:
    async with serving_kawa(tmp_path, **{"stable-window": "2s"}) as serving:
        await serving.create_service(
            "busy",
            revision_server(DELAY="0.4"),
            metadata={"annotations": {"autoscaling.knative.dev/max-scale": "3"}},
            spec={"containerConcurrency": 1},
        )
        svc = await serving.wait_ready("busy")
        url = svc["status"]["url"]
        most = 0

        async def watch_pods() -> None:
            nonlocal most
            while True:
                most = max(most, len(await serving.pods("busy")))
                await asyncio.sleep(0.05)  # a sample of the Pod count every 50 ms

        watcher = asyncio.create_task(watch_pods())
        try:

            async def one(i: int) -> int:
                async with serving.session.get(f"{url}/work?i={i}") as resp:
                    assert await resp.text() == "busy-00001"
                    return resp.status

            for _ in range(4):
                statuses = await asyncio.gather(*(one(i) for i in range(12)))
                assert statuses == [200] * 12
        finally:
            watcher.cancel()
        assert 2 <= most <= 3, most
        await _no_pods(serving, "busy")


async def test_traffic_split_80_20(tmp_path: Path) -> None:
    async with serving_kawa(tmp_path) as serving:
        keep_one = {"annotations": {"autoscaling.knative.dev/min-scale": "1"}}
        await serving.create_service("split", revision_server(), metadata=keep_one)
        await serving.wait_ready("split")
        await serving.call(
            "PATCH",
            f"{SERVICES}/split",
            {
                "spec": {
                    "template": {"spec": {"containers": [revision_server(V="2")]}},
                    "traffic": [
                        {"revisionName": "split-00001", "percent": 80},
                        {"latestRevision": True, "percent": 20, "tag": "candidate"},
                    ],
                }
            },
        )

        async def split_ready() -> dict[str, Any] | None:
            svc = await serving.service("split")
            traffic = svc.get("status", {}).get("traffic") or []
            ok = condition(svc) == "True" and len(traffic) == 2
            return svc if ok else None

        svc = await eventually(split_ready, 30, "the split never became Ready")
        url = svc["status"]["url"]
        counts: collections.Counter[str] = collections.Counter()
        connector = aiohttp.TCPConnector(limit=8)
        async with aiohttp.ClientSession(connector=connector) as client:

            async def one() -> None:
                async with client.get(url) as resp:
                    counts[await resp.text()] += 1

            for _ in range(25):
                await asyncio.gather(*(one() for _ in range(20)))
            tagged = [t for t in svc["status"]["traffic"] if t.get("tag")]
            async with client.get(tagged[0]["url"]) as resp:
                assert await resp.text() == "split-00002"
        assert sum(counts.values()) == 500
        share = counts["split-00001"] / 500
        assert 0.72 <= share <= 0.88, counts


async def test_crashing_container_backs_off_and_deleting_stops_processes(tmp_path: Path) -> None:
    async with serving_kawa(tmp_path) as serving:
        await serving.configure(
            "config-kawa-kubelet",
            {"crash-loop-backoff-initial": "200ms", "crash-loop-backoff-max": "1s"},
        )
        await serving.create_service(
            "crash", {"image": "busybox", "command": ["sh", "-c", "echo boom; exit 3"]}
        )

        async def backing_off() -> dict[str, Any] | None:
            for pod in await serving.pods("crash"):
                for status in pod.get("status", {}).get("containerStatuses", []):
                    waiting = status.get("state", {}).get("waiting", {})
                    if waiting.get("reason") == "CrashLoopBackOff" and status["restartCount"] >= 1:
                        return dict(pod)
            return None

        pod = await eventually(backing_off, 30, "the crashing container never backed off")

        async def boomed() -> bool:  # (a restart may have begun a new, still empty, log)
            return "boom" in await serving.log(pod["metadata"]["name"])

        await eventually(boomed, 10, "the crashing container's log never showed its output")

        async def not_ready() -> bool:
            return condition(await serving.service("crash")) == "False"

        await eventually(not_ready, 20, "a crashing Service must not be Ready")

        await serving.create_service("steady", revision_server())
        await serving.wait_ready("steady")

        async def running_pids() -> list[int] | None:  # (its status may lag under load)
            pids = [pid for pid in map(pid_of, await serving.pods("steady")) if pid is not None]
            return pids or None

        pids = await eventually(running_pids, 20, "the steady Service has no running Pod")
        assert all(alive(pid) for pid in pids)
        await serving.call("DELETE", f"{SERVICES}/steady")
        await serving.call("DELETE", f"{SERVICES}/crash")

        async def all_gone() -> bool:
            left = await serving.pods("steady") + await serving.pods("crash")
            return not left and not any(alive(pid) for pid in pids)

        await eventually(all_gone, 30, "deleting the Services left Pods or processes")


async def test_an_image_kawa_cannot_run_says_how_to_fix_it(tmp_path: Path) -> None:
    async with serving_kawa(tmp_path) as serving:
        await serving.create_service("mystery", {"image": "example.com/team/mystery:1.0"})

        async def refused() -> dict[str, Any] | None:
            svc = await serving.service("mystery")
            return svc if condition(svc) == "False" else None

        svc = await eventually(refused, 20, "an unknown image must make the Service not Ready")
        ready = condition_of(svc)
        assert "command" in ready["message"], ready
        assert "config-kawa-images" in ready["message"], ready
        assert not await serving.pods("mystery")
