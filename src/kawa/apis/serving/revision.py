"""The Revision kind (serving.knative.dev/v1) and the revision template every Service and
Configuration holds.

A :class:`RevisionSpec` is the part of a pod spec Knative lets a Revision set (its field mask:
no ``restartPolicy``, ``nodeName``...) with exactly one container (image required; its name
defaults to ``user-container``), plus ``containerConcurrency`` (0-1000, default 0: unlimited)
and ``timeoutSeconds`` (0-600, default 300). The container is a
:class:`~kawa.apis.core.containers.KnativeContainer` (the Pod's rules plus Knative's); the
rules across the pod spec (volume names, mounts naming volumes) are the Pod's
(:class:`~kawa.apis.core.pod_spec.PodSpec`), checked once the types hold as Knative's
webhook does (ADR 0022: why this is not a PodSpec subclass); the annotations of a Revision and
of a template hold Knative's autoscaling rules (:mod:`kawa.apis.serving.annotations`).
:class:`RevisionTemplateSpec` is ``spec.template`` of Services and Configurations (a template
name must start with ``<parent>-``). A Revision's spec is immutable. Declared in
:data:`kawa.apis.serving.KINDS`; read by the serving reconcilers and the Pods made for a
Revision (:mod:`kawa.serving.revision_pods`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final

from pydantic import BeforeValidator

from kawa.apis import duck, meta
from kawa.apis.conditions import ConditionSet
from kawa.apis.core.containers import (
    KNATIVE_CONTAINER_NAME,
    Container,
    KnativeContainer,
    Volume,
)
from kawa.apis.core.pod_spec import DNSPolicy, HostAlias, PodSpec, TemplateMeta
from kawa.apis.core.references import LocalObjectReference
from kawa.apis.kinds import CellValue
from kawa.apis.model.base import STORED, Context, MergeKey, Model, doc
from kawa.apis.model.objects import KubeObject, ObjectMeta, parse_object
from kawa.apis.model.types import FreeForm, StringMap
from kawa.apis.serving.annotations import annotation_errors
from kawa.errors import FieldError

GROUP: Final = "serving.knative.dev"
API_VERSION: Final = "serving.knative.dev/v1"
KIND: Final = "Revision"

DEFAULT_CONTAINER_NAME: Final = KNATIVE_CONTAINER_NAME
DEFAULT_TIMEOUT_SECONDS: Final = 300
MAX_TIMEOUT_SECONDS: Final = 600
MAX_CONTAINER_CONCURRENCY: Final = 1000
CONFIGURATION_LABEL: Final = "serving.knative.dev/configuration"
CONFIGURATION_GENERATION_LABEL: Final = "serving.knative.dev/configurationGeneration"
SERVICE_LABEL: Final = "serving.knative.dev/service"

RESOURCES_AVAILABLE: Final = "ResourcesAvailable"
CONTAINER_HEALTHY: Final = "ContainerHealthy"
REVISION_CONDITIONS: Final = ConditionSet((RESOURCES_AVAILABLE, CONTAINER_HEALTHY))


def _one_container(value: Any) -> Any:
    if isinstance(value, list) and len(value) > 1:
        raise ValueError(f"expected exactly one container, got {len(value)}")
    return value


class RevisionSpec(Model):
    """The revision's pod: one container and its limits."""

    containers: Annotated[
        list[KnativeContainer],
        BeforeValidator(_one_container),
        doc("The container serving the requests (exactly one).", min_length=1, max_length=1),
        MergeKey("name"),
    ]
    container_concurrency: Annotated[
        int,
        doc(
            "The most requests one replica handles at once (0: no limit).",
            ge=0,
            le=MAX_CONTAINER_CONCURRENCY,
        ),
        STORED,
    ] = 0
    timeout_seconds: Annotated[
        int,
        doc("The longest a request may take, in seconds.", ge=0, le=MAX_TIMEOUT_SECONDS),
        STORED,
    ] = DEFAULT_TIMEOUT_SECONDS
    response_start_timeout_seconds: Annotated[
        int | None, doc("How long the first byte of a response may take, in seconds.", ge=0)
    ] = None
    idle_timeout_seconds: Annotated[
        int | None, doc("How long a request may stay without data, in seconds.", ge=0)
    ] = None
    service_account_name: Annotated[str, doc("The service account the pod runs as.")] = ""
    volumes: Annotated[list[Volume], doc("Volumes the container may mount."), MergeKey("name")] = []
    image_pull_secrets: Annotated[
        list[LocalObjectReference],
        doc("Secrets with credentials for pulling the image."),
        MergeKey("name"),
    ] = []
    enable_service_links: Annotated[
        bool | None, doc("Whether Services' addresses are put in environment variables.")
    ] = None
    node_selector: Annotated[StringMap | None, doc("Labels a node must have.")] = None
    affinity: Annotated[FreeForm | None, doc("Scheduling affinity.")] = None
    tolerations: Annotated[list[FreeForm], doc("Taints of nodes the pod tolerates.")] = []
    security_context: Annotated[FreeForm | None, doc("Security options of the pod.")] = None
    runtime_class_name: Annotated[str | None, doc("The RuntimeClass the pod runs with.")] = None
    priority_class_name: Annotated[str, doc("The PriorityClass of the pod.")] = ""
    scheduler_name: Annotated[str, doc("The scheduler that places the pod.")] = ""
    topology_spread_constraints: Annotated[
        list[FreeForm], doc("How the replicas spread across the topology.")
    ] = []
    dns_policy: Annotated[DNSPolicy | None, doc("How the pod resolves names.")] = None
    dns_config: Annotated[FreeForm | None, doc("DNS settings of the pod.")] = None
    host_aliases: Annotated[
        list[HostAlias], doc("Entries added to the pod's /etc/hosts."), MergeKey("ip")
    ] = []
    init_containers: Annotated[
        list[Container],
        doc("Containers run to completion, in order, before the serving container starts."),
        MergeKey("name"),
    ] = []

    @property
    def container(self) -> KnativeContainer:
        """The serving container."""
        return self.containers[0]

    @property
    def image(self) -> str:
        return self.container.image

    @classmethod
    def set_defaults(cls, data: dict[str, Any], ctx: Context) -> None:
        """The one container is named ``user-container`` when it has no name."""
        containers = data.get("containers")
        if (
            isinstance(containers, list)
            and len(containers) == 1
            and isinstance(containers[0], dict)
            and not containers[0].get("name")
        ):
            containers[0]["name"] = DEFAULT_CONTAINER_NAME

    def check(self, ctx: Context) -> Iterable[FieldError]:
        """The Pod's rules across the spec (names unique, every mount naming a volume), once
        the types hold: Knative's webhook runs after the CRD's schema."""
        return PodSpec.check_raw(
            self.model_dump(by_alias=True, include={"volumes", "containers", "init_containers"})
        )


