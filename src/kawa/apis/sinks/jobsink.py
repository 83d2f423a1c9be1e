"""The JobSink kind (sinks.knative.dev/v1alpha1): every event it takes starts a Job.

Knative's ``pkg/apis/sinks/v1alpha1/job_sink_*.go``, in kawa's shape:

* ``spec.job`` -- the Job to run for each event (required, as Knative's validation says):
  its ``metadata`` (labels and annotations given to every Job) and its ``spec``, a
  ``batch/v1`` JobSpec held to the Job's own rules at admission (the template's
  ``restartPolicy`` ``Never`` or ``OnFailure``, the Pod's rules...), so that a JobSink whose
  Jobs could never be created is refused with 422 at its field path rather than failing on
  every event. Stored as written (:data:`~kawa.apis.model.base.AS_WRITTEN`): the Job's and
  the Pod's defaults are the Job's, when it is made;
* defaults (Knative's ``SetDefaults``): every container and init container of the template
  gets ``KNATIVE_EXECUTION_MODE=batch`` unless it sets that variable itself.

Status: ``address`` (kawa's URL of the sink and, with authentication-oidc, its audience),
``job.selector`` (the label selector of every Job the sink started:
``sinks.knative.dev/job-sink-name=<name>``), ``policies``, and the conditions
``Addressable`` and ``EventPoliciesReady``, from which ``Ready`` is derived (Knative's
``JobSinkCondSet``). Declared as :data:`kawa.apis.sinks.JOBSINK`; reconciled by
:mod:`kawa.controllers.jobsink`; served by :mod:`kawa.jobsink`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Final

from kawa.apis import duck
from kawa.apis.batch.job import JobSpec
from kawa.apis.conditions import ConditionSet
from kawa.apis.core.pod_spec import PodSpec, PodTemplateSpec, TemplateMeta
from kawa.apis.model.base import AS_WRITTEN, Context, Model, doc
from kawa.apis.model.objects import KubeObject, parse_object

GROUP: Final = "sinks.knative.dev"
API_VERSION: Final = "sinks.knative.dev/v1alpha1"
KIND: Final = "JobSink"

EXECUTION_MODE_ENV: Final = "KNATIVE_EXECUTION_MODE"
"""Knative's ``ExecutionModeEnvVar``: what a container learns it runs as a batch Job."""
EXECUTION_MODE_BATCH: Final = "batch"

NAME_LABEL: Final = "sinks.knative.dev/job-sink-name"
"""Knative's label of a JobSink's Jobs and Secrets: the JobSink's name."""
ID_LABEL: Final = "sinks.knative.dev/job-sink-id"
"""Knative's label of a JobSink's Jobs and Secrets: which event (a hash of source and id)."""

EVENT_VOLUME: Final = "jobsink-event"
"""The volume of a Job's Pod that holds its event (Knative's name)."""
EVENT_MOUNT_PATH: Final = "/etc/jobsink-event"
"""Where a container without its own mount of :data:`EVENT_VOLUME` finds the event."""
EVENT_KEY: Final = "event"
"""The event's key in its Secret: its file name in the volume."""

JOBSINK_CONDITIONS: Final = ConditionSet((duck.ADDRESSABLE, duck.EVENT_POLICIES_READY))


class JobSinkPodSpec(PodSpec):
    """The spec of the Pods of a JobSink's Jobs: a Pod's, whose containers may also mount the
    volume jobsink-event (the event, which the sink adds to each Job) at a path of their own."""

    implied_volumes: ClassVar[frozenset[str]] = frozenset({EVENT_VOLUME})


class JobSinkPodTemplateSpec(PodTemplateSpec):
    """The Pods of a JobSink's Jobs: their labels and annotations, and their spec."""

    spec: Annotated[JobSinkPodSpec, doc("The spec of the Pods made from the template.")]


