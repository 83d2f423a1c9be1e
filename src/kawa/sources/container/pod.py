"""The Pod that runs a ContainerSource's container: built from ``spec.template``, and read back.

Knative runs a ContainerSource as a Deployment ``<name>-deployment`` whose Pods its own
SinkBinding injects with ``K_SINK``/``K_CE_OVERRIDES``. kawa has no Deployments, so the
ContainerSource reconciler keeps one Pod, built here by :func:`adapter_pod`:

- name ``<source>-deployment-<hash>``, where the hash (also label ``pod-template-hash``)
  covers everything the Pod runs: template and sink env. A new sink URL or template is a new
  name, so the reconciler rolls by creating the new Pod and deleting the old one;
- labels: the template's, plus Knative's ``sources.knative.dev/source:
  container-source-controller`` and ``sources.knative.dev/containerSource: <source>``;
- ``restartPolicy: Always`` (a Deployment's Pods always restart), so the kubelet restarts the
  container when it exits;
- an ``ownerReference`` to the source (controller).

:func:`adapter_condition` reads a Pod's status as the ``ReceiveAdapterReady`` condition.
Pure: no I/O.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

from kawa.apis import meta
from kawa.apis.conditions import FALSE, TRUE, UNKNOWN, get_condition
from kawa.apis.core import pod as core_pod
from kawa.apis.sources import containersource
from kawa.sources.sinkbinding import env

SOURCE_LABEL: Final = "sources.knative.dev/source"
SOURCE_LABEL_VALUE: Final = "container-source-controller"
NAME_LABEL: Final = "sources.knative.dev/containerSource"
HASH_LABEL: Final = "pod-template-hash"
_HASH_LENGTH: Final = 10
_MAX_NAME: Final = 253
_FATAL_WAITING: Final = frozenset(
    {
        "CrashLoopBackOff",
        "ImageNotRunnable",
        "CreateContainerConfigError",
        "CreateContainerError",
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "RunContainerError",
        "StartError",
    }
)


def labels(name: str) -> dict[str, str]:
    """The labels Knative puts on a ContainerSource's workload."""
    return {SOURCE_LABEL: SOURCE_LABEL_VALUE, NAME_LABEL: name}


def owner_reference(source: Mapping[str, Any]) -> dict[str, Any]:
    metadata = meta.metadata_of(source)
    return {
        "apiVersion": containersource.API_VERSION,
        "kind": containersource.KIND,
        "name": str(metadata.get("name", "")),
        "uid": str(metadata.get("uid", "")),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def owner_of(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ContainerSource owner reference of ``pod``, if it has one."""
    refs = meta.metadata_of(pod).get("ownerReferences")
    for ref in refs if isinstance(refs, list) else ():
        if (
            isinstance(ref, Mapping)
            and ref.get("kind") == containersource.KIND
            and str(ref.get("apiVersion", "")).split("/")[0] == containersource.GROUP
        ):
            return ref
    return None


def adapter_pod(
    source: Mapping[str, Any],
    url: str,
    overrides: str,
    token_secret: str | None = None,
    ca_certs: str | None = None,
) -> dict[str, Any]:
    """The Pod (API-server defaults applied) running ``source`` (a defaulted, valid
    ContainerSource) with ``K_SINK=url`` and ``K_CE_OVERRIDES=overrides`` (and
    ``K_CA_CERTS=ca_certs`` for an https sink with its own CACerts)."""
    metadata = meta.metadata_of(source)
    name = str(metadata.get("name", ""))
    spec = source.get("spec")
    template = spec.get("template") if isinstance(spec, Mapping) else None
    template = template if isinstance(template, Mapping) else {}
    template_meta = template.get("metadata")
    template_meta = template_meta if isinstance(template_meta, Mapping) else {}
    pod_spec: dict[str, Any] = copy.deepcopy(dict(template.get("spec") or {}))
    env.bind(pod_spec, url, overrides, token_secret, ca_certs)
    pod_spec["restartPolicy"] = "Always"
    pod_labels = {str(k): str(v) for k, v in (template_meta.get("labels") or {}).items()}
    pod_labels.update(labels(name))
    annotations = {str(k): str(v) for k, v in (template_meta.get("annotations") or {}).items()}
    digest = _hash({"labels": pod_labels, "annotations": annotations, "spec": pod_spec})
    pod_labels[HASH_LABEL] = digest
    pod_meta: dict[str, Any] = {
        "name": pod_name(name, digest),
        "namespace": meta.namespace_of(source),
        "labels": pod_labels,
        "ownerReferences": [owner_reference(source)],
    }
    if annotations:
        pod_meta["annotations"] = annotations
    pod = {
        "apiVersion": core_pod.API_VERSION,
        "kind": core_pod.KIND,
        "metadata": pod_meta,
        "spec": pod_spec,
    }
    return core_pod.default_pod(pod)


def pod_name(source_name: str, digest: str) -> str:
    suffix = f"-deployment-{digest}"
    return source_name[: _MAX_NAME - len(suffix)] + suffix


def _hash(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:_HASH_LENGTH]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def adapter_condition(pod: Mapping[str, Any]) -> tuple[str, str, str]:
    """``(status, reason, message)`` of ``ReceiveAdapterReady`` for the source's Pod:
    ``True`` once the Pod is Ready; ``False`` while a container cannot run (waiting in
    ``CrashLoopBackOff``, ``ImageNotRunnable`` ...); ``Unknown`` while it starts."""
    name = str(meta.metadata_of(pod).get("name", ""))
    status = _mapping(pod.get("status"))
    ready = get_condition(status, "Ready")
    if ready is not None and ready.is_true:
        return TRUE, "", ""
    statuses = status.get("initContainerStatuses"), status.get("containerStatuses")
    for items in statuses:
        for item in items if isinstance(items, list) else ():
            if not isinstance(item, Mapping):
                continue
            container = item.get("name", "")
            waiting = _mapping(_mapping(item.get("state")).get("waiting"))
            reason = str(waiting.get("reason") or "")
            if reason in _FATAL_WAITING:
                detail = str(waiting.get("message") or "").strip()
                last = _mapping(_mapping(item.get("lastState")).get("terminated"))
                if not detail and last:
                    detail = f"last exit code {last.get('exitCode')}"
                message = f"Pod {name!r} container {container!r}: {reason}"
                return FALSE, reason, f"{message}: {detail}" if detail else message
            terminated = _mapping(_mapping(item.get("state")).get("terminated"))
            if terminated and terminated.get("exitCode") not in (0, None):
                reason = str(terminated.get("reason") or "Error")
                return (
                    FALSE,
                    reason,
                    f"Pod {name!r} container {container!r} exited with code "
                    f"{terminated.get('exitCode')}",
                )
    phase = status.get("phase") or "Pending"
    return UNKNOWN, "PodNotReady", f"Pod {name!r} is {phase} and not ready yet"
