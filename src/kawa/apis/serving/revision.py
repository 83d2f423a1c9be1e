"""The Revision kind (serving.knative.dev/v1) and the revision template every Service and
Configuration holds.

A RevisionSpec is a pod spec with exactly one container (image required; its name defaults to
``user-container``) plus ``containerConcurrency`` (0-1000, default 0: unlimited) and
``timeoutSeconds`` (0-600, default 300); the container is checked with the Pod's rules plus
Knative's (:mod:`kawa.apis.core.containers`), the annotations with Knative's autoscaling rules
(:mod:`kawa.apis.serving.annotations`). :func:`read_template` validates
``spec.template {metadata, spec}`` for Services and Configurations (a template name must start
with ``<parent>-``); :func:`default_template` applies the defaults. A Revision's spec is
immutable. Declared in :data:`kawa.apis.serving.KINDS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis import kn_common, kn_schema, meta
from kawa.apis.conditions import ConditionSet
from kawa.apis.kinds import CellValue
from kawa.apis.serving.annotations import annotation_errors
from kawa.errors import FieldError, ValidationError

GROUP: Final = "serving.knative.dev"
API_VERSION: Final = "serving.knative.dev/v1"
KIND: Final = "Revision"

DEFAULT_CONTAINER_NAME: Final = "user-container"
DEFAULT_TIMEOUT_SECONDS: Final = 300
MAX_TIMEOUT_SECONDS: Final = 600
MAX_CONTAINER_CONCURRENCY: Final = 1000
CONFIGURATION_LABEL: Final = "serving.knative.dev/configuration"
CONFIGURATION_GENERATION_LABEL: Final = "serving.knative.dev/configurationGeneration"
SERVICE_LABEL: Final = "serving.knative.dev/service"

_REVISION_SPEC_FIELDS: Final = (
    "containers",
    "containerConcurrency",
    "timeoutSeconds",
    "responseStartTimeoutSeconds",
    "idleTimeoutSeconds",
    "serviceAccountName",
    "volumes",
    "imagePullSecrets",
    "enableServiceLinks",
    "nodeSelector",
    "affinity",
    "tolerations",
    "securityContext",
    "runtimeClassName",
    "priorityClassName",
    "schedulerName",
    "topologySpreadConstraints",
    "dnsPolicy",
    "dnsConfig",
    "hostAliases",
    "initContainers",
)

RESOURCES_AVAILABLE: Final = "ResourcesAvailable"
CONTAINER_HEALTHY: Final = "ContainerHealthy"
REVISION_CONDITIONS: Final = ConditionSet((RESOURCES_AVAILABLE, CONTAINER_HEALTHY))


@dataclass(frozen=True, slots=True)
class RevisionSpec:
    """A validated revision spec; ``container`` is its one container (a private copy)."""

    container: dict[str, Any]
    container_concurrency: int
    timeout_seconds: int
    service_account_name: str

    @property
    def image(self) -> str:
        return str(self.container["image"])


@dataclass(frozen=True, slots=True)
class Revision:
    namespace: str
    name: str
    uid: str
    generation: int
    spec: RevisionSpec
    configuration: str
    """The Configuration that created it (its label), ``""`` when none."""

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def default_revision_spec(spec: Any) -> None:
    """Knative's defaults on a revision spec dict, in place."""
    if not isinstance(spec, dict):
        return
    spec.setdefault("containerConcurrency", 0)
    spec.setdefault("timeoutSeconds", DEFAULT_TIMEOUT_SECONDS)
    containers = spec.get("containers")
    if (
        isinstance(containers, list)
        and len(containers) == 1
        and isinstance(containers[0], dict)
        and not containers[0].get("name")
    ):
        containers[0]["name"] = DEFAULT_CONTAINER_NAME


def default_template(spec: Any) -> None:
    """The defaults of ``spec.template.spec`` of a Service or Configuration spec dict."""
    if isinstance(spec, dict):
        template = spec.get("template")
        if isinstance(template, dict):
            default_revision_spec(template.get("spec"))


def read_revision_spec(value: Any, path: str, errors: list[FieldError]) -> RevisionSpec | None:
    if not isinstance(value, Mapping):
        message = "required field is missing" if value is None else "expected a mapping"
        errors.append(FieldError(path, message))
        return None
    before = len(errors)
    kn_common.unknown_fields(value, _REVISION_SPEC_FIELDS, path, errors)
    containers = kn_common.read_containers(
        value, meta.join(path, "containers"), errors, single=True
    )
    concurrency = kn_common.read_int(
        value,
        "containerConcurrency",
        meta.join(path, "containerConcurrency"),
        errors,
        minimum=0,
        maximum=MAX_CONTAINER_CONCURRENCY,
    )
    timeout = kn_common.read_int(
        value,
        "timeoutSeconds",
        meta.join(path, "timeoutSeconds"),
        errors,
        minimum=0,
        maximum=MAX_TIMEOUT_SECONDS,
    )
    account = meta.read_str(
        value, "serviceAccountName", meta.join(path, "serviceAccountName"), errors
    )
    if len(errors) > before or len(containers) != 1:
        return None
    return RevisionSpec(
        dict(containers[0]),
        concurrency or 0,
        DEFAULT_TIMEOUT_SECONDS if timeout is None else timeout,
        account or "",
    )


