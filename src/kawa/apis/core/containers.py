"""Containers (core/v1 ``Container``) and volumes: the declarations every kind that runs
containers embeds.

One declaration for every place a container is written -- a Pod (:mod:`kawa.apis.core.pod`,
through :class:`kawa.apis.core.pod_spec.PodSpec`), a Knative Revision template
(:mod:`kawa.apis.serving`) and a ContainerSource template (:mod:`kawa.apis.sources`) -- so the
same container is accepted or refused the same way everywhere. :class:`Container` holds
Kubernetes' rules (name, image, env names, ports, volume mounts, probes:
:mod:`kawa.apis.core.probes`); :class:`KnativeContainer` adds those of a Revision's serving
container (at most one port, no ``hostPort``, probe ports optional: Knative aims them at the
container's port). The rules across containers (unique names, mounts of declared volumes) and
the API server's defaults belong to the pod spec (:mod:`kawa.apis.core.pod_spec`, with
``PodTemplateSpec``).

"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, ClassVar, Final, Literal, get_args

from pydantic import AfterValidator, ConfigDict

from kawa.apis.core.probes import PORT_NAME_HELP, PROBE_HANDLERS, Probe, is_port_name
from kawa.apis.core.probes import is_unset_port as _is_unset_port
from kawa.apis.model.base import Context, MergeKey, Model, RawChecked, doc
from kawa.apis.model.types import (
    DnsLabel,
    FreeForm,
    Quantity,
    Text,
)
from kawa.errors import FieldError

Protocol = Literal["TCP", "UDP", "SCTP"]
PullPolicy = Literal["Always", "IfNotPresent", "Never"]

PROTOCOLS: Final[tuple[str, ...]] = get_args(Protocol)
PULL_POLICIES: Final[tuple[str, ...]] = get_args(PullPolicy)
PROBES: Final = ("readinessProbe", "livenessProbe", "startupProbe")


def default_pull_policy(image: str) -> str:
    """``Always`` for an untagged or ``:latest`` image, ``IfNotPresent`` otherwise."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    return "Always" if ":" not in last or last.endswith(":latest") else "IfNotPresent"


# -- environment -------------------------------------------------------------------------------


_ENV_NAME: Final = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")


def _env_name(name: str) -> str:
    if not _ENV_NAME.fullmatch(name):
        raise ValueError(
            f"invalid value {name!r}: a valid environment variable name must consist of "
            "alphabetic characters, digits, '_', '-', or '.', and must not start with a digit"
        )
    return name


class ObjectFieldSelector(Model):
    """A field of the Pod (metadata.name, metadata.namespace, spec.nodeName...)."""

    api_version: Annotated[str, doc("The version of the schema fieldPath is written in.")] = ""
    field_path: Annotated[str, doc("The path of the field.")] = ""


class ResourceFieldSelector(Model):
    """A resource request or limit of a container (limits.cpu, requests.memory...)."""

    container_name: Annotated[str, doc("The container (this one when empty).")] = ""
    resource: Annotated[str, doc("The resource: limits.cpu, requests.memory...")] = ""
    divisor: Annotated[Quantity | None, doc("The unit the value is given in (1 when empty).")] = (
        None
    )


class KeySelector(Model):
    """A key of a ConfigMap or Secret in the Pod's namespace."""

    name: Annotated[str, doc("The name of the ConfigMap or Secret.")] = ""
    key: Annotated[str, doc("The key to read.")] = ""
    optional: Annotated[
        bool | None, doc("Whether the variable is left out when the key does not exist.")
    ] = None


class EnvVarSource(Model):
    """Where an environment variable's value is read from."""

    field_ref: Annotated[ObjectFieldSelector | None, doc("A field of the Pod.")] = None
    resource_field_ref: Annotated[
        ResourceFieldSelector | None, doc("A resource request or limit of a container.")
    ] = None
    config_map_key_ref: Annotated[KeySelector | None, doc("A key of a ConfigMap.")] = None
    secret_key_ref: Annotated[KeySelector | None, doc("A key of a Secret.")] = None