class RevisionTemplateMeta(TemplateMeta):
    """Name (optional, prefixed with the parent's name), labels and annotations of the
    Revisions made from the template."""

    def check(self, ctx: Context) -> Iterable[FieldError]:
        if self.name and not self.name.startswith(f"{ctx.name}-"):
            yield FieldError(
                "name", f"a revision name must start with {ctx.name + '-'!r}, got {self.name!r}"
            )
        yield from annotation_errors(self.annotations, "annotations")


class RevisionTemplateSpec(Model):
    """The revision to create: each change of it creates a new Revision."""

    metadata: Annotated[
        RevisionTemplateMeta | None,
        doc("Name (optional, prefixed with the parent's name), labels, annotations."),
    ] = None
    spec: Annotated[RevisionSpec, doc("The revision's pod: one container and its limits.")]

    @property
    def name(self) -> str:
        """The Revision's name the template gives, ``""`` when none."""
        return self.metadata.name if self.metadata is not None else ""


class RevisionMeta(ObjectMeta):
    """Standard object metadata; the annotations hold Knative's autoscaling rules."""

    def check(self, ctx: Context) -> Iterable[FieldError]:
        yield from super().check(ctx)
        yield from annotation_errors(self.annotations, "annotations")


class Revision(KubeObject):
    """An immutable snapshot of code and configuration."""

    metadata: Annotated[RevisionMeta, doc("Standard object metadata.")]
    spec: Annotated[RevisionSpec, doc("The immutable snapshot of code and configuration.")]

    @property
    def configuration(self) -> str:
        """The Configuration that created it (its label), ``""`` when none."""
        return self.labels.get(CONFIGURATION_LABEL, "")

    @classmethod
    def check_update(cls, old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterable[FieldError]:
        """A Revision is a snapshot: its spec never changes."""
        if old.get("spec") != new.get("spec"):
            yield FieldError(
                "spec",
                "immutable fields changed: a Revision's spec cannot change; change its "
                "Configuration or Service to create a new Revision",
            )


class ContainerStatus(Model):
    """The image a container of the Revision runs."""

    name: Annotated[str | None, doc("The container's name.")] = None
    image_digest: Annotated[str | None, doc("The resolved image digest.")] = None


class RevisionStatus(duck.Status):
    """The state of the Revision."""

    log_url: Annotated[str | None, doc("Where its logs are.")] = None
    image_digest: Annotated[str | None, doc("The resolved image digest.")] = None
    actual_replicas: Annotated[int | None, doc("The replicas running.")] = None
    desired_replicas: Annotated[int | None, doc("The replicas wanted.")] = None
    container_statuses: Annotated[
        list[ContainerStatus] | None, doc("The image each container runs.")
    ] = None


def parse_revision(obj: Mapping[str, Any]) -> Revision:
    """A Revision defaulted, validated and typed (raises ValidationError)."""
    return parse_object(Revision, obj, kind=KIND, api_versions=(API_VERSION,), namespaced=True)


def label_cell(label: str) -> CellValue:
    """A printer-column value: the object's label ``label``."""

    def cell(obj: Mapping[str, Any]) -> Any:
        labels = meta.metadata_of(obj).get("labels")
        return labels.get(label) if isinstance(labels, Mapping) else None

    return cell