def read_template(
    spec: Mapping[str, Any], errors: list[FieldError], *, parent: str
) -> RevisionSpec | None:
    """``spec.template`` of a Service or Configuration named ``parent``."""
    template = spec.get("template")
    if not isinstance(template, Mapping):
        message = "required field is missing" if template is None else "expected a mapping"
        errors.append(FieldError("spec.template", message))
        return None
    kn_common.unknown_fields(template, ("metadata", "spec"), "spec.template", errors)
    metadata = template.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        errors.append(FieldError("spec.template.metadata", "expected a mapping"))
    elif isinstance(metadata, Mapping):
        for key in ("labels", "annotations"):
            errors.extend(
                meta.string_map_errors(metadata.get(key), f"spec.template.metadata.{key}")
            )
        errors.extend(
            annotation_errors(metadata.get("annotations"), "spec.template.metadata.annotations")
        )
        name = metadata.get("name")
        if name is not None and (not isinstance(name, str) or not name.startswith(f"{parent}-")):
            errors.append(
                FieldError(
                    "spec.template.metadata.name",
                    f"a revision name must start with {parent + '-'!r}, got {name!r}",
                )
            )
    return read_revision_spec(template.get("spec"), "spec.template.spec", errors)


def default_revision(obj: Mapping[str, Any]) -> meta.Object:
    out = kn_common.deep_copy(obj)
    default_revision_spec(out.get("spec"))
    return out


def parse_revision(obj: Mapping[str, Any]) -> Revision:
    obj = default_revision(obj)
    errors: list[FieldError] = []
    kn_common.check_header(obj, (API_VERSION,), KIND, errors)
    who = kn_common.identity(obj)
    spec = read_revision_spec(obj.get("spec"), "spec", errors)
    errors.extend(
        annotation_errors(meta.metadata_of(obj).get("annotations"), "metadata.annotations")
    )
    kn_common.raise_if_errors(errors, KIND, obj)
    if spec is None:
        raise ValidationError.single("spec", "invalid", subject=meta.subject_of(KIND, obj))
    labels = meta.metadata_of(obj).get("labels")
    configuration = labels.get(CONFIGURATION_LABEL, "") if isinstance(labels, Mapping) else ""
    return Revision(who.namespace, who.name, who.uid, who.generation, spec, str(configuration))


def validate_revision(obj: Mapping[str, Any]) -> None:
    parse_revision(obj)


def validate_revision_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """A Revision is a snapshot: its spec never changes."""
    if default_revision(old).get("spec") != default_revision(new).get("spec"):
        raise ValidationError.single(
            "spec",
            "immutable fields changed: a Revision's spec cannot change; change its "
            "Configuration or Service to create a new Revision",
            subject=meta.subject_of(KIND, new),
        )


def label_cell(label: str) -> CellValue:
    """A printer-column value: the object's label ``label``."""

    def cell(obj: Mapping[str, Any]) -> Any:
        labels = meta.metadata_of(obj).get("labels")
        return labels.get(label) if isinstance(labels, Mapping) else None

    return cell


def revision_spec_schema(description: str) -> kn_schema.Schema:
    schema = kn_schema.pod_spec(description)
    schema["properties"].update(
        {
            "containerConcurrency": kn_schema.integer(
                "The most requests one replica handles at once (0: no limit).",
                minimum=0,
                maximum=MAX_CONTAINER_CONCURRENCY,
            ),
            "timeoutSeconds": kn_schema.integer(
                "The longest a request may take, in seconds.",
                minimum=0,
                maximum=MAX_TIMEOUT_SECONDS,
            ),
            "responseStartTimeoutSeconds": kn_schema.integer(
                "How long the first byte of a response may take, in seconds.", minimum=0
            ),
            "idleTimeoutSeconds": kn_schema.integer(
                "How long a request may stay without data, in seconds.", minimum=0
            ),
        }
    )
    return schema


def template_schema() -> kn_schema.Schema:
    return kn_schema.obj(
        "The revision to create: each change of it creates a new Revision.",
        {
            "metadata": kn_schema.object_metadata(
                "Name (optional, prefixed with the parent's name), labels, annotations."
            ),
            "spec": revision_spec_schema("The revision's pod: one container and its limits."),
        },
    )


SCHEMA: Final = kn_schema.kind_schema(
    revision_spec_schema("The immutable snapshot of code and configuration."),
    kn_schema.status(
        "The state of the Revision.",
        {
            "logUrl": kn_schema.string("Where its logs are."),
            "imageDigest": kn_schema.string("The resolved image digest."),
            "actualReplicas": kn_schema.integer("The replicas running."),
            "desiredReplicas": kn_schema.integer("The replicas wanted."),
        },
    ),
)
