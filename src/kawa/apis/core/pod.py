"""The Pod kind (core/v1): typed view, defaults, validation and update rules.

kawa runs a Pod's containers as local processes (the serving runtime), so ``image`` is
required but its format is free. :func:`default_pod` applies the Kubernetes API server's
defaults (``restartPolicy: Always``, a 30 s grace period, ``ClusterFirst`` DNS, TCP ports,
image pull policies, the ``default`` ServiceAccount, phase ``Pending``);
:func:`validate_pod_update` keeps a Pod's spec immutable except what Kubernetes lets change.
Status helpers and ``kubectl get pods`` cells are in :mod:`kawa.apis.core.pod_status`, the
schema in :mod:`kawa.apis.core.pod_schema`. Declared in :mod:`kawa.apis.core`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis import meta
from kawa.apis.core import containers, fields
from kawa.apis.core.containers import Container, default_pull_policy
from kawa.errors import FieldError

API_VERSION: Final = "v1"
KIND: Final = "Pod"

# The container types and readers live in kawa.apis.core.containers (shared with Knative
# templates); these names stay here for callers of this module.
PROTOCOLS: Final = containers.PROTOCOLS
PULL_POLICIES: Final = containers.PULL_POLICIES
EnvVar = containers.EnvVar
ContainerPort = containers.ContainerPort

RESTART_POLICIES: Final = ("Always", "OnFailure", "Never")
DNS_POLICIES: Final = ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")
PHASES: Final = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
DEFAULT_GRACE_PERIOD: Final = 30

_MUTABLE_HELP: Final = (
    "pod updates may not change fields other than spec.containers[*].image, "
    "spec.initContainers[*].image, spec.activeDeadlineSeconds, spec.tolerations "
    "(only additions to existing tolerations) and an unset spec.nodeName"
)


@dataclass(frozen=True, slots=True)
class Pod:
    """A validated Pod's spec and phase (the rest of its status is read with pod_status)."""

    namespace: str
    name: str
    uid: str
    containers: tuple[Container, ...]
    init_containers: tuple[Container, ...]
    restart_policy: str
    termination_grace_period_seconds: int
    service_account_name: str
    node_name: str
    dns_policy: str
    phase: str

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def _default_container(container: Any) -> None:
    if not isinstance(container, dict):
        return
    image = container.get("image")
    if isinstance(image, str) and not container.get("imagePullPolicy"):
        container["imagePullPolicy"] = default_pull_policy(image)
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    ports = container.get("ports")
    for port in ports if isinstance(ports, list) else ():
        if isinstance(port, dict) and not port.get("protocol"):
            port["protocol"] = "TCP"


def default_pod(obj: Mapping[str, Any]) -> meta.Object:
    """A copy of ``obj`` with the Kubernetes API server's defaults."""
    out = fields.copy_object(obj)
    spec = out.get("spec")
    if isinstance(spec, dict):
        for key, value in (
            ("restartPolicy", "Always"),
            ("terminationGracePeriodSeconds", DEFAULT_GRACE_PERIOD),
            ("dnsPolicy", "ClusterFirst"),
            ("schedulerName", "default-scheduler"),
            ("serviceAccountName", "default"),
        ):
            if spec.get(key) in (None, ""):
                spec[key] = value
        for key in ("containers", "initContainers"):
            containers = spec.get(key)
            for container in containers if isinstance(containers, list) else ():
                _default_container(container)
    status = out.get("status")
    if status is None:
        status = out["status"] = {}
    if isinstance(status, dict) and not status.get("phase"):
        status["phase"] = "Pending"
    return out


_read_container = containers.read_container
"""The container reader, shared with Knative templates (:mod:`kawa.apis.core.containers`)."""


