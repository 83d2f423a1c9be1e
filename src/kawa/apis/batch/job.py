"""The Job kind (batch/v1): Pods run to completion, declared once with its defaults and rules.

The spec embeds core's :class:`~kawa.apis.core.pod_spec.PodTemplateSpec` (so the template is
defaulted and checked as a Pod is) with Kubernetes' Job rules on top:

- defaults (:meth:`Job.set_defaults`, as Kubernetes' ``SetDefaults_Job`` and the Job
  strategy's ``PrepareForCreate``): ``completions`` and ``parallelism`` 1 when both are unset
  (``parallelism`` 1 when only it is), ``backoffLimit`` 6, ``completionMode: NonIndexed``,
  ``suspend: false``, ``podReplacementPolicy: TerminatingOrFailed``; unless
  ``manualSelector`` is true, the selector is generated: the template gets the labels
  ``batch.kubernetes.io/controller-uid`` (and the legacy ``controller-uid``) with the Job's
  uid and ``batch.kubernetes.io/job-name`` (and ``job-name``) with its name, and the selector
  matches the uid label. The API server knows the uid before admission, so this happens
  when the Job is created;
- rules: the template's ``restartPolicy`` is ``Never`` or ``OnFailure``; the selector exists
  and matches the template's labels; a generated selector names the Job's own uid; the
  template, selector, ``completions`` and ``completionMode`` are immutable. Only
  ``NonIndexed`` Jobs are run (``Indexed`` is refused).

The status (:class:`JobStatus`) is what the Job controller writes; its conditions and the
cells of ``kubectl get jobs`` are here too. CronJobs embed :class:`JobSpec` as their template.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from kawa.apis import meta
from kawa.apis.batch.pod_failure_policy import PodFailurePolicy
from kawa.apis.core.pod_spec import PodTemplateSpec
from kawa.apis.label_selector import LabelSelector
from kawa.apis.model.base import Context, Immutable, MergeKey, Model, RawChecked, doc
from kawa.apis.model.objects import KubeObject, default_object, parse_object
from kawa.apis.model.types import DateTime
from kawa.errors import FieldError

GROUP: Final = "batch"
API_VERSION: Final = "batch/v1"
KIND: Final = "Job"

CONTROLLER_UID_LABEL: Final = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL: Final = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID_LABEL: Final = "controller-uid"
LEGACY_JOB_NAME_LABEL: Final = "job-name"

DEFAULT_BACKOFF_LIMIT: Final = 6

# condition types and reasons (Kubernetes' batch/v1 names)
COMPLETE: Final = "Complete"
FAILED: Final = "Failed"
SUSPENDED: Final = "Suspended"
FAILURE_TARGET: Final = "FailureTarget"
SUCCESS_CRITERIA_MET: Final = "SuccessCriteriaMet"
BACKOFF_LIMIT_EXCEEDED: Final = "BackoffLimitExceeded"
DEADLINE_EXCEEDED: Final = "DeadlineExceeded"
COMPLETIONS_REACHED: Final = "CompletionsReached"
JOB_SUSPENDED: Final = "JobSuspended"
JOB_RESUMED: Final = "JobResumed"

_IMMUTABLE_HINT: Final = "delete the Job and create it again"


class JobSpec(RawChecked):
    """How a Job runs its Pods."""

    parallelism: Annotated[
        int | None,
        doc("The most Pods the Job runs at once (default 1; 0 pauses it).", ge=0),
    ] = None
    completions: Annotated[
        int | None,
        doc(
            "How many Pods must succeed (default 1 when parallelism is unset too; unset: "
            "the Job is done when any Pod succeeds and none runs).",
            ge=0,
        ),
        Immutable(_IMMUTABLE_HINT),
    ] = None
    active_deadline_seconds: Annotated[
        int | None,
        doc("Seconds the Job may be active before it is failed (DeadlineExceeded).", ge=1),
    ] = None
    backoff_limit: Annotated[
        int | None, doc("Retries before the Job is failed (default 6).", ge=0)
    ] = None
    selector: Annotated[
        LabelSelector | None,
        doc("The Pods of the Job (generated unless manualSelector is true)."),
        Immutable(_IMMUTABLE_HINT),
    ] = None
    manual_selector: Annotated[
        bool | None,
        doc("Whether the selector is written by hand instead of generated (rarely needed)."),
    ] = None
    template: Annotated[
        PodTemplateSpec,
        doc("The Pods the Job runs (restartPolicy Never or OnFailure)."),
        Immutable(_IMMUTABLE_HINT),
    ]
    ttl_seconds_after_finished: Annotated[
        int | None,
        doc("Seconds after the Job finishes before it is deleted with its Pods.", ge=0),
    ] = None
    completion_mode: Annotated[
        Literal["NonIndexed", "Indexed"] | None,
        doc("NonIndexed (the default): any completions successful Pods complete the Job."),
        Immutable(_IMMUTABLE_HINT),
    ] = None
    suspend: Annotated[
        bool | None, doc("Whether the Job is suspended: its running Pods are stopped.")
    ] = None
    pod_replacement_policy: Annotated[
        Literal["TerminatingOrFailed", "Failed"] | None,
        doc("When a replacement Pod is created (default TerminatingOrFailed)."),
    ] = None
    pod_failure_policy: Annotated[
        PodFailurePolicy | None,
        doc(
            "What a failed Pod means for the Job: rules on exit codes or Pod conditions that "
            "fail the Job, ignore the failure or count it (restartPolicy Never only)."
        ),
    ] = None

    @classmethod
    def check_raw(cls, data: Mapping[str, Any]) -> Iterable[FieldError]:
        """The template's restart policy (reported with the type errors, as Kubernetes
        validates a Job in one pass) and the completion modes kawa runs."""
        template = data.get("template")
        pod = template.get("spec") if isinstance(template, Mapping) else None
        policy = pod.get("restartPolicy", "Always") if isinstance(pod, Mapping) else None
        if isinstance(policy, str) and policy not in ("OnFailure", "Never"):
            yield FieldError(
                "template.spec.restartPolicy",
                f'Unsupported value: "{policy}": supported values: "OnFailure", "Never"',
            )
        if "podFailurePolicy" in data and isinstance(policy, str) and policy != "Never":
            yield FieldError(
                "template.spec.restartPolicy",
                f'Invalid value: "{policy}": only "Never" is supported when podFailurePolicy '
                "is specified",
            )
        yield from _container_names(data.get("podFailurePolicy"), pod)
        if data.get("completionMode") == "Indexed":
            yield FieldError(
                "completionMode",
                'Unsupported value: "Indexed": kawa runs NonIndexed Jobs only',
            )

    @property
    def effective_backoff_limit(self) -> int:
        return DEFAULT_BACKOFF_LIMIT if self.backoff_limit is None else self.backoff_limit

    @property
    def effective_parallelism(self) -> int:
        return 1 if self.parallelism is None else self.parallelism


def _container_names(policy: Any, pod: Any) -> Iterable[FieldError]:
    """The ``onExitCodes.containerName`` of each rule names a container of the template."""
    rules = policy.get("rules") if isinstance(policy, Mapping) else None
    if not isinstance(rules, list) or not isinstance(pod, Mapping):
        return
    names = set()
    for key in ("containers", "initContainers"):
        listed = pod.get(key)
        for c in listed if isinstance(listed, list) else ():
            if isinstance(c, Mapping):
                names.add(c.get("name"))
    for i, rule in enumerate(rules):
        codes = rule.get("onExitCodes") if isinstance(rule, Mapping) else None
        name = codes.get("containerName") if isinstance(codes, Mapping) else None
        if isinstance(name, str) and name not in names:
            yield FieldError(
                f"podFailurePolicy.rules[{i}].onExitCodes.containerName",
                f'Invalid value: "{name}": must be one of the container or initContainer names '
                "in the pod template",
            )


def _template_labels(spec: dict[str, Any]) -> dict[str, Any]:
    template = spec.get("template")
    if not isinstance(template, dict):
        return {}
    metadata = template.get("metadata")
    if not isinstance(metadata, dict):
        metadata = template["metadata"] = {}
    labels = metadata.get("labels")
    if not isinstance(labels, dict):
        labels = metadata["labels"] = {}
    return labels


def default_job_spec(spec: dict[str, Any]) -> None:
    """Kubernetes' ``SetDefaults_Job`` on a Job's spec (in place)."""
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    for key, value in (
        ("parallelism", 1),
        ("backoffLimit", DEFAULT_BACKOFF_LIMIT),
        ("completionMode", "NonIndexed"),
        ("suspend", False),
        ("podReplacementPolicy", "TerminatingOrFailed"),
    ):
        if spec.get(key) is None:
            spec[key] = value


def generate_selector(spec: dict[str, Any], name: str, uid: str) -> None:
    """The Job strategy's generated selector: template labels for the Job's name and uid
    (labels already there are left for the rules to judge) and a selector on the uid."""
    labels = _template_labels(spec)
    for key in (LEGACY_JOB_NAME_LABEL, JOB_NAME_LABEL):
        labels.setdefault(key, name)
    for key in (LEGACY_CONTROLLER_UID_LABEL, CONTROLLER_UID_LABEL):
        labels.setdefault(key, uid)
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        selector = spec["selector"] = {}
    match = selector.get("matchLabels")
    if not isinstance(match, dict):
        match = selector["matchLabels"] = {}
    match.setdefault(CONTROLLER_UID_LABEL, uid)


class Job(KubeObject):
    """A Job runs Pods until a number of them succeed (or it fails)."""

    spec: Annotated[JobSpec, doc("How the Job runs its Pods.")]

    @classmethod
    def set_defaults(cls, data: dict[str, Any], ctx: Context) -> None:
        spec = data.get("spec")
        if not isinstance(spec, dict):
            return
        default_job_spec(spec)
        metadata = data.get("metadata")
        uid = metadata.get("uid") if isinstance(metadata, dict) else None
        generated = spec.get("manualSelector") is not True and spec.get("selector") is None
        if generated and isinstance(uid, str) and uid and ctx.name:
            generate_selector(spec, ctx.name, uid)

    def check(self, ctx: Context) -> Iterable[FieldError]:
        spec = self.spec
        template_labels = (spec.template.metadata.labels if spec.template.metadata else None) or {}
        for key, value in template_labels.items():
            # the generated job-name label holds the Job's name: at most 63 characters
            for problem in [*meta.label_key_errors(key), *meta.label_value_errors(value)]:
                yield FieldError(
                    f"spec.template.metadata.labels[{key}]", f'Invalid value: "{value}": {problem}'
                )
        selector = spec.selector
        if selector is None:
            yield FieldError("spec.selector", "Required value")
            return
        labels = dict((spec.template.metadata.labels if spec.template.metadata else None) or {})
        if not selector.match_labels and not selector.match_expressions:
            yield FieldError("spec.selector", "Invalid value: empty selector is invalid for job")
        elif not selector.matches(labels):
            yield FieldError(
                "spec.template.metadata.labels",
                f"Invalid value: {labels}: `selector` does not match template `labels`",
            )
        if spec.manual_selector is not True and self.uid:
            uid_label = selector.match_labels.get(CONTROLLER_UID_LABEL)
            if uid_label != self.uid:
                yield FieldError(
                    "spec.selector",
                    "Invalid value: `selector` not auto-generated "
                    "(set spec.manualSelector: true to write a selector by hand)",
                )
            for key, want in (
                (CONTROLLER_UID_LABEL, self.uid),
                (JOB_NAME_LABEL, self.name),
            ):
                if labels.get(key, want) != want:
                    yield FieldError(
                        f"spec.template.metadata.labels[{key}]",
                        f"Invalid value: \"{labels.get(key)}\": must be '{want}'",
                    )


class JobCondition(Model):
    """A condition of the Job."""

    type: Annotated[
        str, doc("Complete, Failed, Suspended, FailureTarget or SuccessCriteriaMet.")
    ] = ""
    status: Annotated[str, doc("True, False or Unknown.")] = ""
    reason: Annotated[str, doc("A CamelCase reason for the status.")] = ""
    message: Annotated[str, doc("A human-readable explanation.")] = ""
    last_probe_time: Annotated[DateTime | None, doc("When the condition was last probed.")] = None
    last_transition_time: Annotated[DateTime | None, doc("When the status last changed.")] = None


class UncountedTerminatedPods(Model):
    """Pods that finished but are not counted in the status yet."""

    succeeded: Annotated[list[str], doc("UIDs of succeeded Pods.")] = []
    failed: Annotated[list[str], doc("UIDs of failed Pods.")] = []


class JobStatus(Model):
    """What the Job controller observed."""

    conditions: Annotated[list[JobCondition], doc("The Job's conditions."), MergeKey("type")] = []
    start_time: Annotated[DateTime | None, doc("When the Job started running Pods.")] = None
    completion_time: Annotated[DateTime | None, doc("When the Job completed.")] = None
    active: Annotated[int | None, doc("Pods running (pending or running).", ge=0)] = None
    succeeded: Annotated[int | None, doc("Pods that succeeded.", ge=0)] = None
    failed: Annotated[int | None, doc("Pods that failed.", ge=0)] = None
    terminating: Annotated[int | None, doc("Pods being deleted.", ge=0)] = None
    ready: Annotated[int | None, doc("Active Pods that are Ready.", ge=0)] = None
    completed_indexes: Annotated[str, doc("Completed indexes (Indexed Jobs).")] = ""
    failed_indexes: Annotated[str | None, doc("Failed indexes (Indexed Jobs).")] = None
    uncounted_terminated_pods: Annotated[
        UncountedTerminatedPods | None, doc("Finished Pods not counted yet.")
    ] = None


# -- reading a stored Job ------------------------------------------------------------------------


def condition_true(obj: Mapping[str, Any], type_: str) -> bool:
    status = obj.get("status")
    conditions = status.get("conditions") if isinstance(status, Mapping) else None
    for c in conditions if isinstance(conditions, list) else ():
        if isinstance(c, Mapping) and c.get("type") == type_ and c.get("status") == "True":
            return True
    return False


def finished(obj: Mapping[str, Any]) -> bool:
    """Whether the Job is ``Complete`` or ``Failed``."""
    return condition_true(obj, COMPLETE) or condition_true(obj, FAILED)


# -- kubectl get jobs ----------------------------------------------------------------------------


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _status(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    status = obj.get("status")
    return status if isinstance(status, Mapping) else {}


def status_cell(obj: Mapping[str, Any]) -> str:
    """kubectl's STATUS of a Job (Kubernetes' ``printJob``)."""
    if condition_true(obj, COMPLETE):
        return "Complete"
    if condition_true(obj, FAILED):
        return "Failed"
    if meta.metadata_of(obj).get("deletionTimestamp"):
        return "Terminating"
    for type_ in (SUSPENDED, FAILURE_TARGET, SUCCESS_CRITERIA_MET):
        if condition_true(obj, type_):
            return type_
    return "Running"


def completions_cell(obj: Mapping[str, Any]) -> str:
    """``succeeded/completions`` (``n/1 of p`` for a work queue of parallelism p)."""
    spec, succeeded = _spec(obj), _status(obj).get("succeeded") or 0
    completions = spec.get("completions")
    if isinstance(completions, int):
        return f"{succeeded}/{completions}"
    parallelism = spec.get("parallelism")
    if isinstance(parallelism, int) and parallelism > 1:
        return f"{succeeded}/1 of {parallelism}"
    return f"{succeeded}/1"


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def human_duration(seconds: float) -> str:
    """Kubernetes' ``HumanDuration`` (what kubectl prints for ages and durations)."""
    s = max(0, int(seconds))
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    d = h // 24
    if d < 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 365 * 2:
        return f"{d}d"
    return f"{d // 365}y"


