"""The batch controllers: Jobs run their Pods (:mod:`.job`), CronJobs make Jobs on a schedule
(:mod:`.cronjob`). :func:`batch_controllers` builds both for :mod:`kawa.runtime`; kawa's
kubelet runs the Pods. How they behave is in ``docs/jobs.md``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from kawa.apis.conditions import Clock, system_clock
from kawa.apis.meta import namespace_of
from kawa.controllers.batch import pods as job_pods
from kawa.controllers.batch.cronjob import CRONJOBS, CronJobReconciler
from kawa.controllers.batch.job import JOBS, PODS, JobReconciler
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.loop import Controller, LateRequeue, Watch, own
from kawa.store.base import ResourceKey, ResourceStore, WatchEvent

__all__ = ["CRONJOBS", "JOBS", "batch_controllers"]

RESYNC: Final = 30.0


def _owner(kind: str, resource: str) -> Watch:
    """A change of an object concerns the batch object of ``kind`` that controls it."""

    async def keys(event: WatchEvent) -> Iterable[ResourceKey]:
        ref = job_pods.controller_of(event.object, kind)
        if ref is None:
            return []
        return [ResourceKey(resource, namespace_of(event.object), str(ref.get("name")))]

    return Watch(PODS if kind == "Job" else JOBS, keys)


def batch_controllers(store: ResourceStore, *, clock: Clock = system_clock) -> list[Controller]:
    """The Job and CronJob controllers, ready to ``run()``."""
    requeue_job, requeue_cronjob = LateRequeue(), LateRequeue()
    jobs = JobReconciler(
        store, clock, EventRecorder(store, "job-controller", clock=clock), requeue_job
    )
    cronjobs = CronJobReconciler(
        store,
        clock,
        EventRecorder(store, "cronjob-controller", clock=clock),
        jobs.delete_job,
        requeue_cronjob,
    )
    requeue_job.controller = Controller(
        "job", store, jobs.reconcile, [own(JOBS), _owner("Job", JOBS)], resync=RESYNC
    )
    requeue_cronjob.controller = Controller(
        "cronjob",
        store,
        cronjobs.reconcile,
        [own(CRONJOBS), _owner("CronJob", CRONJOBS)],
        resync=RESYNC,
    )
    return [requeue_job.controller, requeue_cronjob.controller]
