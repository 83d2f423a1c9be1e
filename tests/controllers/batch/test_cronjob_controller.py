"""The CronJob controller over a real store with a fake clock: a Job per schedule time,
status, concurrency policies, history limits, suspend and missed starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kawa.apis.batch import cronjob as cronjob_api
from kawa.apis.batch import job as job_api
from kawa.apis.conditions import format_time
from kawa.controllers.batch.cronjob import job_name, most_recent
from kawa.store.base import Obj, ResourceKey

from .support import JOBS, Batch, cronjob_obj, world

__all__ = ["world"]


def next_five(world: Batch) -> datetime:
    """Move the fake clock just past the next multiple of five minutes; returns it."""
    now = world.clock()
    boundary = now.replace(second=0, microsecond=0) + timedelta(minutes=5 - now.minute % 5)
    world.clock.now = boundary + timedelta(seconds=2)
    return boundary


async def finish_job(world: Batch, job: Obj, type_: str) -> None:
    stamp = format_time(world.clock())
    status = {
        "conditions": [{"type": type_, "status": "True"}],
        "startTime": job["metadata"]["creationTimestamp"],
    }
    if type_ == "Complete":
        status["completionTime"] = stamp
    key = ResourceKey(JOBS, "default", job["metadata"]["name"])
    fresh = await world.store.get(key)
    await world.store.update(key, dict(fresh, status=status), status_only=True)


async def test_a_job_at_each_schedule_time(world: Batch) -> None:
    created = await world.create_cronjob(cronjob_obj())
    cj = await world.sync_cronjob()
    assert await world.jobs_listed() == []  # nothing before the first time
    assert world.requeued[-1][1] <= 300.2
    tick = next_five(world)
    cj = await world.sync_cronjob()
    [job] = await world.jobs_listed()
    assert job["metadata"]["name"] == f"tick-{int(tick.timestamp()) // 60}"
    annotations = job["metadata"]["annotations"]
    assert annotations[cronjob_api.SCHEDULED_TIMESTAMP_ANNOTATION] == tick.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert job["metadata"]["labels"] == {"team": "a"}
    assert job["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "name": "tick",
            "uid": created["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    # a Job as the API server would have stored it: defaults and a generated selector
    assert job["spec"]["backoffLimit"] == 6
    assert job["spec"]["selector"]["matchLabels"] == {
        job_api.CONTROLLER_UID_LABEL: job["metadata"]["uid"]
    }
    assert cj["status"]["lastScheduleTime"] == format_time(tick)
    assert [r["name"] for r in cj["status"]["active"]] == [job["metadata"]["name"]]
    assert cronjob_api.active_cell(cj) == 1
    assert ("Normal", "SuccessfulCreate", f"Created job {job['metadata']['name']}") in (
        await world.events("tick")
    )
    await world.sync_cronjob()  # the same time does not make a second Job
    assert len(await world.jobs_listed()) == 1

    await finish_job(world, job, "Complete")
    cj = await world.sync_cronjob()
    assert "active" not in cj["status"]
    assert cj["status"]["lastSuccessfulTime"]
    assert any(reason == "SawCompletedJob" for _, reason, _ in await world.events("tick"))


async def test_forbid_waits_for_the_running_job(world: Batch) -> None:
    await world.create_cronjob(cronjob_obj(concurrencyPolicy="Forbid"))
    next_five(world)
    await world.sync_cronjob()
    [first] = await world.jobs_listed()
    next_five(world)
    cj = await world.sync_cronjob()
    assert len(await world.jobs_listed()) == 1
    assert any(reason == "JobAlreadyActive" for _, reason, _ in await world.events("tick"))
    await finish_job(world, first, "Complete")
    cj = await world.sync_cronjob()  # the held-back time starts now
    assert len(await world.jobs_listed()) == 2
    assert len(cj["status"]["active"]) == 1


async def test_replace_deletes_the_running_job(world: Batch) -> None:
    await world.create_cronjob(cronjob_obj(concurrencyPolicy="Replace"))
    next_five(world)
    await world.sync_cronjob()
    [first] = await world.jobs_listed()
    await world.sync(first["metadata"]["name"])  # its Pod runs
    assert len(await world.pods(first["metadata"]["name"])) == 1
    next_five(world)
    cj = await world.sync_cronjob()
    [second] = await world.jobs_listed()
    assert second["metadata"]["name"] != first["metadata"]["name"]
    assert [r["name"] for r in cj["status"]["active"]] == [second["metadata"]["name"]]
    assert await world.pods(first["metadata"]["name"]) == []


async def test_allow_runs_jobs_side_by_side(world: Batch) -> None:
    await world.create_cronjob(cronjob_obj())
    next_five(world)
    await world.sync_cronjob()
    next_five(world)
    cj = await world.sync_cronjob()
    assert len(cj["status"]["active"]) == 2


async def test_history_limits(world: Batch) -> None:
    await world.create_cronjob(cronjob_obj(successfulJobsHistoryLimit=1, failedJobsHistoryLimit=0))
    names = []
    for outcome in ("Complete", "Complete", "Failed"):
        next_five(world)
        await world.sync_cronjob()
        job = max(await world.jobs_listed(), key=lambda j: j["metadata"]["name"])
        names.append(job["metadata"]["name"])
        await finish_job(world, job, outcome)
        await world.sync_cronjob()
    assert [j["metadata"]["name"] for j in await world.jobs_listed()] == [names[1]]
    assert ("Normal", "SuccessfulDelete", f"Deleted job {names[0]}") in await world.events("tick")


async def test_suspend_holds_new_jobs(world: Batch) -> None:
    await world.create_cronjob(cronjob_obj(suspend=True))
    next_five(world)
    await world.sync_cronjob()
    assert await world.jobs_listed() == []


async def test_missed_start_beyond_the_starting_deadline(world: Batch) -> None:
    await world.create_cronjob(cronjob_obj(startingDeadlineSeconds=60))
    next_five(world)
    world.clock.advance(120)  # the controller comes 2 minutes late: too late to start
    cj = await world.sync_cronjob()
    assert await world.jobs_listed() == []
    assert "lastScheduleTime" not in cj["status"]
    # within the deadline a late start still happens
    tick = next_five(world)
    world.clock.advance(30)
    cj = await world.sync_cronjob()
    assert [j["metadata"]["name"] for j in await world.jobs_listed()] == [job_name("tick", tick)]


async def test_a_manual_job_from_the_cronjob_is_active(world: Batch) -> None:
    cj = await world.create_cronjob(cronjob_obj())
    # what kubectl create job --from=cronjob/tick sends
    manual = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "by-hand",
            "namespace": "default",
            "annotations": {cronjob_api.INSTANTIATE_ANNOTATION: "manual"},
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "CronJob",
                    "name": "tick",
                    "uid": cj["metadata"]["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": cj["spec"]["jobTemplate"]["spec"],
    }
    await world.create_job(manual)
    cj = await world.sync_cronjob()
    assert [r["name"] for r in cj["status"]["active"]] == ["by-hand"]


def test_most_recent_skips_to_the_latest_of_many_missed_times() -> None:
    from kawa import cron as firing
    from kawa.apis import cron

    every_minute = cron.parse_schedule("* * * * *")
    start = datetime(2024, 1, 1, tzinfo=UTC)
    latest, count = most_recent(every_minute, UTC, start, start + timedelta(minutes=3, seconds=5))
    assert (latest, count) == (start + timedelta(minutes=3), 3)
    latest, count = most_recent(every_minute, UTC, start, start + timedelta(days=3, seconds=5))
    assert latest == start + timedelta(days=3)
    assert count > 100
    paris = firing.zone("Europe/Paris")
    nine = cron.parse_schedule("0 9 * * *")
    latest, _ = most_recent(nine, paris, start, start + timedelta(hours=12))
    assert latest == datetime(2024, 1, 1, 8, 0, tzinfo=UTC)


async def test_a_template_that_makes_no_valid_job_is_reported(world: Batch) -> None:
    obj = cronjob_obj()
    # a template label that contradicts the generated selector
    obj["spec"]["jobTemplate"]["spec"]["template"]["metadata"] = {
        "labels": {"batch.kubernetes.io/controller-uid": "someone-else"}
    }
    await world.create_cronjob(obj)
    next_five(world)
    await world.sync_cronjob()
    assert await world.jobs_listed() == []
    assert any(
        (kind, reason) == ("Warning", "FailedCreate")
        for kind, reason, _ in await world.events("tick")
    )