def since(value: Any) -> str | None:
    """The age of a timestamp as kubectl prints it; ``None`` when there is none."""
    moment = parse_time(value)
    if moment is None:
        return None
    return human_duration((datetime.now(UTC) - moment).total_seconds())


def duration_cell(obj: Mapping[str, Any]) -> str:
    """How long the Job ran: until completion, or until now while it runs."""
    status = _status(obj)
    start = parse_time(status.get("startTime"))
    if start is None:
        return ""
    end = parse_time(status.get("completionTime")) or datetime.now(UTC)
    return human_duration((end - start).total_seconds())


def template_containers(template: Any) -> list[Mapping[str, Any]]:
    spec = template.get("spec") if isinstance(template, Mapping) else None
    containers = spec.get("containers") if isinstance(spec, Mapping) else None
    return [c for c in containers if isinstance(c, Mapping)] if isinstance(containers, list) else []


def containers_cell(obj: Mapping[str, Any]) -> str:
    return ",".join(str(c.get("name", "")) for c in template_containers(_spec(obj).get("template")))


def images_cell(obj: Mapping[str, Any]) -> str:
    return ",".join(
        str(c.get("image", "")) for c in template_containers(_spec(obj).get("template"))
    )


def selector_text(selector: Any) -> str:
    """A label selector as kubectl writes it (``a=b,c in (d)``); ``<none>`` when empty."""
    if not isinstance(selector, Mapping):
        return "<none>"
    parts: list[str] = []
    match = selector.get("matchLabels")
    if isinstance(match, Mapping):
        parts.extend(f"{k}={v}" for k, v in sorted(match.items()))
    expressions = selector.get("matchExpressions")
    for e in expressions if isinstance(expressions, list) else ():
        if not isinstance(e, Mapping):
            continue
        key, op = e.get("key"), e.get("operator")
        values = ",".join(sorted(str(v) for v in e.get("values") or ()))
        if op == "In":
            parts.append(f"{key} in ({values})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif op == "Exists":
            parts.append(str(key))
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts) or "<none>"


def selector_cell(obj: Mapping[str, Any]) -> str:
    return selector_text(_spec(obj).get("selector"))


# -- for controllers -----------------------------------------------------------------------------


def default_job(obj: Mapping[str, Any]) -> meta.Object:
    """A copy of ``obj`` with the API server's defaults (what a controller that creates Jobs
    stores); a Job without a uid gets one, so that its selector can be generated."""
    out = dict(obj)
    metadata = dict(meta.metadata_of(obj))
    if not metadata.get("uid"):
        metadata["uid"] = str(uuid.uuid4())
    out["metadata"] = metadata
    return default_object(Job, out, namespaced=True)


def parse_job(obj: Mapping[str, Any]) -> Job:
    """A Job dict defaulted and validated; raises :class:`~kawa.errors.ValidationError`."""
    return parse_object(Job, obj, kind=KIND, api_versions=(API_VERSION,), namespaced=True)
