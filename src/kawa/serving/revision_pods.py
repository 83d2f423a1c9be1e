"""The Pods of a Revision: what kawa's autoscaler creates to run one instance of a Revision.

Knative runs a Revision as a Deployment whose Pods carry the ``user-container``; kawa has no
Deployments, so the autoscaler (:mod:`kawa.serving.autoscaler`) creates and deletes the Pods
itself, built by :func:`revision_pod`, and the kubelet (:mod:`kawa.serving.kubelet`) runs them
as local processes. The router sends traffic to :func:`pod_endpoint` of each Pod for which
:func:`pod_is_ready` holds.

A Pod's port is a free host port the autoscaler picked (every instance runs on the same host):
the container gets ``PORT=<port>`` and declares it as its only port; the port the user
declared (or Knative's default 8080) is kept in the annotation :data:`USER_PORT_ANNOTATION`.
Probes aimed at the user's port are rewritten to the picked one. Pure: no I/O.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any, Final

from kawa.apis.core import pod as core_pod
from kawa.apis.serving import revision as serving_revision

REVISION_LABEL: Final = "serving.knative.dev/revision"
REVISION_UID_LABEL: Final = "serving.knative.dev/revisionUID"
CONFIGURATION_LABEL: Final = serving_revision.CONFIGURATION_LABEL
CONFIGURATION_GENERATION_LABEL: Final = serving_revision.CONFIGURATION_GENERATION_LABEL
SERVICE_LABEL: Final = serving_revision.SERVICE_LABEL
USER_PORT_ANNOTATION: Final = "serving.kawa.dev/user-port"

USER_CONTAINER: Final = serving_revision.DEFAULT_CONTAINER_NAME
USER_PORT_NAME: Final = "user-port"
DEFAULT_USER_PORT: Final = 8080
"""Knative's port for a container that declares none."""

_COPIED_LABELS: Final = (
    REVISION_LABEL,
    REVISION_UID_LABEL,
    CONFIGURATION_LABEL,
    CONFIGURATION_GENERATION_LABEL,
    SERVICE_LABEL,
)
_RESERVED_ENV: Final = frozenset({"PORT", "K_REVISION", "K_CONFIGURATION", "K_SERVICE"})
_PROBES: Final = ("readinessProbe", "livenessProbe", "startupProbe")
_SUFFIX: Final = re.compile(r"[a-z0-9]{1,20}")


def pod_name(revision_name: str, suffix: str) -> str:
    """``<revision>-deployment-<suffix>`` (``suffix``: lower-case letters and digits)."""
    if _SUFFIX.fullmatch(suffix) is None:
        raise ValueError(f"invalid pod name suffix {suffix!r}: want 1-20 of [a-z0-9]")
    return f"{revision_name}-deployment-{suffix}"


def user_port(container: Mapping[str, Any]) -> int:
    """The port the user's container declares (``ports[0].containerPort``), else 8080."""
    ports = container.get("ports")
    if isinstance(ports, list) and ports and isinstance(ports[0], Mapping):
        port = ports[0].get("containerPort")
        if isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536:
            return port
    return DEFAULT_USER_PORT


