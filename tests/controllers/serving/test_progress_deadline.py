"""A Revision that never gets a ready Pod fails at its progress deadline (real controllers on
a real store, the real clock: deadlines of a second or two)."""

from __future__ import annotations

import asyncio
from typing import Any

from kawa.store.base import ResourceKey

from .support import (
    NS,
    REVISIONS,
    SERVICES,
    condition,
    is_ready,
    ksvc,
    pod,
    put_pod,
    running_serving,
)

DEADLINE = "serving.knative.dev/progress-deadline"
NEVER = "Initial scale was never achieved: no instance became ready within the progress deadline"


def template(deadline: str | None) -> dict[str, Any]:
    return {
        "metadata": {"annotations": {DEADLINE: deadline}} if deadline else {},
        "spec": {"containers": [{"image": "busybox", "command": ["sleep", "1000"]}]},
    }


def failed(obj: dict[str, Any]) -> bool:
    return condition(obj, "ResourcesAvailable")[0] == "False"


async def test_revision_fails_at_its_annotated_deadline_with_the_pods_message() -> None:
    async with running_serving() as s:
        await s.create(SERVICES, ksvc(template=template("2s")))
        rev = await s.wait(REVISIONS, "hello-00001", lambda o: "status" in o)
        assert condition(rev, "ResourcesAvailable")[:2] == ("Unknown", "Deploying")
        waiting = {"waiting": {"reason": "ContainerCreating", "message": "pulling the program"}}
        await put_pod(s.store, pod(rev, 1, ready=False, state=waiting))
        # Woken by its own timer (the controllers' resync is every 10 s).
        rev = await s.wait(REVISIONS, "hello-00001", failed, timeout=8.0)
        assert condition(rev, "ResourcesAvailable") == (
            "False",
            "ProgressDeadlineExceeded",
            f"{NEVER} of 2s; ContainerCreating: pulling the program",
        )
        assert condition(rev, "Ready")[:2] == ("False", "ProgressDeadlineExceeded")
        svc = await s.wait(SERVICES, "hello", lambda o: condition(o, "Ready")[0] == "False")
        assert "Initial scale was never achieved" in condition(svc, "Ready")[2]

        # A ready Pod later still makes it Ready, as in Knative.
        await put_pod(s.store, pod(rev, 1, ready=True))
        await s.wait(REVISIONS, "hello-00001", is_ready)


async def test_config_deployment_sets_the_default_and_events_give_the_hint() -> None:
    async with running_serving() as s:
        await s.store.create(
            ResourceKey("configmaps", "knative-serving", "config-deployment"),
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "config-deployment", "namespace": "knative-serving"},
                "data": {"progress-deadline": "1s"},
            },
        )
        await s.create(SERVICES, ksvc(template=template(None)))
        rev = await s.wait(REVISIONS, "hello-00001", lambda o: "status" in o)
        unready = pod(rev, 1, ready=False)
        await put_pod(s.store, unready)
        await s.store.create(
            ResourceKey("events", NS, "probe-1"),
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": "probe-1", "namespace": NS},
                "involvedObject": {"kind": "Pod", "name": unready["metadata"]["name"]},
                "reason": "Unhealthy",
                "message": "Readiness probe failed: dial tcp 127.0.0.1:8080: connection refused",
                "type": "Warning",
                "lastTimestamp": "2024-05-01T12:00:00Z",
            },
        )
        rev = await s.wait(REVISIONS, "hello-00001", failed, timeout=8.0)
        assert condition(rev, "ResourcesAvailable")[2] == (
            f"{NEVER} of 1s; Readiness probe failed: dial tcp 127.0.0.1:8080: connection refused"
        )


async def test_a_revision_ready_in_time_is_not_failed_later() -> None:
    async with running_serving() as s:
        await s.create(SERVICES, ksvc(template=template("1s")))
        rev = await s.wait(REVISIONS, "hello-00001", lambda o: "status" in o)
        await put_pod(s.store, pod(rev, 1, ready=True))
        await s.wait(REVISIONS, "hello-00001", is_ready)
        # Scaled to zero after the deadline: still Ready (ResourcesAvailable stays True).
        await s.store.delete(ResourceKey("pods", NS, pod(rev, 1, ready=True)["metadata"]["name"]))
        rev = await s.wait(REVISIONS, "hello-00001", lambda o: condition(o, "Active")[0] == "False")
        await asyncio.sleep(1.5)  # the behaviour under test: its 1s progress deadline passes
        rev = await s.get(REVISIONS, "hello-00001")
        assert is_ready(rev)
