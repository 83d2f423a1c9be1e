"""The batch API group (version ``v1``): Job and CronJob, with the printer columns of
Kubernetes' server-side printers.

:mod:`.job` declares the Job (its spec embeds core's pod template) and :mod:`.cronjob` the
CronJob (its schedule is read by the cron parser PingSource uses, :mod:`kawa.apis.cron`).
What runs them is :mod:`kawa.controllers.batch`. :data:`KINDS` is what the scheme registers.
"""

from __future__ import annotations

from typing import Final

from kawa.apis.batch import cronjob, job
from kawa.apis.kinds import PrinterColumn, ResourceKind

GROUP: Final = job.GROUP
VERSION: Final = "v1"

AGE: Final = PrinterColumn("Age", "date", ".metadata.creationTimestamp")

JOB: Final = ResourceKind(
    group=GROUP,
    versions=(VERSION,),
    kind=job.KIND,
    plural="jobs",
    singular="job",
    namespaced=True,
    model=job.Job,
    status=job.JobStatus,
    categories=("all",),
    printer_columns=(
        PrinterColumn("Status", "string", value=job.status_cell),
        PrinterColumn("Completions", "string", value=job.completions_cell),
        PrinterColumn("Duration", "string", value=job.duration_cell),
        AGE,
        PrinterColumn("Containers", "string", value=job.containers_cell, priority=1),
        PrinterColumn("Images", "string", value=job.images_cell, priority=1),
        PrinterColumn("Selector", "string", value=job.selector_cell, priority=1),
    ),
)

CRONJOB: Final = ResourceKind(
    group=GROUP,
    versions=(VERSION,),
    kind=cronjob.KIND,
    plural="cronjobs",
    singular="cronjob",
    namespaced=True,
    model=cronjob.CronJob,
    status=cronjob.CronJobStatus,
    short_names=("cj",),
    categories=("all",),
    printer_columns=(
        PrinterColumn("Schedule", "string", ".spec.schedule"),
        PrinterColumn("Timezone", "string", value=cronjob.time_zone_cell),
        PrinterColumn("Suspend", "boolean", ".spec.suspend"),
        PrinterColumn("Active", "integer", value=cronjob.active_cell),
        PrinterColumn("Last Schedule", "string", value=cronjob.last_schedule_cell),
        AGE,
        PrinterColumn("Containers", "string", value=cronjob.containers_cell, priority=1),
        PrinterColumn("Images", "string", value=cronjob.images_cell, priority=1),
        PrinterColumn("Selector", "string", value=cronjob.selector_cell, priority=1),
    ),
)

KINDS: Final = (JOB, CRONJOB)
"""The batch/v1 kinds kawa serves."""

__all__ = ["CRONJOB", "GROUP", "JOB", "KINDS", "VERSION"]