class EnvVar(Model):
    """An environment variable of the container's process."""

    name: Annotated[Text, AfterValidator(_env_name), doc("Name of the variable.")]
    value: Annotated[
        str | None, doc("Value of the variable; $(OTHER) references are expanded.")
    ] = None
    value_from: Annotated[
        EnvVarSource | None,
        doc("Where to read the value from instead (a ConfigMap or Secret key, a field...)."),
    ] = None

    def check(self, ctx: Context) -> Iterable[FieldError]:
        if self.value and self.value_from is not None:
            yield FieldError("valueFrom", "may not be specified when `value` is not empty")


class NamedReference(Model):
    """A ConfigMap or Secret by name."""

    name: Annotated[str, doc("The name of the ConfigMap or Secret.")] = ""
    optional: Annotated[bool | None, doc("Whether it may be missing.")] = None


class EnvFromSource(Model):
    """A ConfigMap or Secret whose keys become environment variables, with an optional prefix."""

    prefix: Annotated[str, doc("A prefix put before each key.")] = ""
    config_map_ref: Annotated[NamedReference | None, doc("The ConfigMap to read.")] = None
    secret_ref: Annotated[NamedReference | None, doc("The Secret to read.")] = None


# -- ports, mounts, resources --------------------------------------------------------------------


def _port_name(name: str) -> str:
    if name and not is_port_name(name):
        raise ValueError(f"invalid value {name!r}: {PORT_NAME_HELP}")
    return name


class ContainerPort(Model):
    """A network port the container listens on."""

    container_port: Annotated[int, doc("The port number.", ge=1, le=65535)]
    protocol: Annotated[Protocol | None, doc("TCP (the default), UDP or SCTP.")] = None
    name: Annotated[
        str,
        AfterValidator(_port_name),
        doc("A name for the port (an IANA service name), unique in the container."),
    ] = ""
    host_port: Annotated[
        int | None, doc("A port of the host to expose the port on.", ge=0, le=65535)
    ] = None
    host_ip: Annotated[str, doc("The host IP to bind hostPort to.", alias="hostIP")] = ""


def _sub_path(value: str) -> str:
    """Kubernetes' rule: a relative path that never leaves the volume."""
    if value.startswith("/"):
        raise ValueError("must be a relative path")
    if ".." in value.split("/"):
        raise ValueError("must not contain '..'")
    return value


class VolumeMount(Model):
    """A volume of the Pod mounted at a path of the container."""

    name: Annotated[Text, doc("Name of a volume of the Pod.")]
    mount_path: Annotated[Text, doc("Where the volume appears in the container.")]
    sub_path: Annotated[
        str,
        AfterValidator(_sub_path),
        doc("A path inside the volume to mount instead of its root."),
    ] = ""
    sub_path_expr: Annotated[
        str, doc("Like subPath, with $(VAR) references to the container's environment.")
    ] = ""
    read_only: Annotated[bool | None, doc("Whether the mount is read-only.")] = None
    mount_propagation: Annotated[
        Literal["None", "HostToContainer", "Bidirectional"] | None,
        doc("How mounts propagate between the host and the container."),
    ] = None


class VolumeDevice(Model):
    """A raw block volume of the Pod attached as a device of the container."""

    name: Annotated[Text, doc("Name of a volume of the Pod.")]
    device_path: Annotated[Text, doc("The device's path in the container.")]


class ResourceClaim(Model):
    """A resource claim of the Pod the container uses."""

    name: Annotated[Text, doc("The name of a claim in the Pod's resourceClaims.")]


class ResourceRequirements(Model):
    """Compute resources requested and allowed (cpu, memory...)."""

    limits: Annotated[
        dict[str, Quantity] | None, doc("The most of each resource the container may use.")
    ] = None
    requests: Annotated[
        dict[str, Quantity] | None, doc("The least of each resource the container needs.")
    ] = None
    claims: Annotated[list[ResourceClaim], doc("Resource claims the container uses.")] = []