def parse_pod(obj: Mapping[str, Any]) -> Pod:
    """Validate a Pod dict (defaults applied to a copy) and return its typed view.

    Raises :class:`ValidationError` (subject ``"Pod <namespace>/<name>"``) listing every
    problem with its field path (``spec.containers[0].image``...).
    """
    obj = default_pod(obj)
    errors: list[FieldError] = []
    fields.check_header(obj, API_VERSION, KIND, errors, namespaced=True)
    spec = meta.read_mapping(obj, "spec", "spec", errors)
    has_spec = spec is not None
    if spec is None:
        if "spec" not in obj:
            errors.append(FieldError("spec", "required field is missing"))
        spec = {}
    volumes = containers.read_volumes(spec, "spec.volumes", errors)
    groups: dict[str, list[Container]] = {"containers": [], "initContainers": []}
    seen: set[str] = set()
    for key, found in groups.items():
        items = fields.read_mappings(spec, key, f"spec.{key}", errors)
        if key == "containers" and has_spec and not spec.get(key):
            errors.append(FieldError("spec.containers", "required: a Pod needs a container"))
        for path, item in items:
            container = _read_container(item, path, errors, volumes)
            if container is None:
                continue
            if container.name in seen:
                errors.append(FieldError(f"{path}.name", f"duplicate value {container.name!r}"))
            seen.add(container.name)
            found.append(container)
    restart = fields.read_enum(
        spec, "restartPolicy", "spec.restartPolicy", errors, RESTART_POLICIES
    )
    grace = fields.read_int(
        spec,
        "terminationGracePeriodSeconds",
        "spec.terminationGracePeriodSeconds",
        errors,
        minimum=0,
    )
    fields.read_int(spec, "activeDeadlineSeconds", "spec.activeDeadlineSeconds", errors, minimum=1)
    account = meta.read_str(spec, "serviceAccountName", "spec.serviceAccountName", errors)
    fields.dns_subdomain(account, "spec.serviceAccountName", errors)
    node = meta.read_str(spec, "nodeName", "spec.nodeName", errors)
    dns = fields.read_enum(spec, "dnsPolicy", "spec.dnsPolicy", errors, DNS_POLICIES)
    for path, secret in fields.read_mappings(
        spec, "imagePullSecrets", "spec.imagePullSecrets", errors
    ):
        meta.read_str(secret, "name", f"{path}.name", errors)
    fields.read_list(spec, "tolerations", "spec.tolerations", errors)
    phase = "Pending"
    status = meta.read_mapping(obj, "status", "status", errors)
    if status is not None:
        phase = fields.read_enum(status, "phase", "status.phase", errors, PHASES) or "Pending"
        for path, item in fields.read_mappings(
            status, "containerStatuses", "status.containerStatuses", errors
        ):
            meta.read_str(item, "name", f"{path}.name", errors, required=True)
            fields.read_int(item, "restartCount", f"{path}.restartCount", errors, minimum=0)
            fields.read_bool(item, "ready", f"{path}.ready", errors)
            meta.read_mapping(item, "state", f"{path}.state", errors)
    fields.raise_if(errors, KIND, obj, namespaced=True)
    return Pod(
        namespace=meta.namespace_of(obj),
        name=fields.name_of(obj),
        uid=fields.uid_of(obj),
        containers=tuple(groups["containers"]),
        init_containers=tuple(groups["initContainers"]),
        restart_policy=restart or "Always",
        termination_grace_period_seconds=DEFAULT_GRACE_PERIOD if grace is None else grace,
        service_account_name=account or "default",
        node_name=node or "",
        dns_policy=dns or "ClusterFirst",
        phase=phase,
    )


def validate_pod(obj: Mapping[str, Any]) -> None:
    parse_pod(obj)


def validate_pod_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Kubernetes' rule: a Pod's spec is immutable but for a few fields.

    Allowed: the ``image`` of containers and init containers, ``activeDeadlineSeconds`` (set
    or lowered, never raised or removed), new ``tolerations`` after the existing ones, and a
    ``nodeName`` set where it was empty (binding a Pod to a node). Every other difference is
    reported at its path.
    """
    old_spec = default_pod(old).get("spec")
    new_spec = default_pod(new).get("spec")
    if not isinstance(old_spec, Mapping) or not isinstance(new_spec, Mapping):
        return
    errors: list[FieldError] = []
    # What the new spec would be if only the allowed fields had changed.
    masked = fields.copy_object(new_spec)
    for key in ("containers", "initContainers"):
        olds, news = old_spec.get(key), masked.get(key)
        if isinstance(olds, list) and isinstance(news, list) and len(olds) == len(news):
            for a, b in zip(olds, news, strict=True):
                if isinstance(a, Mapping) and isinstance(b, dict):
                    b["image"] = a.get("image")
                    if "imagePullPolicy" in a:
                        b["imagePullPolicy"] = a["imagePullPolicy"]
    old_deadline, new_deadline = (
        old_spec.get("activeDeadlineSeconds"),
        new_spec.get("activeDeadlineSeconds"),
    )
    if old_deadline != new_deadline:
        if new_deadline is None or (
            isinstance(old_deadline, int)
            and isinstance(new_deadline, int)
            and new_deadline > old_deadline
        ):
            errors.append(
                FieldError(
                    "spec.activeDeadlineSeconds",
                    "may only be set or lowered, never raised or removed",
                )
            )
        _restore(masked, old_spec, "activeDeadlineSeconds")
    old_tol = old_spec.get("tolerations") or []
    new_tol = new_spec.get("tolerations") or []
    if old_tol != new_tol and isinstance(new_tol, list) and new_tol[: len(old_tol)] == old_tol:
        _restore(masked, old_spec, "tolerations")
    if not old_spec.get("nodeName") and new_spec.get("nodeName"):
        _restore(masked, old_spec, "nodeName")
    errors.extend(
        FieldError(path, f"field is immutable: {_MUTABLE_HELP}")
        for path in fields.first_differences(old_spec, masked, "spec")
    )
    fields.raise_if(errors, KIND, new, namespaced=True)


def _restore(target: dict[str, Any], source: Mapping[str, Any], key: str) -> None:
    if key in source:
        target[key] = source[key]
    else:
        target.pop(key, None)
