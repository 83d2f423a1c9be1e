"""The workloads a SinkBinding can bind in kawa, and how to find and change their pod spec.

Knative binds any PodSpecable kind (``spec.template`` a PodTemplateSpec) through a mutating
webhook. kawa's PodSpecable kinds are the Knative Service (``serving.knative.dev/v1``), the
ContainerSource (``sources.knative.dev/v1``), the Deployment (``apps/v1``) and the Job
(``batch/v1``: bound as it is created, see :mod:`.on_create`, as a CronJob's Jobs are), and it
also binds bare Pods (``v1``), whose spec is ``spec`` itself. A bound object carries the
annotation :data:`BOUND_ANNOTATION` naming its binding, so that kawa can take the
environment back out when the binding is deleted or stops selecting it, even across a
restart (kawa's store has no finalizers). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis import apps, batch, core, meta, serving
from kawa.apis import sources as sources_api
from kawa.apis.sources.sinkbinding import Subject

BOUND_ANNOTATION: Final = "sinkbindings.sources.kawa.dev/bound-by"
"""On a bound subject: the name of the SinkBinding (same namespace) that gave it K_SINK."""
TERMINAL_PHASES: Final = frozenset({"Succeeded", "Failed"})


@dataclass(frozen=True, slots=True)
class SubjectKind:
    api_version: str
    kind: str
    resource: str
    """The store's resource (``plural.group``)."""
    template: bool
    """Pod spec at ``spec.template.spec`` (PodSpecable); else at ``spec`` (a Pod)."""

    def describe(self) -> str:
        return f"{self.kind} ({self.api_version})"


SERVICE: Final = SubjectKind("serving.knative.dev/v1", "Service", serving.SERVICE.resource, True)
CONTAINER_SOURCE: Final = SubjectKind(
    "sources.knative.dev/v1", "ContainerSource", sources_api.CONTAINERSOURCE.resource, True
)
DEPLOYMENT: Final = SubjectKind("apps/v1", "Deployment", apps.DEPLOYMENT.resource, True)
JOB: Final = SubjectKind("batch/v1", "Job", batch.JOB.resource, True)
POD: Final = SubjectKind("v1", "Pod", core.POD.resource, False)
KINDS: Final = (SERVICE, CONTAINER_SOURCE, DEPLOYMENT, JOB, POD)


def kind_of(subject: Subject) -> SubjectKind | None:
    for kind in KINDS:
        if kind.api_version == subject.api_version and kind.kind == subject.kind:
            return kind
    return None


def supported() -> str:
    return ", ".join(k.describe() for k in KINDS)


def pod_spec_of(kind: SubjectKind, obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The (mutable) pod spec inside ``obj``."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return None
    if not kind.template:
        return spec
    template = spec.get("template")
    inner = template.get("spec") if isinstance(template, dict) else None
    return inner if isinstance(inner, dict) else None


def selects(subject: Subject, obj: Mapping[str, Any]) -> bool:
    metadata = meta.metadata_of(obj)
    if meta.namespace_of(obj) != subject.namespace:
        return False
    if subject.name is not None:
        return metadata.get("name") == subject.name
    labels = metadata.get("labels")
    labels = labels if isinstance(labels, Mapping) else {}
    return subject.selector is not None and subject.selector.matches(labels)


def bound_by(obj: Mapping[str, Any]) -> str | None:
    value = meta.annotations_of(obj).get(BOUND_ANNOTATION)
    return value or None


def set_bound_by(obj: dict[str, Any], binding: str | None) -> None:
    metadata = obj.setdefault("metadata", {})
    annotations = metadata.get("annotations")
    annotations = dict(annotations) if isinstance(annotations, Mapping) else {}
    if binding is None:
        annotations.pop(BOUND_ANNOTATION, None)
    else:
        annotations[BOUND_ANNOTATION] = binding
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)


def pod_is_bindable(pod: Mapping[str, Any]) -> bool:
    """A Pod kawa may recreate with a new environment: not controlled by another object (a
    Revision's or ContainerSource's Pods: bind their owner), not finished, not deleting."""
    metadata = meta.metadata_of(pod)
    if metadata.get("deletionTimestamp"):
        return False
    refs = metadata.get("ownerReferences")
    for ref in refs if isinstance(refs, list) else ():
        if isinstance(ref, Mapping) and ref.get("controller") is True:
            return False
    status = pod.get("status")
    phase = status.get("phase") if isinstance(status, Mapping) else None
    return phase not in TERMINAL_PHASES


def recreated_pod(pod: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    """A new Pod with ``pod``'s name, labels, annotations and owners and the given spec
    (Pods are immutable: a new environment means a new Pod)."""
    metadata = meta.metadata_of(pod)
    kept = {
        k: metadata[k]
        for k in ("name", "namespace", "labels", "annotations", "ownerReferences")
        if k in metadata
    }
    return {
        "apiVersion": pod.get("apiVersion", "v1"),
        "kind": pod.get("kind", "Pod"),
        "metadata": kept,
        "spec": dict(spec),
    }