def revision_pod(revision: Mapping[str, Any], *, name: str, port: int) -> dict[str, Any]:
    """A Pod (core/v1 dict, API-server defaults applied) running one instance of ``revision``.

    ``name`` comes from :func:`pod_name`; ``port`` is the free host port the instance
    listens on. The Revision must be valid (as the store holds it).
    """
    metadata = revision.get("metadata") or {}
    rev_name = str(metadata.get("name", ""))
    rev_labels = metadata.get("labels") or {}
    labels: dict[str, str] = {}
    for key in _COPIED_LABELS:
        value = rev_labels.get(key)
        if isinstance(value, str) and value:
            labels[key] = value
    labels[REVISION_LABEL] = rev_name
    if metadata.get("uid"):
        labels[REVISION_UID_LABEL] = str(metadata["uid"])
    labels["app"] = rev_name

    spec = revision.get("spec") or {}
    containers = spec.get("containers") or [{}]
    source: Mapping[str, Any] = containers[0] if isinstance(containers[0], Mapping) else {}
    declared = user_port(source)
    container = _user_container(source, declared, port, rev_name, labels)

    pod_spec: dict[str, Any] = {
        "containers": [container],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": _grace_period(spec),
        "enableServiceLinks": False,
    }
    account = spec.get("serviceAccountName")
    if isinstance(account, str) and account:
        pod_spec["serviceAccountName"] = account
    owner = {
        "apiVersion": serving_revision.API_VERSION,
        "kind": serving_revision.KIND,
        "name": rev_name,
        "uid": str(metadata.get("uid", "")),
        "controller": True,
        "blockOwnerDeletion": True,
    }
    pod = {
        "apiVersion": core_pod.API_VERSION,
        "kind": core_pod.KIND,
        "metadata": {
            "name": name,
            "namespace": str(metadata.get("namespace", "")),
            "labels": labels,
            "annotations": {USER_PORT_ANNOTATION: str(declared)},
            "ownerReferences": [owner],
        },
        "spec": pod_spec,
    }
    return core_pod.default_pod(pod)


def _user_container(
    source: Mapping[str, Any], declared: int, port: int, rev_name: str, labels: Mapping[str, str]
) -> dict[str, Any]:
    container = copy.deepcopy(dict(source))
    container["name"] = USER_CONTAINER
    declared_names = {
        p.get("name")
        for p in source.get("ports") or []
        if isinstance(p, Mapping) and isinstance(p.get("name"), str)
    }
    container["ports"] = [{"name": USER_PORT_NAME, "containerPort": port, "protocol": "TCP"}]
    env = [
        e
        for e in container.get("env") or []
        if not (isinstance(e, Mapping) and e.get("name") in _RESERVED_ENV)
    ]
    env.extend(
        [
            {"name": "PORT", "value": str(port)},
            {"name": "K_REVISION", "value": rev_name},
            {"name": "K_CONFIGURATION", "value": labels.get(CONFIGURATION_LABEL, "")},
            {"name": "K_SERVICE", "value": labels.get(SERVICE_LABEL, "")},
        ]
    )
    container["env"] = env
    for probe_name in _PROBES:
        probe = container.get(probe_name)
        if isinstance(probe, dict):
            _retarget_probe(probe, declared, declared_names, port)
    return container


def _retarget_probe(probe: dict[str, Any], declared: int, names: set[Any], port: int) -> None:
    """Point a tcpSocket/httpGet probe aimed at the user's port (or at no port) at ``port``."""
    for action in ("tcpSocket", "httpGet"):
        handler = probe.get(action)
        if not isinstance(handler, dict):
            continue
        target = handler.get("port")
        if target in (None, 0, "", declared, str(declared)) or target in names:
            handler["port"] = port


def _grace_period(spec: Mapping[str, Any]) -> int:
    value = spec.get("terminationGracePeriodSeconds")
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return core_pod.DEFAULT_GRACE_PERIOD


def pod_is_ready(pod: Mapping[str, Any]) -> bool:
    """Whether ``pod`` takes traffic: condition ``Ready`` True and not being deleted."""
    metadata = pod.get("metadata") or {}
    if metadata.get("deletionTimestamp"):
        return False
    status = pod.get("status") or {}
    for condition in status.get("conditions") or []:
        if isinstance(condition, Mapping) and condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def pod_endpoint(pod: Mapping[str, Any]) -> tuple[str, int] | None:
    """``(podIP, containerPort)`` of the Pod's first container (``127.0.0.1`` until the
    kubelet reports the Pod's address), None if it has none."""
    spec = pod.get("spec") or {}
    containers = spec.get("containers") or []
    if not containers or not isinstance(containers[0], Mapping):
        return None
    ports = containers[0].get("ports") or []
    if not ports or not isinstance(ports[0], Mapping):
        return None
    port = ports[0].get("containerPort")
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        return None
    address = (pod.get("status") or {}).get("podIP")
    return (address if isinstance(address, str) and address else "127.0.0.1", port)
