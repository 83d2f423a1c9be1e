"""The CronJob controller: makes a Job at each time of a CronJob's schedule, as Kubernetes'
cronjob controller (v2) does.

For each CronJob:

- **status**: ``active`` lists the Jobs it controls that have not finished (a Job made by
  ``kubectl create job --from=cronjob/x`` too: kubectl makes the CronJob its controller);
  a Job seen finished leaves it (Event ``SawCompletedJob``) and a complete one moves
  ``lastSuccessfulTime``;
- **history**: finished Jobs beyond ``successfulJobsHistoryLimit`` /
  ``failedJobsHistoryLimit`` are deleted, oldest first (``SuccessfulDelete``);
- **schedule**: the most recent time of the schedule (on ``timeZone``'s wall clock, UTC when
  unset) after ``lastScheduleTime`` (or the CronJob's creation) that is not past, and not
  older than ``startingDeadlineSeconds`` when set (older ones are missed: ``MissSchedule``);
  more than 100 missed times give ``TooManyMissedTimes`` and only the latest runs. Unless
  ``suspend``: with ``concurrencyPolicy: Forbid`` and a Job active, nothing starts
  (``JobAlreadyActive``; it starts once the Job is done, if still in time); ``Replace``
  deletes the active Jobs first; then the Job ``<cronjob>-<minutes since the epoch>`` is
  created from ``jobTemplate`` with the annotation
  ``batch.kubernetes.io/cronjob-scheduled-timestamp`` (``SuccessfulCreate``) and
  ``lastScheduleTime`` set;
- the controller asks to be called again at the next time of the schedule.

Time comes from the injected clock. Jobs it deletes go with their Pods (see
:meth:`~kawa.controllers.batch.job.JobReconciler.delete_job`).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Any, Final

from kawa import cron as firing
from kawa.apis import batch, cron, meta
from kawa.apis.batch import cronjob as cronjob_api
from kawa.apis.batch import job as job_api
from kawa.apis.conditions import Clock, format_time
from kawa.controllers.batch import pods as job_pods
from kawa.errors import AlreadyExistsError, NotFoundError, ValidationError
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.loop import Requeue
from kawa.reconciler.status import write_status
from kawa.store.base import Obj, ResourceKey, ResourceStore

log = logging.getLogger(__name__)

CRONJOBS: Final = batch.CRONJOB.resource
JOBS: Final = batch.JOB.resource
MAX_MISSED: Final = 100

DeleteJob = Callable[[ResourceKey, Mapping[str, Any]], Awaitable[None]]


def job_name(cronjob: str, scheduled: datetime) -> str:
    """``<cronjob>-<minutes since the epoch>`` of the scheduled time."""
    return f"{cronjob}-{int(scheduled.timestamp()) // 60}"


def rfc3339(moment: datetime) -> str:
    """Go's ``time.RFC3339`` of ``moment`` in its own zone (``Z`` for UTC)."""
    text = moment.replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def most_recent(
    schedule: cron.CronSchedule, tz: tzinfo, earliest: datetime, now: datetime
) -> tuple[datetime | None, int]:
    """The latest time of ``schedule`` in ``(earliest, now]`` and how many there are (counted
    up to :data:`MAX_MISSED` + 1)."""
    latest: datetime | None = None
    count = 0
    for tick in firing.ticks_between(schedule, tz, earliest, now):
        latest, count = tick, count + 1
        if count > MAX_MISSED:
            break
    if count <= MAX_MISSED:
        return latest, count
    # too many: find the last one before now by looking back further and further
    step = timedelta(minutes=1)
    while True:
        start = max(earliest, now - step)
        found = None
        for tick in firing.ticks_between(schedule, tz, start, now):
            found = tick
        if found is not None or start == earliest:
            return found, count
        step *= 4


