"""A Revision with initial scale 0 is Ready without a Pod when ConfigMap config-autoscaler
allows it, and no progress deadline applies to it (real controllers on a real store)."""

from __future__ import annotations

import asyncio
from typing import Any

from kawa.store.base import ResourceKey

from .support import (
    REVISIONS,
    ROUTES,
    SERVICES,
    Serving,
    condition,
    is_ready,
    ksvc,
    running_serving,
)

INITIAL = "autoscaling.knative.dev/initial-scale"
DEADLINE = "serving.knative.dev/progress-deadline"
AUTOSCALER = ResourceKey("configmaps", "knative-serving", "config-autoscaler")


def template(**annotations: str) -> dict[str, Any]:
    return {
        "metadata": {"annotations": annotations},
        "spec": {"containers": [{"image": "busybox", "command": ["sleep", "1000"]}]},
    }


async def set_autoscaler(s: Serving, data: dict[str, str]) -> None:
    try:
        old = await s.store.get(AUTOSCALER)
    except Exception:
        await s.store.create(
            AUTOSCALER,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": AUTOSCALER.name, "namespace": AUTOSCALER.namespace},
                "data": data,
            },
        )
        return
    await s.store.update(AUTOSCALER, dict(old, data=data))


async def test_allowed_zero_initial_scale_is_ready_without_a_pod_and_has_no_deadline() -> None:
    async with running_serving() as s:
        await set_autoscaler(s, {"allow-zero-initial-scale": "true"})
        await s.create(SERVICES, ksvc(template=template(**{INITIAL: "0", DEADLINE: "1s"})))
        rev = await s.wait(REVISIONS, "hello-00001", is_ready)
        assert condition(rev, "ResourcesAvailable")[0] == "True"
        assert condition(rev, "ContainerHealthy")[0] == "True"
        assert condition(rev, "Active")[:2] == ("False", "NoTraffic")
        assert rev["status"]["actualReplicas"] == 0
        svc = await s.wait(SERVICES, "hello", is_ready)
        assert svc["status"]["latestReadyRevisionName"] == "hello-00001"
        route = await s.get(ROUTES, "hello")
        assert route["status"]["traffic"][0]["revisionName"] == "hello-00001"

        # well past its 1s progress deadline it is still Ready (no Pod was ever asked for):
        # the sleep is the behaviour under test, the deadline passing
        await asyncio.sleep(2.0)
        rev = await s.get(REVISIONS, "hello-00001")
        assert is_ready(rev), rev["status"]
        assert ("revision-controller", "Warning", "ProgressDeadlineExceeded") not in [
            e[:3] for e in await s.events("hello-00001")
        ]


async def test_config_initial_scale_zero_applies_to_revisions_without_the_annotation() -> None:
    async with running_serving() as s:
        await set_autoscaler(s, {"initial-scale": "0", "allow-zero-initial-scale": "true"})
        await s.create(SERVICES, ksvc(template=template()))
        rev = await s.wait(REVISIONS, "hello-00001", is_ready)
        assert condition(rev, "Active")[:2] == ("False", "NoTraffic")


async def test_not_allowed_zero_initial_scale_counts_as_one() -> None:
    async with running_serving() as s:
        await s.create(SERVICES, ksvc(template=template(**{INITIAL: "0", DEADLINE: "1s"})))
        # it waits for an instance as with initial-scale 1, and fails at its deadline
        rev = await s.wait(
            REVISIONS,
            "hello-00001",
            lambda o: condition(o, "ResourcesAvailable")[0] == "False",
            timeout=8.0,
        )
        assert condition(rev, "ResourcesAvailable")[1] == "ProgressDeadlineExceeded"


async def test_allowing_zero_initial_scale_later_makes_a_waiting_revision_ready() -> None:
    async with running_serving() as s:
        await set_autoscaler(s, {"stable-window": "10s"})
        await s.create(SERVICES, ksvc(template=template(**{INITIAL: "0"})))
        rev = await s.wait(REVISIONS, "hello-00001", lambda o: "conditions" in o.get("status", {}))
        assert condition(rev, "Ready")[:2] == ("Unknown", "Deploying")
        await set_autoscaler(s, {"stable-window": "10s", "allow-zero-initial-scale": "true"})
        # woken by the ConfigMap's change (the controllers' resync is every 10 s)
        await s.wait(REVISIONS, "hello-00001", is_ready, timeout=5.0)
