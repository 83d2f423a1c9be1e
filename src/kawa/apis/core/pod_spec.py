"""The pod spec (core/v1 ``PodSpec``) and the pod template (``PodTemplateSpec``): what a Pod
runs, and a Pod to make as workloads embed it.

:class:`PodSpec` holds the rules across containers (names unique across containers and init
containers, volume names unique, mounts naming volumes of the Pod: reported together with the
type errors, as Kubernetes does) and the API server's defaults (``restartPolicy: Always``, a
30 s grace period, ``ClusterFirst`` DNS, the ``default`` ServiceAccount, each container's pull
policy, termination message and TCP ports). The containers themselves are
:mod:`kawa.apis.core.containers`. Embedded by the Pod (:mod:`kawa.apis.core.pod`) and by kinds
that make Pods.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, ClassVar, Final, Literal, get_args

from kawa.apis.core.containers import Container, Volume, default_pull_policy, mount_errors
from kawa.apis.core.references import LocalObjectReference
from kawa.apis.model.base import STORED, Context, MergeKey, Model, RawChecked, doc
from kawa.apis.model.objects import ObjectMeta
from kawa.apis.model.types import DnsSubdomain, FreeForm, StringMap, Text
from kawa.errors import FieldError

RestartPolicy = Literal["Always", "OnFailure", "Never"]
DNSPolicy = Literal["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"]

RESTART_POLICIES: Final[tuple[str, ...]] = get_args(RestartPolicy)
DNS_POLICIES: Final[tuple[str, ...]] = get_args(DNSPolicy)
DEFAULT_GRACE_PERIOD: Final = 30


class HostAlias(Model):
    """Host names that resolve to an IP address in the Pod's /etc/hosts."""

    ip: Annotated[Text, doc("The IP address.")]
    hostnames: Annotated[list[str], doc("Host names for the address.")] = []


class PodReadinessGate(Model):
    """An extra condition that must be True for the Pod to be Ready."""

    condition_type: Annotated[str, doc("The condition type in status.conditions.")] = ""