# -- the container -------------------------------------------------------------------------------


class Container(RawChecked):
    """A container of the Pod (kawa runs it as a local process: ``command`` + ``args``)."""

    serving: ClassVar[bool] = False
    """Whether this is a Knative Revision's serving container (probe ports optional)."""

    name: Annotated[DnsLabel, doc("Name of the container (a DNS label), unique in the Pod.")]
    image: Annotated[Text, doc("The image to run; kawa resolves it to a local program.")]
    command: Annotated[list[str], doc("The entrypoint (the image's when empty).")] = []
    args: Annotated[list[str], doc("Arguments to the entrypoint.")] = []
    working_dir: Annotated[str, doc("The working directory of the process.")] = ""
    ports: Annotated[
        list[ContainerPort], doc("Ports the container listens on."), MergeKey("containerPort")
    ] = []
    env_from: Annotated[
        list[EnvFromSource],
        doc("Sources (ConfigMaps, Secrets) whose keys become environment variables."),
    ] = []
    env: Annotated[
        list[EnvVar], doc("Environment variables of the process."), MergeKey("name")
    ] = []
    resources: Annotated[
        ResourceRequirements | None, doc("Compute resources requested and allowed.")
    ] = None
    volume_mounts: Annotated[
        list[VolumeMount], doc("Volumes mounted into the container."), MergeKey("mountPath")
    ] = []
    volume_devices: Annotated[
        list[VolumeDevice],
        doc("Raw block volumes attached as devices."),
        MergeKey("devicePath"),
    ] = []
    liveness_probe: Annotated[
        Probe | None, doc("How to tell that the container must be restarted.")
    ] = None
    readiness_probe: Annotated[
        Probe | None, doc("How to tell that the container is ready for traffic.")
    ] = None
    startup_probe: Annotated[Probe | None, doc("How to tell that the container has started.")] = (
        None
    )
    lifecycle: Annotated[FreeForm | None, doc("Actions run after start and before stop.")] = None
    termination_message_path: Annotated[
        str, doc("A file the process may write its last words to.")
    ] = ""
    termination_message_policy: Annotated[
        Literal["File", "FallbackToLogsOnError"] | None,
        doc("Where the last words come from: File, or FallbackToLogsOnError."),
    ] = None
    image_pull_policy: Annotated[
        PullPolicy | None, doc("When to pull the image: Always, IfNotPresent or Never.")
    ] = None
    security_context: Annotated[FreeForm | None, doc("Security options of the container.")] = None
    stdin: Annotated[bool | None, doc("Whether the container has a standard input.")] = None
    stdin_once: Annotated[
        bool | None, doc("Whether the standard input closes after the first client.")
    ] = None
    tty: Annotated[bool | None, doc("Whether the container has a terminal.")] = None

    @classmethod
    def check_raw(cls, data: Mapping[str, Any]) -> Iterable[FieldError]:
        """The ports of ``httpGet`` and ``tcpSocket`` probes: required (but for a serving
        container) and, when a name, the name of one of the container's ports."""
        ports = data.get("ports")
        names = {
            p["name"]
            for p in (ports if isinstance(ports, list) else ())
            if isinstance(p, Mapping) and isinstance(p.get("name"), str) and p["name"]
        }
        for key in PROBES:
            probe = data.get(key)
            if not isinstance(probe, Mapping):
                continue
            for handler in PROBE_HANDLERS[1:3]:  # httpGet, tcpSocket
                action = probe.get(handler)
                if not isinstance(action, Mapping):
                    continue
                path = f"{key}.{handler}.port"
                port = action.get("port")
                if _is_unset_port(port):
                    if not cls.serving:
                        yield FieldError(path, "required field is missing")
                elif (
                    isinstance(port, str)
                    and not port.isdigit()
                    and is_port_name(port)
                    and port not in names
                ):
                    known = ", ".join(sorted(names)) or "none"
                    yield FieldError(
                        path,
                        f"invalid value {port!r}: no container port has this name (port "
                        f"names: {known})",
                    )

    def check(self, ctx: Context) -> Iterable[FieldError]:
        names: set[str] = set()
        for i, port in enumerate(self.ports):
            if port.name and port.name in names:
                yield FieldError(f"ports[{i}].name", f"duplicate value {port.name!r}")
            names.add(port.name)
        paths: set[str] = set()
        for i, mount in enumerate(self.volume_mounts):
            if mount.mount_path in paths:
                yield FieldError(
                    f"volumeMounts[{i}].mountPath", f"duplicate value {mount.mount_path!r}"
                )
            paths.add(mount.mount_path)
        for key, probe in (
            ("livenessProbe", self.liveness_probe),
            ("startupProbe", self.startup_probe),
        ):
            if probe is not None and probe.success_threshold not in (None, 0, 1):
                yield FieldError(
                    f"{key}.successThreshold",
                    f"invalid value {probe.success_threshold}: must be 1",
                )

    @property
    def pull_policy(self) -> str:
        """``imagePullPolicy``, or its default for the image."""
        return self.image_pull_policy or default_pull_policy(self.image)


