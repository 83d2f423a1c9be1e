"""A Service whose Revision has initial scale 0 in a whole kawa: Ready with no Pod ever
created, then its first request starts one (a real event-display process behind the router).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from kawa.cloudevents import http as ce_http
from kawa.cloudevents.event import CloudEvent

from ..waiting import eventually
from .serving_support import EVENT_DISPLAY, PODS, REVISIONS, Serving, condition_of, serving_kawa

pytestmark = pytest.mark.slow


async def _pod_events_since(serving: Serving, resource_version: str) -> list[dict[str, Any]]:
    """Every watch event about the namespace's Pods after ``resource_version``."""
    events: list[dict[str, Any]] = []
    params = {"watch": "1", "resourceVersion": resource_version, "timeoutSeconds": "1"}
    async with serving.session.get(serving.url + PODS, params=params) as resp:
        assert resp.status == 200, await resp.text()
        async with asyncio.timeout(10):
            async for line in resp.content:
                if line.strip():
                    events.append(json.loads(line))
    return events


async def test_zero_initial_scale_is_ready_without_a_pod_and_woken_by_its_first_request(
    tmp_path: Path,
) -> None:
    async with serving_kawa(tmp_path, **{"allow-zero-initial-scale": "true"}) as serving:
        before = await serving.call("GET", PODS)
        assert before["items"] == []
        await serving.create_service(
            "display",
            {"image": EVENT_DISPLAY},
            metadata={"annotations": {"autoscaling.knative.dev/initial-scale": "0"}},
        )
        svc = await serving.wait_ready("display")
        revision = await serving.call("GET", f"{REVISIONS}/display-00001")
        assert condition_of(revision, "Ready")["status"] == "True"
        assert condition_of(revision, "Active")["reason"] == "NoTraffic"
        # a few autoscaler ticks (100ms) later, still no Pod was ever created (the time passing
        # is the behaviour under test)
        await asyncio.sleep(1.0)
        since = str(before["metadata"]["resourceVersion"])
        assert await _pod_events_since(serving, since) == []

        # the first request starts an instance, waits for it, and gets the program's answer
        event = CloudEvent(
            {"specversion": "1.0", "id": "first", "source": "/test", "type": "serving.test"},
            b"{}",
        )
        headers, body = ce_http.to_binary(event)
        async with serving.session.post(svc["status"]["url"], data=body, headers=headers) as resp:
            assert resp.status == 202, await resp.text()
        pods = await serving.pods("display")
        assert len(pods) == 1
        # the same watch does see Pods: the first one was created by that request
        added = [e for e in await _pod_events_since(serving, since) if e["type"] == "ADDED"]
        assert [e["object"]["metadata"]["name"] for e in added] == [pods[0]["metadata"]["name"]]

        async def logged() -> bool:
            return "id: first" in await serving.log(pods[0]["metadata"]["name"])

        await eventually(logged, 10, "the event never reached the event-display's log")
