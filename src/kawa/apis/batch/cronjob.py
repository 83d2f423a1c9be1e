"""The CronJob kind (batch/v1): a Job made on a cron schedule.

``spec.schedule`` is read by the cron parser PingSource uses (:mod:`kawa.apis.cron`) with
Kubernetes' limits: five fields or a descriptor (``@hourly``, ``@every 1h``), no seconds
field, no ``TZ=``/``CRON_TZ=`` prefix (``spec.timeZone`` says the zone, an IANA name). The
defaults are Kubernetes': ``concurrencyPolicy: Allow``, ``suspend: false``,
``successfulJobsHistoryLimit: 3``, ``failedJobsHistoryLimit: 1``. The name may have at most
52 characters (a Job's name adds 11). ``spec.jobTemplate.spec`` is a
:class:`~kawa.apis.batch.job.JobSpec` (its template's ``restartPolicy`` is ``Never`` or
``OnFailure``); the Job defaults apply when a Job is made from it, not in the CronJob.
The status (``active``, ``lastScheduleTime``, ``lastSuccessfulTime``) is the CronJob
controller's; the cells of ``kubectl get cronjobs`` are here too.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator

from kawa.apis import cron, meta
from kawa.apis.batch.job import JobSpec, selector_text, since, template_containers
from kawa.apis.core.pod_spec import TemplateMeta
from kawa.apis.core.references import ObjectReference
from kawa.apis.model.base import STORED, Context, MergeKey, Model, doc
from kawa.apis.model.objects import KubeObject, parse_object
from kawa.apis.model.types import DateTime, Text
from kawa.errors import FieldError

API_VERSION: Final = "batch/v1"
KIND: Final = "CronJob"
MAX_NAME: Final = 52
"""A CronJob's Jobs are named ``<cronjob>-<minutes>``: 63 characters less 11."""

SCHEDULED_TIMESTAMP_ANNOTATION: Final = "batch.kubernetes.io/cronjob-scheduled-timestamp"
INSTANTIATE_ANNOTATION: Final = "cronjob.kubernetes.io/instantiate"


def _schedule(text: str) -> str:
    if text.strip().startswith(("TZ=", "CRON_TZ=")):
        raise ValueError("cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
    if not text.strip().startswith("@") and len(text.split()) != 5:
        raise ValueError(f"expected exactly 5 fields, found {len(text.split())}: {text}")
    try:
        cron.parse_schedule(text)
    except ValueError as exc:
        raise ValueError(str(exc)) from None
    return text


def _time_zone(name: str) -> str:
    if not name:
        raise ValueError("timeZone must be nil or non-empty string")
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name}") from None
    return name


class JobTemplateSpec(Model):
    """The Job a CronJob makes: its labels and annotations, and its spec."""

    metadata: Annotated[
        TemplateMeta | None, doc("Labels and annotations of the Jobs made from the template.")
    ] = None
    spec: Annotated[JobSpec, doc("The spec of the Jobs made from the template.")]


class CronJobSpec(Model):
    """When a CronJob makes Jobs, and which."""

    schedule: Annotated[
        Text,
        AfterValidator(_schedule),
        doc("A cron schedule: 5 fields or a descriptor (@hourly, @every 1h...)."),
    ]
    time_zone: Annotated[
        str | None,
        AfterValidator(_time_zone),
        doc("The IANA time zone the schedule is read in (default: UTC, kawa's clock)."),
    ] = None
    starting_deadline_seconds: Annotated[
        int | None,
        doc("Seconds after its time a missed run may still start (no limit when unset).", ge=0),
    ] = None
    concurrency_policy: Annotated[
        Literal["Allow", "Forbid", "Replace"],
        doc("Whether a run may start while the previous one runs: Allow, Forbid or Replace."),
        STORED,
    ] = "Allow"
    suspend: Annotated[bool, doc("Whether new runs are held back."), STORED] = False
    job_template: Annotated[JobTemplateSpec, doc("The Job made at each run.")]
    successful_jobs_history_limit: Annotated[
        int, doc("Finished successful Jobs kept (default 3).", ge=0), STORED
    ] = 3
    failed_jobs_history_limit: Annotated[
        int, doc("Finished failed Jobs kept (default 1).", ge=0), STORED
    ] = 1


class CronJob(KubeObject):
    """A CronJob makes a Job on a cron schedule."""

    spec: Annotated[CronJobSpec, doc("When the CronJob makes Jobs, and which.")]

    def check(self, ctx: Context) -> Iterable[FieldError]:
        if len(self.name) > MAX_NAME:
            yield FieldError(
                "metadata.name", f"Invalid value: must be no more than {MAX_NAME} characters"
            )


class CronJobStatus(Model):
    """What the CronJob controller observed."""

    active: Annotated[
        list[ObjectReference], doc("The Jobs of the CronJob that are running."), MergeKey("uid")
    ] = []
    last_schedule_time: Annotated[DateTime | None, doc("When a Job was last scheduled.")] = None
    last_successful_time: Annotated[
        DateTime | None, doc("When a Job last completed successfully.")
    ] = None


# -- kubectl get cronjobs -------------------------------------------------------------------------


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _status(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    status = obj.get("status")
    return status if isinstance(status, Mapping) else {}


def _job_spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    template = _spec(obj).get("jobTemplate")
    spec = template.get("spec") if isinstance(template, Mapping) else None
    return spec if isinstance(spec, Mapping) else {}


def time_zone_cell(obj: Mapping[str, Any]) -> str:
    zone = _spec(obj).get("timeZone")
    return zone if isinstance(zone, str) and zone else "<none>"


def active_cell(obj: Mapping[str, Any]) -> int:
    active = _status(obj).get("active")
    return len(active) if isinstance(active, list) else 0


def last_schedule_cell(obj: Mapping[str, Any]) -> str:
    return since(_status(obj).get("lastScheduleTime")) or "<none>"


def containers_cell(obj: Mapping[str, Any]) -> str:
    return ",".join(
        str(c.get("name", "")) for c in template_containers(_job_spec(obj).get("template"))
    )


def images_cell(obj: Mapping[str, Any]) -> str:
    return ",".join(
        str(c.get("image", "")) for c in template_containers(_job_spec(obj).get("template"))
    )


def selector_cell(obj: Mapping[str, Any]) -> str:
    return selector_text(_job_spec(obj).get("selector"))


def parse_cronjob(obj: Mapping[str, Any]) -> CronJob:
    """A CronJob dict defaulted and validated; raises :class:`~kawa.errors.ValidationError`."""
    return parse_object(CronJob, obj, kind=KIND, api_versions=(API_VERSION,), namespaced=True)


def owner_of(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The controller owner reference of ``obj`` naming a CronJob, if it has one."""
    refs = meta.metadata_of(obj).get("ownerReferences")
    for ref in refs if isinstance(refs, list) else ():
        if (
            isinstance(ref, Mapping)
            and ref.get("kind") == KIND
            and str(ref.get("apiVersion", "")).startswith("batch/")
            and ref.get("controller") is True
        ):
            return ref
    return None
