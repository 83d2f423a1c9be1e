"""The Job controller over a real store with a fake clock: Pods made and counted, completions
and parallelism, backoffLimit, activeDeadlineSeconds, suspend and ttlSecondsAfterFinished."""

from __future__ import annotations

from kawa.apis.batch import job as job_api
from kawa.store.base import Obj, ResourceKey

from .support import JOBS, Batch, condition, job_obj, world

__all__ = ["world"]


async def test_a_job_runs_one_pod_to_completion(world: Batch) -> None:
    created = await world.create_job(job_obj())
    job = await world.sync()
    pods = await world.pods()
    assert len(pods) == 1
    pod = pods[0]
    assert pod["metadata"]["name"] == "hello-p0000"
    assert pod["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": "hello",
            "uid": created["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    labels = pod["metadata"]["labels"]
    assert labels[job_api.CONTROLLER_UID_LABEL] == created["metadata"]["uid"]
    assert labels["job-name"] == "hello"
    assert pod["spec"]["restartPolicy"] == "Never"
    assert job["status"]["active"] == 1
    assert job["status"]["startTime"]
    assert job_api.status_cell(job) == "Running"

    await world.sync()  # nothing new while it runs
    assert len(await world.pods()) == 1

    world.clock.advance(3)
    await world.finish(pod, "Succeeded")
    job = await world.sync()
    status = job["status"]
    assert status["succeeded"] == 1
    assert "active" not in status
    assert condition(job, "Complete") is not None
    assert condition(job, "Complete")["reason"] == "CompletionsReached"  # type: ignore[index]
    assert condition(job, "SuccessCriteriaMet") is not None
    assert status["completionTime"]
    assert job_api.completions_cell(job) == "1/1"
    assert job_api.duration_cell(job) == "3s"
    events = await world.events("hello")
    assert ("Normal", "SuccessfulCreate", "Created pod: hello-p0000") in events
    assert ("Normal", "Completed", "Job completed") in events


async def test_parallel_completions(world: Batch) -> None:
    await world.create_job(job_obj(completions=5, parallelism=2))
    await world.sync()
    assert len(await world.pods()) == 2
    done = 0
    while True:
        running = [p for p in await world.pods() if p["status"]["phase"] == "Pending"]
        assert len(running) <= 2
        if not running:
            break
        await world.finish(running[0], "Succeeded")
        done += 1
        job = await world.sync()
        if done < 5:
            assert job["status"]["succeeded"] == done
            assert job["status"]["active"] == min(2, 5 - done)
    job = await world.job()
    assert job["status"]["succeeded"] == 5
    assert condition(job, "Complete") is not None
    assert len(await world.pods()) == 5


async def test_a_work_queue_ends_when_one_pod_succeeded_and_none_runs(world: Batch) -> None:
    await world.create_job(job_obj(parallelism=3))
    await world.sync()
    pods = await world.pods()
    assert len(pods) == 3
    await world.finish(pods[0], "Succeeded")
    job = await world.sync()
    assert condition(job, "Complete") is None
    assert len(await world.pods()) == 3  # no new Pod once one succeeded
    for pod in pods[1:]:
        await world.finish(pod, "Succeeded")
    job = await world.sync()
    assert condition(job, "Complete") is not None


async def test_failed_pods_beyond_backoff_limit_fail_the_job(world: Batch) -> None:
    await world.create_job(job_obj(backoffLimit=1))
    await world.sync()
    [first] = await world.pods()
    await world.finish(first, "Failed")
    job = await world.sync()
    assert job["status"]["failed"] == 1
    assert len(await world.pods()) == 1  # the replacement waits for the backoff (10 s)
    assert world.requeued[-1][1] > 9
    world.clock.advance(10)
    job = await world.sync()
    pods = await world.pods()
    assert len(pods) == 2
    second = next(p for p in pods if p["metadata"]["name"] != first["metadata"]["name"])
    await world.finish(second, "Failed")
    job = await world.sync()
    failed = condition(job, "Failed")
    assert failed is not None
    assert failed["reason"] == "BackoffLimitExceeded"
    assert failed["message"] == "Job has reached the specified backoff limit"
    assert condition(job, "FailureTarget") is not None
    assert job["status"]["failed"] == 2
    assert job_api.status_cell(job) == "Failed"
    assert (
        "Warning",
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    ) in await world.events("hello")
    await world.sync()
    assert len(await world.pods()) == 2  # a finished Job makes no more Pods


async def test_restarts_count_against_the_backoff_limit_with_on_failure(world: Batch) -> None:
    await world.create_job(job_obj(backoffLimit=2, restartPolicy="OnFailure"))
    await world.sync()
    [pod] = await world.pods()
    await world.finish(pod, "Running", restarts=1)
    job = await world.sync()
    assert condition(job, "Failed") is None
    await world.finish(pod, "Running", restarts=2)
    job = await world.sync()
    assert condition(job, "Failed")["reason"] == "BackoffLimitExceeded"  # type: ignore[index]
    assert await world.pods() == []  # its running Pod is deleted
    assert job["status"]["failed"] == 1


async def test_active_deadline_fails_the_job(world: Batch) -> None:
    await world.create_job(job_obj(activeDeadlineSeconds=30))
    await world.sync()
    assert world.requeued[-1][1] >= 30
    world.clock.advance(31)
    job = await world.sync()
    failed = condition(job, "Failed")
    assert failed is not None
    assert failed["reason"] == "DeadlineExceeded"
    assert failed["message"] == "Job was active longer than specified deadline"
    assert await world.pods() == []
    assert job["status"]["failed"] == 1
    assert ("Warning", "DeadlineExceeded", failed["message"]) in await world.events("hello")


async def test_suspend_and_resume(world: Batch) -> None:
    await world.create_job(job_obj(suspend=True))
    job = await world.sync()
    assert await world.pods() == []
    assert condition(job, "Suspended")["status"] == "True"  # type: ignore[index]
    assert job_api.status_cell(job) == "Suspended"
    assert "startTime" not in job["status"]
    job["spec"]["suspend"] = False
    await world.store.update(world_key(job), job)
    job = await world.sync()
    assert len(await world.pods()) == 1
    suspended = condition(job, "Suspended")
    assert suspended is not None
    assert (suspended["status"], suspended["reason"]) == ("False", "JobResumed")
    assert job["status"]["startTime"]


async def test_ttl_after_finished_deletes_the_job_and_its_pods(world: Batch) -> None:
    await world.create_job(job_obj(ttlSecondsAfterFinished=60))
    await world.sync()
    [pod] = await world.pods()
    await world.finish(pod, "Succeeded")
    await world.sync()
    assert world.requeued[-1][1] >= 60
    world.clock.advance(30)
    await world.sync()
    assert await world.jobs_listed()
    world.clock.advance(31)
    await world.jobs.reconcile(world_key(await world.job()))
    assert await world.jobs_listed() == []
    assert await world.pods() == []


def world_key(obj: Obj) -> ResourceKey:
    return ResourceKey(JOBS, "default", obj["metadata"]["name"])