KNATIVE_CONTAINER_NAME: Final = "user-container"
"""The name Knative gives a Revision's container that has none."""


class KnativeContainer(Container):
    """The serving container of a Knative Revision: one port at most, no host port; a probe
    without a port is aimed at the container's port."""

    serving: ClassVar[bool] = True

    # Knative does not require the name: the Revision's defaults give the one container
    # KNATIVE_CONTAINER_NAME, so the schema (kubectl's client-side validation, explain) must
    # not say "required" either
    name: Annotated[
        DnsLabel,
        doc(f"Name of the container (a DNS label; default {KNATIVE_CONTAINER_NAME})."),
    ] = KNATIVE_CONTAINER_NAME

    def check(self, ctx: Context) -> Iterable[FieldError]:
        yield from super().check(ctx)
        if len(self.ports) > 1:
            yield FieldError(
                "ports", "More than one container port is set: only a single port is allowed"
            )
        for i, port in enumerate(self.ports):
            if port.host_port not in (None, 0):
                yield FieldError(
                    f"ports[{i}].hostPort",
                    "must not set the field(s): a Revision's container cannot bind a host port",
                )


# -- volumes -------------------------------------------------------------------------------------


class Volume(Model):
    """A named volume the containers may mount; its source (emptyDir, configMap, secret,
    hostPath...) is kept as given."""

    model_config: ClassVar[ConfigDict] = ConfigDict(extra="allow")

    name: Annotated[DnsLabel, doc("Name of the volume (a DNS label), unique in the Pod.")]
    empty_dir: Annotated[FreeForm | None, doc("An empty directory for the Pod's life.")] = None
    config_map: Annotated[FreeForm | None, doc("The keys of a ConfigMap as files.")] = None
    secret: Annotated[FreeForm | None, doc("The keys of a Secret as files.")] = None
    host_path: Annotated[FreeForm | None, doc("A file or directory of the host.")] = None
    persistent_volume_claim: Annotated[
        FreeForm | None, doc("A PersistentVolumeClaim in the Pod's namespace.")
    ] = None
    projected: Annotated[FreeForm | None, doc("Several sources in one directory.")] = None
    downward_api: Annotated[
        FreeForm | None, doc("Fields of the Pod as files.", alias="downwardAPI")
    ] = None


def mount_errors(container: Mapping[str, Any], volumes: set[str] | None) -> list[FieldError]:
    """The ``volumeMounts`` of a raw container that name no volume in ``volumes`` (``None``:
    the volumes are unknown, nothing is checked); paths relative to the container."""
    mounts = container.get("volumeMounts")
    if volumes is None or not isinstance(mounts, list):
        return []
    return [
        FieldError(f"volumeMounts[{j}].name", f"not found: no volume {mount['name']!r}")
        for j, mount in enumerate(mounts)
        if isinstance(mount, Mapping)
        and isinstance(mount.get("name"), str)
        and mount["name"]
        and mount["name"] not in volumes
    ]