class PodSpec(RawChecked):
    """What runs in a Pod: its containers, volumes and how they run."""

    implied_volumes: ClassVar[frozenset[str]] = frozenset()
    """Volumes a mount may name without the spec declaring them: those whoever makes the Pods
    adds (a JobSink's ``jobsink-event``)."""

    volumes: Annotated[
        list[Volume], doc("Volumes the containers may mount."), MergeKey("name")
    ] = []
    init_containers: Annotated[
        list[Container],
        doc("Containers run to completion, in order, before the others start."),
        MergeKey("name"),
    ] = []
    containers: Annotated[
        list[Container],
        doc("The Pod's containers (at least one).", min_length=1),
        MergeKey("name"),
    ]
    ephemeral_containers: Annotated[
        list[FreeForm],
        doc(
            "Debugging containers added to a running Pod through its ephemeralcontainers "
            "subresource (kawa does not serve it: always empty)."
        ),
        MergeKey("name"),
    ] = []
    restart_policy: Annotated[
        RestartPolicy,
        doc("When to restart exited containers: Always (the default), OnFailure or Never."),
        STORED,
    ] = "Always"
    termination_grace_period_seconds: Annotated[
        int, doc("Seconds between the stop signal and the kill (default 30).", ge=0), STORED
    ] = DEFAULT_GRACE_PERIOD
    active_deadline_seconds: Annotated[
        int | None, doc("Seconds the Pod may run before it is failed.", ge=1)
    ] = None
    dns_policy: Annotated[DNSPolicy, doc("How the Pod resolves names."), STORED] = "ClusterFirst"
    node_selector: Annotated[StringMap | None, doc("Labels a node must have to run the Pod.")] = (
        None
    )
    service_account_name: Annotated[
        DnsSubdomain, doc("The ServiceAccount the Pod runs as (default)."), STORED
    ] = "default"
    automount_service_account_token: Annotated[
        bool | None,
        doc("Whether the Pod's containers get its service account's API token (default: yes)."),
    ] = None
    node_name: Annotated[str, doc("The node the Pod is bound to.")] = ""
    security_context: Annotated[FreeForm | None, doc("Security options of the whole Pod.")] = None
    image_pull_secrets: Annotated[
        list[LocalObjectReference],
        doc("Secrets with credentials for pulling the images."),
        MergeKey("name"),
    ] = []
    hostname: Annotated[str, doc("The Pod's host name (its name when empty).")] = ""
    subdomain: Annotated[str, doc("The Pod's DNS subdomain.")] = ""
    affinity: Annotated[
        FreeForm | None, doc("Scheduling constraints relative to nodes and other Pods.")
    ] = None
    scheduler_name: Annotated[str, doc("The scheduler that places the Pod."), STORED] = (
        "default-scheduler"
    )
    tolerations: Annotated[list[FreeForm], doc("Taints of nodes the Pod tolerates.")] = []
    host_aliases: Annotated[
        list[HostAlias], doc("Entries added to the Pod's /etc/hosts."), MergeKey("ip")
    ] = []
    readiness_gates: Annotated[
        list[PodReadinessGate],
        doc("Extra conditions that must be True for the Pod to be Ready."),
    ] = []
    enable_service_links: Annotated[
        bool | None, doc("Whether Services' addresses are put in environment variables.")
    ] = None

    @classmethod
    def set_defaults(cls, data: dict[str, Any], ctx: Context) -> None:
        """The API server's defaults of every container: the pull policy for its image, the
        termination message file and policy, and TCP ports."""
        for key in ("containers", "initContainers"):
            items = data.get(key)
            for container in items if isinstance(items, list) else ():
                if isinstance(container, dict):
                    _default_container(container)

    @classmethod
    def check_raw(cls, data: Mapping[str, Any]) -> Iterable[FieldError]:
        """Names unique across containers and init containers, volume names unique, and
        every volume mount naming a volume of the Pod (or one of :attr:`implied_volumes`)."""
        volumes = data.get("volumes")
        known: set[str] | None = set() if volumes is None else None
        if isinstance(volumes, list):
            known = set()
            for i, volume in enumerate(volumes):
                name = volume.get("name") if isinstance(volume, Mapping) else None
                if isinstance(name, str) and name:
                    if name in known:
                        yield FieldError(f"volumes[{i}].name", f"duplicate value {name!r}")
                    known.add(name)
        if known is not None:
            known |= cls.implied_volumes
        seen: set[str] = set()
        for key in ("containers", "initContainers"):
            items = data.get(key)
            for i, container in enumerate(items if isinstance(items, list) else ()):
                if not isinstance(container, Mapping):
                    continue
                name = container.get("name")
                if isinstance(name, str) and name:
                    if name in seen:
                        yield FieldError(f"{key}[{i}].name", f"duplicate value {name!r}")
                    seen.add(name)
                yield from (e.nested(f"{key}[{i}]") for e in mount_errors(container, known))

    def check(self, ctx: Context) -> Iterable[FieldError]:
        if self.ephemeral_containers:
            yield FieldError(
                "ephemeralContainers",
                "may not be set: ephemeral containers are added through the Pod's "
                "ephemeralcontainers subresource, which kawa does not serve",
            )


def _default_container(container: dict[str, Any]) -> None:
    image = container.get("image")
    if isinstance(image, str) and not container.get("imagePullPolicy"):
        container["imagePullPolicy"] = default_pull_policy(image)
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    ports = container.get("ports")
    for port in ports if isinstance(ports, list) else ():
        if isinstance(port, dict) and not port.get("protocol"):
            port["protocol"] = "TCP"


class TemplateMeta(ObjectMeta):
    """Labels and annotations of the Pods made from a template."""

    def check(self, ctx: Context) -> Iterable[FieldError]:
        return ()  # a template has no name of its own to check


class PodTemplateSpec(Model):
    """A Pod to make: its labels and annotations, and its spec."""

    metadata: Annotated[
        TemplateMeta | None, doc("Labels and annotations of the Pods made from the template.")
    ] = None
    spec: Annotated[PodSpec, doc("The spec of the Pods made from the template.")]
