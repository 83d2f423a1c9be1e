"""Containers of a pod spec (core/v1 ``Container``): typed view and validation.

One reader for every place a container is written: a Pod (:mod:`kawa.apis.core.pod`), a
Knative revision template (:mod:`kawa.apis.serving.revision`) and a ContainerSource
template (:mod:`kawa.apis.sources.containersource`), so the same container is accepted or
refused the same way everywhere. :func:`read_container` checks Kubernetes' rules (name,
image, env names, ports, volume mounts and the probes); ``knative=True`` adds the rules of a
Revision's serving container (at most one port, no ``hostPort``, probe ports optional: Knative
aims them at the container's port).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis import meta
from kawa.apis.core import fields
from kawa.errors import FieldError

PROTOCOLS: Final = ("TCP", "UDP", "SCTP")
PULL_POLICIES: Final = ("Always", "IfNotPresent", "Never")
PROBES: Final = ("readinessProbe", "livenessProbe", "startupProbe")
PROBE_HANDLERS: Final = ("exec", "httpGet", "tcpSocket", "grpc")
PROBE_NUMBERS: Final = (
    "initialDelaySeconds",
    "timeoutSeconds",
    "periodSeconds",
    "successThreshold",
    "failureThreshold",
)
HTTP_SCHEMES: Final = ("HTTP", "HTTPS")

_ENV_NAME: Final = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_PORT_NAME: Final = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
_PORT_NAME_HELP: Final = (
    "must be no more than 15 characters of lower case letters, digits and '-', with at least "
    "one letter, not starting, ending or doubling '-' (an IANA service name)"
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


def default_pull_policy(image: str) -> str:
    """``Always`` for an untagged or ``:latest`` image, ``IfNotPresent`` otherwise."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    return "Always" if ":" not in last or last.endswith(":latest") else "IfNotPresent"


def is_port_name(name: str) -> bool:
    """Whether ``name`` is a valid IANA service name (a container port's ``name``)."""
    return (
        len(name) <= 15
        and bool(_PORT_NAME.fullmatch(name))
        and "--" not in name
        and bool(re.search("[a-z]", name))
    )


def read_env(
    container: Mapping[str, Any], path: str, errors: list[FieldError]
) -> tuple[EnvVar, ...]:
    """``env[]`` (each a name, and a string ``value`` or a ``valueFrom``) and ``envFrom[]``."""
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


def read_ports(
    container: Mapping[str, Any], path: str, errors: list[FieldError]
) -> tuple[ContainerPort, ...]:
    """``ports[]``: ``containerPort`` 1-65535, ``hostPort``, protocol, unique IANA names."""
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
            if not is_port_name(name):
                errors.append(
                    FieldError(f"{item_path}.name", f"invalid value {name!r}: {_PORT_NAME_HELP}")
                )
            elif name in names:
                errors.append(FieldError(f"{item_path}.name", f"duplicate value {name!r}"))
            names.add(name)
        if number is not None:
            out.append(ContainerPort(number, protocol or "TCP", name or "", host))
    return tuple(out)


def _read_probe_port(
    handler: Mapping[str, Any],
    path: str,
    errors: list[FieldError],
    port_names: set[str],
    *,
    required: bool,
    named: bool,
) -> None:
    value = handler.get("port")
    if value is None or value in ("", 0):
        if required:
            errors.append(FieldError(path, "required field is missing"))
        return
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= 65535:
            errors.append(
                FieldError(path, f"invalid value {value}: must be between 1 and 65535, inclusive")
            )
        return
    if isinstance(value, str) and named:
        if value.isdigit():
            if not 1 <= int(value) <= 65535:
                errors.append(
                    FieldError(path, f"invalid value {value!r}: must be between 1 and 65535")
                )
        elif not is_port_name(value):
            errors.append(
                FieldError(
                    path,
                    f"invalid value {value!r}: a port is a number (1-65535) or the name of a "
                    f"container port; a name {_PORT_NAME_HELP}",
                )
            )
        elif value not in port_names:
            known = ", ".join(sorted(port_names)) or "none"
            errors.append(
                FieldError(
                    path,
                    f"invalid value {value!r}: no container port has this name (port names: "
                    f"{known})",
                )
            )
        return
    expected = "an integer or a port name" if named else "an integer"
    errors.append(FieldError(path, f"expected {expected}, got {meta.type_name(value)}"))


