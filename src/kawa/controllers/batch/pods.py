"""What the Job controller reads and makes: the Pods of a Job and how they are counted.

:func:`job_pod` builds a Pod from a Job's template as Kubernetes' ``GetPodFromTemplate`` does:
name ``<job>-<5 random characters>`` (the prefix cut to 58 characters, as ``generateName``),
the template's labels and annotations, and an owner reference to the Job (``controller``,
``blockOwnerDeletion``). :func:`tally` sorts a Job's Pods into active, succeeded, failed and
ready, and sums the container restarts that count against ``backoffLimit`` under
``restartPolicy: OnFailure``. :func:`controller_of` reads a controller owner reference.
Pure: no I/O (the random suffix comes from the caller's ``token``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from kawa.apis import meta
from kawa.apis.batch import job as job_api
from kawa.apis.core import pod as core_pod

SUFFIX_ALPHABET: Final = "bcdfghjklmnpqrstvwxz2456789"
"""The characters of generated name suffixes (Kubernetes' ``utilrand.String``)."""
MAX_PREFIX: Final = 58


def random_suffix(length: int = 5) -> str:
    return "".join(secrets.choice(SUFFIX_ALPHABET) for _ in range(length))


def owner_reference(owner: Mapping[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    """A controller owner reference to ``owner`` (Kubernetes' ``NewControllerRef``)."""
    metadata = meta.metadata_of(owner)
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": str(metadata.get("name", "")),
        "uid": str(metadata.get("uid", "")),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_of(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    """The controller owner reference of ``obj`` when it names a batch ``kind``."""
    refs = meta.metadata_of(obj).get("ownerReferences")
    for ref in refs if isinstance(refs, list) else ():
        if (
            isinstance(ref, Mapping)
            and ref.get("controller") is True
            and ref.get("kind") == kind
            and str(ref.get("apiVersion", "")).split("/")[0] == job_api.GROUP
        ):
            return ref
    return None


def job_pod(job: Mapping[str, Any], token: Callable[[], str] = random_suffix) -> meta.Object:
    """A new Pod of ``job`` (a stored Job), defaulted as the API server defaults Pods."""
    metadata = meta.metadata_of(job)
    name = str(metadata.get("name", ""))
    spec = job.get("spec")
    template = spec.get("template") if isinstance(spec, Mapping) else None
    template = template if isinstance(template, Mapping) else {}
    template_meta = template.get("metadata")
    template_meta = template_meta if isinstance(template_meta, Mapping) else {}
    pod_meta: dict[str, Any] = {
        "name": f"{name[:MAX_PREFIX]}-{token()}",
        "namespace": meta.namespace_of(job),
        "labels": dict(template_meta.get("labels") or {}),
        "ownerReferences": [owner_reference(job, job_api.API_VERSION, job_api.KIND)],
    }
    annotations = template_meta.get("annotations")
    if isinstance(annotations, Mapping) and annotations:
        pod_meta["annotations"] = dict(annotations)
    pod = {
        "apiVersion": core_pod.API_VERSION,
        "kind": core_pod.KIND,
        "metadata": pod_meta,
        "spec": dict(template.get("spec") or {}),
    }
    return core_pod.default_pod(pod)


def phase_of(pod: Mapping[str, Any]) -> str:
    status = pod.get("status")
    phase = status.get("phase") if isinstance(status, Mapping) else None
    return phase if isinstance(phase, str) else "Pending"


def is_ready(pod: Mapping[str, Any]) -> bool:
    status = pod.get("status")
    conditions = status.get("conditions") if isinstance(status, Mapping) else None
    return any(
        isinstance(c, Mapping) and c.get("type") == "Ready" and c.get("status") == "True"
        for c in (conditions if isinstance(conditions, list) else ())
    )


def restarts(pod: Mapping[str, Any]) -> int:
    """Container restarts of ``pod`` (init containers included)."""
    status = pod.get("status")
    total = 0
    for key in ("initContainerStatuses", "containerStatuses"):
        items = status.get(key) if isinstance(status, Mapping) else None
        for item in items if isinstance(items, list) else ():
            count = item.get("restartCount") if isinstance(item, Mapping) else None
            total += count if isinstance(count, int) else 0
    return total


@dataclass(slots=True)
class Tally:
    """A Job's Pods, sorted."""

    active: list[Mapping[str, Any]] = field(default_factory=list)
    terminating: list[Mapping[str, Any]] = field(default_factory=list)
    succeeded: list[Mapping[str, Any]] = field(default_factory=list)
    failed: list[Mapping[str, Any]] = field(default_factory=list)

    @property
    def ready(self) -> int:
        return sum(1 for p in self.active if is_ready(p))

    @property
    def active_restarts(self) -> int:
        return sum(restarts(p) for p in self.active)


def tally(pods: Iterable[Mapping[str, Any]]) -> Tally:
    out = Tally()
    for pod in pods:
        phase = phase_of(pod)
        if phase == "Succeeded":
            out.succeeded.append(pod)
        elif phase == "Failed":
            out.failed.append(pod)
        elif meta.metadata_of(pod).get("deletionTimestamp"):
            out.terminating.append(pod)
        else:
            out.active.append(pod)
    return out


def finished_at(pod: Mapping[str, Any]) -> str:
    """When the last container of a finished Pod ended (RFC 3339; "" when unknown)."""
    status = pod.get("status")
    items = status.get("containerStatuses") if isinstance(status, Mapping) else None
    ends = []
    for item in items if isinstance(items, list) else ():
        state = item.get("state") if isinstance(item, Mapping) else None
        terminated = state.get("terminated") if isinstance(state, Mapping) else None
        if isinstance(terminated, Mapping) and isinstance(terminated.get("finishedAt"), str):
            ends.append(terminated["finishedAt"])
    return max(ends, default="")