class CronJobReconciler:
    """Reconciles one CronJob at a time (see the module docstring)."""

    def __init__(
        self,
        store: ResourceStore,
        clock: Clock,
        recorder: EventRecorder,
        delete_job: DeleteJob,
        requeue: Requeue | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.recorder = recorder
        self.delete_job = delete_job
        self.requeue = requeue

    async def owned_jobs(self, cronjob: Mapping[str, Any]) -> list[Obj]:
        uid = meta.metadata_of(cronjob).get("uid")
        listed = await self.store.list(JOBS, meta.namespace_of(cronjob))
        return [
            j
            for j in listed.items
            if (ref := job_pods.controller_of(j, cronjob_api.KIND)) is not None
            and ref.get("uid") == uid
        ]

    async def reconcile(self, key: ResourceKey) -> None:
        try:
            obj = await self.store.get(key)
        except NotFoundError:
            return  # its Jobs are the garbage collector's (ownerReferences)
        if meta.metadata_of(obj).get("deletionTimestamp"):
            return
        try:
            cj = cronjob_api.parse_cronjob(obj)
        except ValidationError as err:
            log.warning("cronjob %s is invalid: %s", key, err)
            return
        stored = obj.get("status")
        status: dict[str, Any] = copy.deepcopy(stored) if isinstance(stored, dict) else {}
        jobs = await self.owned_jobs(obj)
        await self._track(obj, status, jobs)
        jobs = await self._clean_history(obj, cj.spec, jobs)
        await self._schedule(key, obj, status, cj.spec)
        if not status.get("active"):
            status.pop("active", None)
        await write_status(self.store, key, obj, status)

    async def _track(self, obj: Obj, status: dict[str, Any], jobs: list[Obj]) -> None:
        by_uid = {meta.metadata_of(j).get("uid"): j for j in jobs}
        active: list[dict[str, Any]] = []
        for ref in status.get("active") or ():
            job = by_uid.get(ref.get("uid")) if isinstance(ref, Mapping) else None
            if job is None:
                name = ref.get("name") if isinstance(ref, Mapping) else "?"
                await self.recorder.record(
                    obj, "Normal", "MissingJob", f"Active job went missing: {name}"
                )
                continue
            if not job_api.finished(job):
                active.append(dict(ref))
        listed = {r["uid"] for r in active}
        for job in jobs:
            uid = meta.metadata_of(job).get("uid")
            if job_api.finished(job):
                was_active = any(
                    isinstance(r, Mapping) and r.get("uid") == uid
                    for r in status.get("active") or ()
                )
                if was_active:
                    state = "Complete" if job_api.condition_true(job, "Complete") else "Failed"
                    name = meta.metadata_of(job).get("name")
                    await self.recorder.record(
                        obj,
                        "Normal",
                        "SawCompletedJob",
                        f"Saw completed job: {name}, status: {state}",
                    )
                if job_api.condition_true(job, job_api.COMPLETE):
                    done = (job.get("status") or {}).get("completionTime")
                    if isinstance(done, str) and done > str(status.get("lastSuccessfulTime") or ""):
                        status["lastSuccessfulTime"] = done
            elif uid not in listed:
                active.append(_reference(job))
                listed.add(uid)
        status["active"] = active

    async def _clean_history(
        self, obj: Obj, spec: cronjob_api.CronJobSpec, jobs: list[Obj]
    ) -> list[Obj]:
        kept = list(jobs)
        for type_, limit in (
            (job_api.COMPLETE, spec.successful_jobs_history_limit),
            (job_api.FAILED, spec.failed_jobs_history_limit),
        ):
            done = sorted((j for j in jobs if job_api.condition_true(j, type_)), key=_started)
            for job in done[: max(0, len(done) - limit)]:
                name = str(meta.metadata_of(job).get("name", ""))
                await self.delete_job(ResourceKey(JOBS, meta.namespace_of(obj), name), job)
                await self.recorder.record(obj, "Normal", "SuccessfulDelete", f"Deleted job {name}")
                kept.remove(job)
        return kept

    async def _schedule(
        self, key: ResourceKey, obj: Obj, status: dict[str, Any], spec: cronjob_api.CronJobSpec
    ) -> None:
        now = self.clock()
        schedule = cron.parse_schedule(spec.schedule)
        tz = firing.zone(spec.time_zone or "")
        self._requeue_at(key, firing.next_tick(schedule, tz, now), now)
        if spec.suspend:
            return
        created = job_api.parse_time(meta.metadata_of(obj).get("creationTimestamp")) or now
        earliest = job_api.parse_time(status.get("lastScheduleTime")) or created
        if spec.starting_deadline_seconds is not None:
            earliest = max(earliest, now - timedelta(seconds=spec.starting_deadline_seconds))
        scheduled, missed = most_recent(schedule, tz, earliest, now)
        if scheduled is None:
            return
        if missed > MAX_MISSED:
            await self.recorder.record(
                obj,
                "Warning",
                "TooManyMissedTimes",
                "too many missed start times: > 100. Set or decrease .spec.startingDeadlineSeconds "
                "or check clock skew",
            )
        deadline = spec.starting_deadline_seconds
        if deadline is not None and scheduled + timedelta(seconds=deadline) < now:
            await self.recorder.record(
                obj,
                "Warning",
                "MissSchedule",
                f"Missed scheduled time to start a job: {rfc3339(scheduled.astimezone(tz))}",
            )
            return
        name = job_name(key.name, scheduled)
        if any(r.get("name") == name for r in status.get("active") or ()):
            return
        if spec.concurrency_policy == "Forbid" and status.get("active"):
            await self.recorder.record(
                obj,
                "Normal",
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy "
                "is Forbid",
            )
            return
        if spec.concurrency_policy == "Replace":
            for ref in list(status.get("active") or ()):
                job_key = ResourceKey(JOBS, key.namespace, str(ref.get("name")))
                try:
                    job = await self.store.get(job_key)
                except NotFoundError:
                    continue
                await self.delete_job(job_key, job)
                await self.recorder.record(
                    obj, "Normal", "SuccessfulDelete", f"Deleted job {ref.get('name')}"
                )
            status["active"] = []
        job = self._job(obj, spec, name, scheduled.astimezone(tz))
        try:
            job_api.parse_job(job)
        except ValidationError as err:
            await self.recorder.record(obj, "Warning", "FailedCreate", f"Error creating job: {err}")
            return
        try:
            made = await self.store.create(
                ResourceKey(JOBS, key.namespace, name), job, uid=job["metadata"]["uid"]
            )
        except AlreadyExistsError:
            made = await self.store.get(ResourceKey(JOBS, key.namespace, name))
            if (job_pods.controller_of(made, cronjob_api.KIND) or {}).get(
                "uid"
            ) != meta.metadata_of(obj).get("uid"):
                return
        else:
            await self.recorder.record(obj, "Normal", "SuccessfulCreate", f"Created job {name}")
        status.setdefault("active", []).append(_reference(made))
        status["lastScheduleTime"] = format_time(scheduled)

    def _job(
        self, obj: Obj, spec: cronjob_api.CronJobSpec, name: str, scheduled: datetime
    ) -> meta.Object:
        template = spec.job_template
        labels = dict((template.metadata.labels if template.metadata else None) or {})
        annotations = dict((template.metadata.annotations if template.metadata else None) or {})
        annotations[cronjob_api.SCHEDULED_TIMESTAMP_ANNOTATION] = rfc3339(scheduled)
        metadata: dict[str, Any] = {
            "name": name,
            "namespace": meta.namespace_of(obj),
            "annotations": annotations,
            "ownerReferences": [
                job_pods.owner_reference(obj, cronjob_api.API_VERSION, cronjob_api.KIND)
            ],
        }
        if labels:
            metadata["labels"] = labels
        raw_spec = (obj.get("spec") or {}).get("jobTemplate", {}).get("spec", {})
        job = {
            "apiVersion": job_api.API_VERSION,
            "kind": job_api.KIND,
            "metadata": metadata,
            "spec": copy.deepcopy(raw_spec),
        }
        return job_api.default_job(job)

    def _requeue_at(self, key: ResourceKey, when: datetime, now: datetime) -> None:
        if self.requeue is not None:
            self.requeue(key, max(0.0, (when - now).total_seconds()) + 0.1)


def _reference(job: Mapping[str, Any]) -> dict[str, Any]:
    metadata = meta.metadata_of(job)
    return {
        "apiVersion": job_api.API_VERSION,
        "kind": job_api.KIND,
        "name": str(metadata.get("name", "")),
        "namespace": meta.namespace_of(job),
        "uid": str(metadata.get("uid", "")),
        "resourceVersion": str(metadata.get("resourceVersion", "")),
    }


def _started(job: Mapping[str, Any]) -> str:
    status = job.get("status")
    start = status.get("startTime") if isinstance(status, Mapping) else None
    return str(start or meta.metadata_of(job).get("creationTimestamp") or "")
