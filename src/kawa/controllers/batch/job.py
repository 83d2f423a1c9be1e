"""The Job controller: runs a Job's Pods to completion, as Kubernetes' job controller does.

For each Job (NonIndexed completion mode) it lists the Pods the Job controls (owner reference
with its uid) and:

- **runs Pods**: keeps ``min(parallelism, completions - succeeded)`` Pods active (with no
  ``completions``, ``parallelism`` until one succeeds), creating ``<job>-<5 chars>`` Pods
  from the template (Event ``SuccessfulCreate``) and deleting extra ones
  (``SuccessfulDelete``). After failed Pods a new one waits 10 s, doubled per failure up to
  6 minutes, from the last failure (Kubernetes' pod failure backoff);
- **counts**: ``status.active``, ``ready``, ``succeeded``, ``failed`` (never lowered: a
  finished Pod deleted by hand stays counted), ``startTime`` when it first runs;
- **applies** ``podFailurePolicy`` to each failed Pod (:mod:`.failure_policy`): a Pod an
  ``Ignore`` rule matches is not counted (nor in the backoff), one a ``FailJob`` rule
  matches fails the Job (reason ``PodFailurePolicy``, the rule's message);
- **fails** the Job when failed Pods exceed ``backoffLimit`` (with ``restartPolicy:
  OnFailure``, when the restarts of its active Pods reach it): conditions ``FailureTarget``
  and ``Failed``, reason ``BackoffLimitExceeded``; or when it has been active longer than
  ``activeDeadlineSeconds``: reason ``DeadlineExceeded``. Its active Pods are deleted (and
  counted as failed). Warning Events with the reasons;
- **completes** it when enough Pods succeeded: ``SuccessCriteriaMet`` then ``Complete``
  (reason ``CompletionsReached``), ``completionTime``, Event ``Completed``;
- **suspends** it (``spec.suspend``): active Pods deleted, ``Suspended`` True (``JobSuspended``);
  resuming sets it False (``JobResumed``) and restarts ``startTime``;
- **cleans up** ``ttlSecondsAfterFinished`` after it finished: deletes the Job and its Pods.

Time comes from the injected clock; when something is due later (a deadline, a TTL, the end
of a backoff) the controller asks to be called again then (``requeue``).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from kawa.apis import batch, core, meta
from kawa.apis.batch import job as job_api
from kawa.apis.batch import pod_failure_policy as pfp
from kawa.apis.conditions import Clock, format_time
from kawa.controllers.batch import failure_policy
from kawa.controllers.batch import pods as job_pods
from kawa.errors import AlreadyExistsError, NotFoundError, ValidationError
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.loop import Requeue
from kawa.reconciler.status import write_status
from kawa.store.base import Obj, ResourceKey, ResourceStore

log = logging.getLogger(__name__)

JOBS: Final = batch.JOB.resource
PODS: Final = core.POD.resource
BACKOFF_BASE: Final = 10.0
BACKOFF_MAX: Final = 360.0


def _condition(type_: str, reason: str, message: str, now: str) -> dict[str, Any]:
    return {
        "type": type_,
        "status": "True",
        "lastProbeTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


def set_condition(
    status: dict[str, Any], type_: str, state: str, reason: str, message: str, now: str
) -> bool:
    """Set a Job condition; ``True`` when it changed."""
    conditions = status.setdefault("conditions", [])
    for c in conditions:
        if c.get("type") == type_:
            if (c.get("status"), c.get("reason"), c.get("message")) == (state, reason, message):
                return False
            if c.get("status") != state:
                c["lastTransitionTime"] = now
            c.update(status=state, reason=reason, message=message, lastProbeTime=now)
            return True
    conditions.append(dict(_condition(type_, reason, message, now), status=state))
    return True


def _has(status: Mapping[str, Any], type_: str) -> bool:
    return job_api.condition_true({"status": status}, type_)


class JobReconciler:
    """Reconciles one Job at a time (see the module docstring)."""

    def __init__(
        self,
        store: ResourceStore,
        clock: Clock,
        recorder: EventRecorder,
        requeue: Requeue | None = None,
        *,
        backoff_base: float = BACKOFF_BASE,
        token: Callable[[], str] = job_pods.random_suffix,
    ) -> None:
        self.store = store
        self.clock = clock
        self.recorder = recorder
        self.requeue = requeue
        self.backoff_base = backoff_base
        self.token = token

    def _later(self, key: ResourceKey, seconds: float) -> None:
        if self.requeue is not None:
            self.requeue(key, max(0.0, seconds) + 0.05)

    async def owned_pods(self, job: Mapping[str, Any]) -> list[Obj]:
        uid = meta.metadata_of(job).get("uid")
        listed = await self.store.list(PODS, meta.namespace_of(job))
        return [
            p
            for p in listed.items
            if (ref := job_pods.controller_of(p, job_api.KIND)) is not None
            and ref.get("uid") == uid
        ]

    async def reconcile(self, key: ResourceKey) -> None:
        try:
            obj = await self.store.get(key)
        except NotFoundError:
            return  # its Pods are the garbage collector's (ownerReferences)
        if meta.metadata_of(obj).get("deletionTimestamp"):
            return
        try:
            spec = job_api.parse_job(obj).spec
        except ValidationError as err:
            log.warning("job %s is invalid: %s", key, err)
            return
        stored = obj.get("status")
        status: dict[str, Any] = copy.deepcopy(stored) if isinstance(stored, dict) else {}
        if job_api.finished({"status": status}):
            await self._after_finish(key, obj, status, spec)
            return
        await self._run(key, obj, status, spec)
        await write_status(self.store, key, obj, status)

    # -- a finished Job ---------------------------------------------------------------------

    async def _after_finish(
        self, key: ResourceKey, obj: Obj, status: dict[str, Any], spec: job_api.JobSpec
    ) -> None:
        ttl = spec.ttl_seconds_after_finished
        if ttl is None:
            return
        finished = _finish_time(status)
        if finished is None:
            return
        left = (finished + timedelta(seconds=ttl) - self.clock()).total_seconds()
        if left > 0:
            self._later(key, left)
            return
        await self.delete_job(key, obj)

    async def delete_job(self, key: ResourceKey, obj: Mapping[str, Any]) -> None:
        """Delete the Job (background propagation), then its Pods: kawa's store has no
        garbage collector yet, so the controller removes what the collector would."""
        pods = await self.owned_pods(obj)
        try:
            await self.store.delete(key)
        except NotFoundError:
            return
        for pod in pods:
            name = str(meta.metadata_of(pod).get("name", ""))
            try:
                await self.store.delete(ResourceKey(PODS, key.namespace, name))
            except NotFoundError:
                continue

    # -- a running Job ----------------------------------------------------------------------

    async def _run(
        self, key: ResourceKey, obj: Obj, status: dict[str, Any], spec: job_api.JobSpec
    ) -> None:
        now = self.clock()
        stamp = format_time(now)
        found = job_pods.tally(await self.owned_pods(obj))
        succeeded = max(_int(status.get("succeeded")), len(found.succeeded))
        # the pod failure policy: ignored failures are not counted; FailJob fails the Job
        counted: list[Mapping[str, Any]] = []
        fail_job: failure_policy.Match | None = None
        for lost in found.failed:
            matched = failure_policy.match(spec.pod_failure_policy, lost)
            if matched is not None and matched.action == pfp.IGNORE:
                continue
            counted.append(lost)
            if matched is not None and matched.action == pfp.FAIL_JOB and fail_job is None:
                fail_job = matched
        failed = max(_int(status.get("failed")), len(counted))

        if spec.suspend:
            deleted = await self._delete_pods(obj, found.active)
            if set_condition(
                status, job_api.SUSPENDED, "True", job_api.JOB_SUSPENDED, "Job suspended", stamp
            ):
                await self.recorder.record(obj, "Normal", "Suspended", "Job suspended")
            status.pop("startTime", None)
            _counts(
                status,
                active=len(found.active) - deleted,
                ready=0,
                succeeded=succeeded,
                failed=failed,
                terminating=len(found.terminating),
            )
            return
        if _has(status, job_api.SUSPENDED):
            set_condition(
                status, job_api.SUSPENDED, "False", job_api.JOB_RESUMED, "Job resumed", stamp
            )
            await self.recorder.record(obj, "Normal", "Resumed", "Job resumed")
            status["startTime"] = stamp
        status.setdefault("startTime", stamp)

        # failure: a FailJob rule, the backoff limit, then the deadline
        reason = message = ""
        limit = spec.effective_backoff_limit
        exceeded = fail_job is None and failed > limit
        if spec.template.spec.restart_policy == "OnFailure":
            # the restarts of active Pods count as retries (Kubernetes' pastBackoffLimitOnFailure)
            retries = found.active_restarts
            exceeded = exceeded or (retries > 0 if limit == 0 else retries >= limit)
        if fail_job is not None:
            reason, message = pfp.POD_FAILURE_POLICY_REASON, fail_job.message
        elif exceeded:
            reason, message = (
                job_api.BACKOFF_LIMIT_EXCEEDED,
                "Job has reached the specified backoff limit",
            )
        elif spec.active_deadline_seconds is not None:
            started = job_api.parse_time(status.get("startTime")) or now
            left = (started + timedelta(seconds=spec.active_deadline_seconds) - now).total_seconds()
            if left <= 0:
                reason, message = (
                    job_api.DEADLINE_EXCEEDED,
                    "Job was active longer than specified deadline",
                )
            else:
                self._later(key, left)
        if reason:
            failed += await self._delete_pods(obj, found.active)
            set_condition(status, job_api.FAILURE_TARGET, "True", reason, message, stamp)
            set_condition(status, job_api.FAILED, "True", reason, message, stamp)
            await self.recorder.record(obj, "Warning", reason, message)
            _counts(
                status,
                active=0,
                ready=0,
                succeeded=succeeded,
                failed=failed,
                terminating=len(found.terminating),
            )
            self._finished(key, spec)
            return

        # success
        completions = spec.completions
        done = (
            succeeded >= completions
            if completions is not None
            else succeeded > 0 and not found.active
        )
        if done:
            await self._delete_pods(obj, found.active)
            set_condition(
                status,
                job_api.SUCCESS_CRITERIA_MET,
                "True",
                job_api.COMPLETIONS_REACHED,
                "Reached expected number of succeeded pods",
                stamp,
            )
            set_condition(
                status,
                job_api.COMPLETE,
                "True",
                job_api.COMPLETIONS_REACHED,
                "Reached expected number of succeeded pods",
                stamp,
            )
            status["completionTime"] = stamp
            await self.recorder.record(obj, "Normal", "Completed", "Job completed")
            _counts(
                status,
                active=0,
                ready=0,
                succeeded=succeeded,
                failed=failed,
                terminating=len(found.terminating),
            )
            self._finished(key, spec)
            return

        # keep the right number of Pods running
        want = spec.effective_parallelism
        if completions is not None:
            want = min(want, completions - succeeded)
        elif succeeded > 0:
            want = min(want, len(found.active))
        active = list(found.active)
        if len(active) > want:
            extra = sorted(active, key=_newest_first)[: len(active) - want]
            await self._delete_pods(obj, extra, record=True)
            active = [p for p in active if p not in extra]
        elif len(active) < want:
            wait = self._backoff_left(counted, now)
            if wait > 0:
                self._later(key, wait)
            else:
                for _ in range(want - len(active)):
                    pod = await self._create_pod(obj)
                    if pod is not None:
                        active.append(pod)
        _counts(
            status,
            active=len(active),
            ready=sum(1 for p in active if job_pods.is_ready(p)),
            succeeded=succeeded,
            failed=failed,
            terminating=len(found.terminating),
        )

    def _finished(self, key: ResourceKey, spec: job_api.JobSpec) -> None:
        if spec.ttl_seconds_after_finished is not None:
            self._later(key, float(spec.ttl_seconds_after_finished))

    def _backoff_left(self, failed: list[Mapping[str, Any]], now: datetime) -> float:
        """Seconds before a new Pod may replace failed ones (0 when it may now)."""
        if not failed:
            return 0.0
        delay = min(BACKOFF_MAX, self.backoff_base * 2 ** (len(failed) - 1))
        last = max((job_pods.finished_at(p) for p in failed), default="")
        ended = job_api.parse_time(last)
        if ended is None:
            return 0.0
        return (ended + timedelta(seconds=delay) - now).total_seconds()

    async def _create_pod(self, job: Obj) -> Obj | None:
        for _ in range(3):  # a name taken by chance: draw another
            desired = job_pods.job_pod(job, self.token)
            name = desired["metadata"]["name"]
            try:
                created = await self.store.create(
                    ResourceKey(PODS, meta.namespace_of(job), name), desired
                )
            except AlreadyExistsError:
                continue
            await self.recorder.record(job, "Normal", "SuccessfulCreate", f"Created pod: {name}")
            return created
        return None

    async def _delete_pods(
        self, job: Obj, pods: list[Mapping[str, Any]], *, record: bool = True
    ) -> int:
        deleted = 0
        for pod in pods:
            name = str(meta.metadata_of(pod).get("name", ""))
            try:
                await self.store.delete(ResourceKey(PODS, meta.namespace_of(job), name))
            except NotFoundError:
                continue
            deleted += 1
            if record:
                await self.recorder.record(
                    job, "Normal", "SuccessfulDelete", f"Deleted pod: {name}"
                )
        return deleted


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _newest_first(pod: Mapping[str, Any]) -> tuple[bool, str]:
    """Not-ready Pods go first, then the newest (Kubernetes deletes those first)."""
    created = str(meta.metadata_of(pod).get("creationTimestamp", ""))
    return (job_pods.is_ready(pod), "".join(chr(0x10FFFF - ord(c)) for c in created))


def _counts(
    status: dict[str, Any],
    *,
    active: int,
    ready: int,
    succeeded: int,
    failed: int,
    terminating: int,
) -> None:
    """Kubernetes writes ``ready`` and ``terminating`` always, the others when not zero."""
    for name, value in (("active", active), ("succeeded", succeeded), ("failed", failed)):
        if value:
            status[name] = value
        else:
            status.pop(name, None)
    status["ready"] = ready
    status["terminating"] = terminating


def _finish_time(status: Mapping[str, Any]) -> datetime | None:
    if status.get("completionTime"):
        return job_api.parse_time(status.get("completionTime"))
    for c in status.get("conditions") or ():
        if isinstance(c, Mapping) and c.get("type") == job_api.FAILED:
            return job_api.parse_time(c.get("lastTransitionTime"))
    return None