def read_probe(
    container: Mapping[str, Any],
    key: str,
    path: str,
    errors: list[FieldError],
    port_names: set[str],
    *,
    knative: bool = False,
) -> None:
    """``readinessProbe``/``livenessProbe``/``startupProbe``: Kubernetes' ``validateProbe``.

    Exactly one handler (``exec``, ``httpGet``, ``tcpSocket``, ``grpc``); its port a number
    1-65535 or the name of one of the container's ports (``grpc``: a number); the timings and
    thresholds non-negative, and ``successThreshold`` 1 for liveness and startup probes.
    """
    probe = meta.read_mapping(container, key, path, errors)
    if probe is None:
        return
    handlers = [h for h in PROBE_HANDLERS if probe.get(h) is not None]
    if not handlers:
        errors.append(
            FieldError(
                path,
                "must specify a handler type: one of "
                + ", ".join(f"{h!r}" for h in PROBE_HANDLERS),
            )
        )
    for extra in handlers[1:]:
        errors.append(FieldError(f"{path}.{extra}", "may not specify more than 1 handler type"))
    for handler in handlers:
        _read_handler(probe, handler, f"{path}.{handler}", errors, port_names, knative=knative)
    for number in PROBE_NUMBERS:
        fields.read_int(probe, number, f"{path}.{number}", errors, minimum=0)
    fields.read_int(
        probe,
        "terminationGracePeriodSeconds",
        f"{path}.terminationGracePeriodSeconds",
        errors,
        minimum=1,
    )
    threshold = probe.get("successThreshold")
    if key != "readinessProbe" and isinstance(threshold, int) and threshold not in (0, 1):
        errors.append(
            FieldError(f"{path}.successThreshold", f"invalid value {threshold}: must be 1")
        )


def _read_handler(
    probe: Mapping[str, Any],
    handler: str,
    path: str,
    errors: list[FieldError],
    port_names: set[str],
    *,
    knative: bool,
) -> None:
    action = meta.read_mapping(probe, handler, path, errors)
    if action is None:
        return
    if handler == "exec":
        fields.read_str_list(action, "command", f"{path}.command", errors)
        return
    port = f"{path}.port"
    if handler == "grpc":
        _read_probe_port(action, port, errors, port_names, required=True, named=False)
        meta.read_str(action, "service", f"{path}.service", errors)
        return
    # Knative aims a probe without a port at the container's port.
    _read_probe_port(action, port, errors, port_names, required=not knative, named=True)
    meta.read_str(action, "host", f"{path}.host", errors)
    if handler == "httpGet":
        meta.read_str(action, "path", f"{path}.path", errors)
        fields.read_enum(action, "scheme", f"{path}.scheme", errors, HTTP_SCHEMES)
        for header_path, header in fields.read_mappings(
            action, "httpHeaders", f"{path}.httpHeaders", errors
        ):
            meta.read_str(header, "name", f"{header_path}.name", errors, required=True)
            meta.read_str(header, "value", f"{header_path}.value", errors)


def read_volumes(spec: Mapping[str, Any], path: str, errors: list[FieldError]) -> set[str] | None:
    """The names of a pod spec's ``volumes[]`` (unique DNS labels); None when not a list."""
    if spec.get("volumes") is not None and not isinstance(spec.get("volumes"), list):
        fields.read_list(spec, "volumes", path, errors)
        return None
    names: set[str] = set()
    for item_path, volume in fields.read_mappings(spec, "volumes", path, errors):
        name = meta.read_str(volume, "name", f"{item_path}.name", errors, required=True)
        fields.dns_label(name, f"{item_path}.name", errors)
        if name is not None and name in names:
            errors.append(FieldError(f"{item_path}.name", f"duplicate value {name!r}"))
        names.add(name or "")
    return names


def read_container(
    item: Mapping[str, Any],
    path: str,
    errors: list[FieldError],
    volumes: set[str] | None,
    *,
    knative: bool = False,
) -> Container | None:
    """One container at ``path`` (``spec.containers[0]``...); None when it cannot be read.

    ``volumes`` are the pod's volume names that ``volumeMounts`` may name (None: unchecked).
    ``knative``: a Revision's serving container (at most one port, no ``hostPort``, probe
    ports optional).
    """
    name = meta.read_str(item, "name", f"{path}.name", errors, required=True)
    fields.dns_label(name, f"{path}.name", errors)
    image = meta.read_str(item, "image", f"{path}.image", errors, required=True)
    command = fields.read_str_list(item, "command", f"{path}.command", errors)
    args = fields.read_str_list(item, "args", f"{path}.args", errors)
    env = read_env(item, path, errors)
    ports = read_ports(item, path, errors)
    if knative:
        _knative_ports(item, path, errors)
    working_dir = meta.read_str(item, "workingDir", f"{path}.workingDir", errors) or ""
    pull = fields.read_enum(
        item, "imagePullPolicy", f"{path}.imagePullPolicy", errors, PULL_POLICIES
    )
    for key in ("resources", "securityContext"):
        meta.read_mapping(item, key, f"{path}.{key}", errors)
    port_names = {p.name for p in ports if p.name}
    for key in PROBES:
        read_probe(item, key, f"{path}.{key}", errors, port_names, knative=knative)
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


def _knative_ports(item: Mapping[str, Any], path: str, errors: list[FieldError]) -> None:
    """Knative's rules for a Revision's serving container ports (kawa runs one process)."""
    ports = item.get("ports")
    if not isinstance(ports, list):
        return
    if len(ports) > 1:
        errors.append(
            FieldError(
                f"{path}.ports",
                "More than one container port is set: only a single port is allowed",
            )
        )
    for i, port in enumerate(ports):
        if isinstance(port, Mapping) and port.get("hostPort") not in (None, 0):
            errors.append(
                FieldError(
                    f"{path}.ports[{i}].hostPort",
                    "must not set the field(s): a Revision's container cannot bind a host port",
                )
            )
