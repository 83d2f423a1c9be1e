"""The Job controller honours ``spec.podFailurePolicy`` as Kubernetes' does: a Pod whose node
was lost (``DisruptionTarget``) ignored, failing the Job or counted; exit codes ``In`` and
``NotIn`` a set, for one container or any; the first matching rule decides."""

from __future__ import annotations

import copy
from typing import Any

from kawa.controllers.nodes import lifecycle
from kawa.store.base import Obj, ResourceKey

from .support import PODS, Batch, condition, job_obj, world

__all__ = ["world"]

DISRUPTED = {"onPodConditions": [{"type": "DisruptionTarget"}]}


def policy(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"rules": list(rules)}


async def lose_node(world: Batch, pod: Obj) -> None:
    """What the node lifecycle controller writes when the Pod's node is lost."""
    key = ResourceKey(PODS, "default", pod["metadata"]["name"])
    stored = await world.store.get(key)
    stored = copy.deepcopy(stored)
    stored["spec"]["nodeName"] = "b"
    status = lifecycle.failed_status(stored, "2026-01-01T00:00:00Z")
    await world.store.update(key, dict(stored, status=status), status_only=True)


async def exit_with(world: Batch, pod: Obj, code: int, container: str = "c") -> None:
    key = ResourceKey(PODS, "default", pod["metadata"]["name"])
    stored = await world.store.get(key)
    terminated = {"exitCode": code, "finishedAt": "2026-01-01T00:00:00Z"}
    status = {
        "phase": "Failed",
        "containerStatuses": [{"name": container, "state": {"terminated": terminated}}],
    }
    await world.store.update(key, dict(stored, status=status), status_only=True)


async def test_a_pod_of_a_lost_node_is_ignored_and_replaced_at_once(world: Batch) -> None:
    await world.create_job(
        job_obj(backoffLimit=0, podFailurePolicy=policy({"action": "Ignore", **DISRUPTED}))
    )
    await world.sync()
    [first] = await world.pods()
    await lose_node(world, first)
    job = await world.sync()
    assert condition(job, "Failed") is None, job["status"]
    assert "failed" not in job["status"]
    pods = await world.pods()
    assert len(pods) == 2  # the replacement, without waiting for a backoff
    [second] = [p for p in pods if p["metadata"]["name"] != first["metadata"]["name"]]
    await world.finish(second, "Succeeded")
    job = await world.sync()
    assert condition(job, "Complete") is not None
    assert "failed" not in job["status"]


async def test_without_a_policy_the_lost_pod_counts(world: Batch) -> None:
    await world.create_job(job_obj(backoffLimit=0))
    await world.sync()
    [first] = await world.pods()
    await lose_node(world, first)
    job = await world.sync()
    assert job["status"]["failed"] == 1
    assert condition(job, "Failed")["reason"] == "BackoffLimitExceeded"  # type: ignore[index]


async def test_fail_job_on_a_disruption(world: Batch) -> None:
    await world.create_job(job_obj(podFailurePolicy=policy({"action": "FailJob", **DISRUPTED})))
    await world.sync()
    [first] = await world.pods()
    await lose_node(world, first)
    job = await world.sync()
    failed = condition(job, "Failed")
    assert failed is not None
    assert failed["reason"] == "PodFailurePolicy"
    assert failed["message"] == (
        f"Pod default/{first['metadata']['name']} has condition DisruptionTarget matching "
        "FailJob rule at index 0"
    )
    assert condition(job, "FailureTarget")["reason"] == "PodFailurePolicy"  # type: ignore[index]
    assert job["status"]["failed"] == 1
    await world.sync()
    assert len(await world.pods()) == 1  # no replacement for a failed Job


async def test_count_counts_against_the_backoff_limit(world: Batch) -> None:
    await world.create_job(
        job_obj(backoffLimit=0, podFailurePolicy=policy({"action": "Count", **DISRUPTED}))
    )
    await world.sync()
    [first] = await world.pods()
    await lose_node(world, first)
    job = await world.sync()
    assert job["status"]["failed"] == 1
    assert condition(job, "Failed")["reason"] == "BackoffLimitExceeded"  # type: ignore[index]


async def test_exit_codes_in_and_not_in_the_first_matching_rule_decides(world: Batch) -> None:
    rules = policy(
        {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [7]}},
        {
            "action": "FailJob",
            "onExitCodes": {"containerName": "c", "operator": "NotIn", "values": [1, 7]},
        },
    )
    await world.create_job(job_obj(backoffLimit=3, podFailurePolicy=rules))
    await world.sync()
    [first] = await world.pods()
    await exit_with(world, first, 7)  # ignored: the first rule
    job = await world.sync()
    assert "failed" not in job["status"]
    [second] = [p for p in await world.pods() if p["status"].get("phase") != "Failed"]
    await exit_with(world, second, 1)  # no rule: counted, the Job goes on
    job = await world.sync()
    assert job["status"]["failed"] == 1
    assert condition(job, "Failed") is None
    world.clock.advance(10)  # the backoff after the counted failure
    await world.sync()
    [third] = [p for p in await world.pods() if p["status"].get("phase") != "Failed"]
    await exit_with(world, third, 2)  # NotIn [1, 7]: FailJob
    job = await world.sync()
    failed = condition(job, "Failed")
    assert failed is not None
    assert failed["message"] == (
        f"Container c for pod default/{third['metadata']['name']} failed with exit code 2 "
        "matching FailJob rule at index 1"
    )
    assert job["status"]["failed"] == 2


async def test_container_name_limits_the_exit_codes_looked_at(world: Batch) -> None:
    rules = policy(
        {
            "action": "FailJob",
            "onExitCodes": {"containerName": "c", "operator": "In", "values": [3]},
        }
    )
    await world.create_job(job_obj(backoffLimit=3, podFailurePolicy=rules))
    await world.sync()
    [first] = await world.pods()
    await exit_with(world, first, 3, container="sidecar")  # another container: no match
    job = await world.sync()
    assert condition(job, "Failed") is None
    assert job["status"]["failed"] == 1
