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

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis import meta
from kawa.apis.core import fields
from kawa.errors import FieldError

API_VERSION: Final = "v1"
KIND: Final = "Pod"

RESTART_POLICIES: Final = ("Always", "OnFailure", "Never")
DNS_POLICIES: Final = ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")
PROTOCOLS: Final = ("TCP", "UDP", "SCTP")
PULL_POLICIES: Final = ("Always", "IfNotPresent", "Never")
PHASES: Final = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
DEFAULT_GRACE_PERIOD: Final = 30

_ENV_NAME: Final = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_PORT_NAME: Final = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
_MUTABLE_HELP: Final = (
    "pod updates may not change fields other than spec.containers[*].image, "
    "spec.initContainers[*].image, spec.activeDeadlineSeconds, spec.tolerations "
    "(only additions to existing tolerations) and an unset spec.nodeName"
)


@dataclass(frozen=True, slots=True)
class EnvVar:
    name: str
    value: str | None
    value_from: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class ContainerPort:
    container_port: int
    protocol: str
    name: str
    host_port: int | None


@dataclass(frozen=True, slots=True)
class Container:
    """One container of a Pod (kawa runs it as a process: ``command`` + ``args``)."""

    name: str
    image: str
    command: tuple[str, ...]
    args: tuple[str, ...]
    env: tuple[EnvVar, ...]
    ports: tuple[ContainerPort, ...]
    working_dir: str
    image_pull_policy: str


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


def default_pull_policy(image: str) -> str:
    """``Always`` for an untagged or ``:latest`` image, ``IfNotPresent`` otherwise."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    return "Always" if ":" not in last or last.endswith(":latest") else "IfNotPresent"


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


def _read_env(
    container: Mapping[str, Any], path: str, errors: list[FieldError]
) -> tuple[EnvVar, ...]:
    out: list[EnvVar] = []
    for item_path, item in fields.read_mappings(container, "env", f"{path}.env", errors):
        name = meta.read_str(item, "name", f"{item_path}.name", errors, required=True)
        if name is not None and not _ENV_NAME.fullmatch(name):
            errors.append(
                FieldError(
                    f"{item_path}.name",
                    f"invalid value {name!r}: a valid environment variable name must consist of "
                    "alphabetic characters, digits, '_', '-', or '.', and must not start with "
                    "a digit",
                )
            )
        value = meta.read_str(item, "value", f"{item_path}.value", errors)
        value_from = meta.read_mapping(item, "valueFrom", f"{item_path}.valueFrom", errors)
        if value is not None and value_from is not None:
            errors.append(
                FieldError(
                    f"{item_path}.valueFrom",
                    "may not be specified when `value` is not empty",
                )
            )
        if name is not None:
            out.append(EnvVar(name, value, value_from))
    fields.read_mappings(container, "envFrom", f"{path}.envFrom", errors)
    return tuple(out)


def _read_ports(
    container: Mapping[str, Any], path: str, errors: list[FieldError]
) -> tuple[ContainerPort, ...]:
    out: list[ContainerPort] = []
    names: set[str] = set()
    for item_path, item in fields.read_mappings(container, "ports", f"{path}.ports", errors):
        number = fields.read_int(
            item,
            "containerPort",
            f"{item_path}.containerPort",
            errors,
            minimum=1,
            maximum=65535,
            required=True,
        )
        host = fields.read_int(
            item, "hostPort", f"{item_path}.hostPort", errors, minimum=0, maximum=65535
        )
        protocol = fields.read_enum(item, "protocol", f"{item_path}.protocol", errors, PROTOCOLS)
        name = meta.read_str(item, "name", f"{item_path}.name", errors)
        if name is not None:
            if (
                len(name) > 15
                or not _PORT_NAME.fullmatch(name)
                or "--" in name
                or not re.search("[a-z]", name)
            ):
                errors.append(
                    FieldError(
                        f"{item_path}.name",
                        f"invalid value {name!r}: must be no more than 15 characters of lower "
                        "case letters, digits and '-', with at least one letter, not starting, "
                        "ending or doubling '-' (an IANA service name)",
                    )
                )
            elif name in names:
                errors.append(FieldError(f"{item_path}.name", f"duplicate value {name!r}"))
            names.add(name)
        if number is not None:
            out.append(ContainerPort(number, protocol or "TCP", name or "", host))
    return tuple(out)


def _read_container(
    item: Mapping[str, Any], path: str, errors: list[FieldError], volumes: set[str] | None
) -> Container | None:
    name = meta.read_str(item, "name", f"{path}.name", errors, required=True)
    fields.dns_label(name, f"{path}.name", errors)
    image = meta.read_str(item, "image", f"{path}.image", errors, required=True)
    command = fields.read_str_list(item, "command", f"{path}.command", errors)
    args = fields.read_str_list(item, "args", f"{path}.args", errors)
    env = _read_env(item, path, errors)
    ports = _read_ports(item, path, errors)
    working_dir = meta.read_str(item, "workingDir", f"{path}.workingDir", errors) or ""
    pull = fields.read_enum(
        item, "imagePullPolicy", f"{path}.imagePullPolicy", errors, PULL_POLICIES
    )
    for key in ("resources", "readinessProbe", "livenessProbe", "startupProbe", "securityContext"):
        meta.read_mapping(item, key, f"{path}.{key}", errors)
    mounts: set[str] = set()
    for mount_path, mount in fields.read_mappings(
        item, "volumeMounts", f"{path}.volumeMounts", errors
    ):
        volume = meta.read_str(mount, "name", f"{mount_path}.name", errors, required=True)
        if volume is not None and volumes is not None and volume not in volumes:
            errors.append(FieldError(f"{mount_path}.name", f"not found: no volume {volume!r}"))
        at = meta.read_str(mount, "mountPath", f"{mount_path}.mountPath", errors, required=True)
        if at is not None and at in mounts:
            errors.append(FieldError(f"{mount_path}.mountPath", f"duplicate value {at!r}"))
        mounts.add(at or "")
    if name is None or image is None:
        return None
    return Container(
        name, image, command, args, env, ports, working_dir, pull or default_pull_policy(image)
    )


def _read_volumes(spec: Mapping[str, Any], errors: list[FieldError]) -> set[str] | None:
    if spec.get("volumes") is not None and not isinstance(spec.get("volumes"), list):
        fields.read_list(spec, "volumes", "spec.volumes", errors)
        return None
    names: set[str] = set()
    for path, volume in fields.read_mappings(spec, "volumes", "spec.volumes", errors):
        name = meta.read_str(volume, "name", f"{path}.name", errors, required=True)
        fields.dns_label(name, f"{path}.name", errors)
        if name is not None and name in names:
            errors.append(FieldError(f"{path}.name", f"duplicate value {name!r}"))
        names.add(name or "")
    return names


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
    volumes = _read_volumes(spec, errors)
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