class JobSinkJobSpec(JobSpec):
    """How a JobSink's Jobs run their Pods (a batch/v1 JobSpec)."""

    template: Annotated[
        JobSinkPodTemplateSpec,
        doc("The Pods the Jobs run (restartPolicy Never or OnFailure)."),
    ]


class JobSinkJob(Model):
    """The Job a JobSink runs for each event: a batch/v1 Job's labels and annotations, and
    its spec (its name is the sink's, per event)."""

    api_version: Annotated[
        str | None, doc("Ignored: the Jobs are batch/v1 (accepted as a Job manifest has it).")
    ] = None
    kind: Annotated[
        str | None, doc("Ignored: the Jobs are Jobs (accepted as a Job manifest has it).")
    ] = None
    metadata: Annotated[
        TemplateMeta | None, doc("Labels and annotations of the Jobs the sink starts.")
    ] = None
    spec: Annotated[JobSinkJobSpec, doc("The spec of the Jobs the sink starts (batch/v1 JobSpec).")]


class JobSinkSpec(Model):
    """The desired state of the JobSink."""

    job: Annotated[
        JobSinkJob,
        doc(
            "The Job to run when an event arrives; the event is mounted in its containers at "
            "/etc/jobsink-event/event (volume jobsink-event), in the JSON format."
        ),
        AS_WRITTEN,
    ]


class JobSink(KubeObject):
    """A JobSink starts a Job for every event it receives."""

    spec: Annotated[JobSinkSpec, doc("The desired state of the JobSink.")]

    @classmethod
    def set_defaults(cls, data: dict[str, Any], ctx: Context) -> None:
        """``KNATIVE_EXECUTION_MODE=batch`` in every container and init container that does
        not set it (Knative's ``setBatchJobDefaults``)."""
        spec = data.get("spec")
        job = spec.get("job") if isinstance(spec, dict) else None
        job_spec = job.get("spec") if isinstance(job, dict) else None
        template = job_spec.get("template") if isinstance(job_spec, dict) else None
        pod = template.get("spec") if isinstance(template, dict) else None
        if isinstance(pod, dict):
            add_execution_mode(pod)


def add_execution_mode(pod: dict[str, Any], name: str = EXECUTION_MODE_ENV) -> None:
    """``name=batch`` in the environment of every container and init container of ``pod``
    (a PodSpec dict, changed in place) that does not set ``name`` itself."""
    for key in ("containers", "initContainers"):
        listed = pod.get(key)
        for container in listed if isinstance(listed, list) else ():
            if not isinstance(container, dict):
                continue
            env = container.get("env")
            if env is None:
                env = container["env"] = []
            if not isinstance(env, list):
                continue  # validation says why
            if any(isinstance(e, Mapping) and e.get("name") == name for e in env):
                continue
            env.append({"name": name, "value": EXECUTION_MODE_BATCH})


class JobStatus(Model):
    """The Jobs of the JobSink."""

    selector: Annotated[str | None, doc("The label selector of every Job the sink started.")] = None


class JobSinkStatus(duck.Status):
    """The state of the JobSink."""

    address: Annotated[duck.Addressable | None, doc("Where the JobSink receives events.")] = None
    addresses: Annotated[
        list[duck.Addressable] | None,
        doc("Every address (http and https, by transport-encryption)."),
    ] = None
    job: Annotated[JobStatus | None, doc("The Jobs the sink starts.")] = None
    policies: Annotated[
        list[duck.AppliedEventPolicyRef] | None,
        doc("The Ready EventPolicies that apply to the JobSink (authentication-oidc)."),
    ] = None


def parse_jobsink(obj: Mapping[str, Any]) -> JobSink:
    """A JobSink dict defaulted, validated and typed; raises
    :class:`~kawa.errors.ValidationError` listing every problem with its field path."""
    return parse_object(JobSink, obj, kind=KIND, api_versions=(API_VERSION,), namespaced=True)


def job_selector(name: str) -> str:
    """``status.job.selector`` of JobSink ``name``: its Jobs' label."""
    return f"{NAME_LABEL}={name}"
