"""The ContainerSource kind (sources.knative.dev/v1): a container that produces events.

``spec.template`` is a PodTemplateSpec (``metadata``, ``spec.containers[]`` each with a name,
defaulted to ``<source name>-<index>``, and an image); the container gets ``K_SINK`` (the
resolved ``spec.sink``) and ``K_CE_OVERRIDES`` in its environment. Conditions
``SinkBindingReady`` and ``ReceiveAdapterReady`` behind ``Ready``. Declared in
:data:`kawa.apis.sources.KINDS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis import duck, kn_common, kn_schema, meta
from kawa.apis.conditions import ConditionSet
from kawa.errors import FieldError, ValidationError

GROUP: Final = "sources.knative.dev"
API_VERSION: Final = "sources.knative.dev/v1"
KIND: Final = "ContainerSource"
_SPEC_FIELDS: Final = ("template", "sink", "ceOverrides")

SINK_BINDING_READY: Final = "SinkBindingReady"
RECEIVE_ADAPTER_READY: Final = "ReceiveAdapterReady"
CONTAINERSOURCE_CONDITIONS: Final = ConditionSet((SINK_BINDING_READY, RECEIVE_ADAPTER_READY))


@dataclass(frozen=True, slots=True)
class ContainerSource:
    namespace: str
    name: str
    uid: str
    generation: int
    template: dict[str, Any]
    """The PodTemplateSpec, validated, as a private copy."""
    sink: duck.Destination
    ce_overrides: dict[str, str] | None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def default_containersource(obj: Mapping[str, Any]) -> meta.Object:
    """A copy with container names defaulted (``<name>-<index>``) and the sink's namespace."""
    out = kn_common.deep_copy(obj)
    spec = out.get("spec")
    if not isinstance(spec, dict):
        return out
    kn_common.default_sink(spec, meta.namespace_of(out))
    template = spec.get("template")
    pod = template.get("spec") if isinstance(template, dict) else None
    containers = pod.get("containers") if isinstance(pod, dict) else None
    name = meta.metadata_of(out).get("name")
    for i, container in enumerate(containers if isinstance(containers, list) else []):
        if isinstance(container, dict) and not container.get("name") and isinstance(name, str):
            container["name"] = f"{name}-{i}"
    return out


def read_pod_template(value: Any, path: str, errors: list[FieldError]) -> dict[str, Any] | None:
    """A PodTemplateSpec: ``spec.containers`` non-empty, each with a unique name and an image."""
    if not isinstance(value, Mapping):
        message = "required field is missing" if value is None else "expected a mapping"
        errors.append(FieldError(path, message))
        return None
    before = len(errors)
    kn_common.unknown_fields(value, ("metadata", "spec"), path, errors)
    metadata = value.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            errors.append(FieldError(f"{path}.metadata", "expected a mapping"))
        else:
            errors.extend(meta.string_map_errors(metadata.get("labels"), f"{path}.metadata.labels"))
            errors.extend(
                meta.string_map_errors(metadata.get("annotations"), f"{path}.metadata.annotations")
            )
    pod = value.get("spec")
    if not isinstance(pod, Mapping):
        errors.append(FieldError(f"{path}.spec", "required field is missing (a pod spec)"))
        return None
    kn_common.read_containers(pod, f"{path}.spec.containers", errors, single=False)
    return None if len(errors) > before else dict(value)


def parse_containersource(obj: Mapping[str, Any]) -> ContainerSource:
    obj = default_containersource(obj)
    errors: list[FieldError] = []
    kn_common.check_header(obj, (API_VERSION,), KIND, errors)
    who = kn_common.identity(obj)
    spec = kn_common.read_spec(obj, _SPEC_FIELDS, errors, required=True)
    template = read_pod_template(spec.get("template"), "spec.template", errors)
    sink = kn_common.read_sink(spec, "spec.sink", errors, namespace=who.namespace)
    overrides = kn_common.read_ce_overrides(spec.get("ceOverrides"), "spec.ceOverrides", errors)
    kn_common.raise_if_errors(errors, KIND, obj)
    if template is None or sink is None:
        raise ValidationError.single("spec", "invalid", subject=meta.subject_of(KIND, obj))
    return ContainerSource(
        who.namespace, who.name, who.uid, who.generation, template, sink, overrides
    )


def validate_containersource(obj: Mapping[str, Any]) -> None:
    parse_containersource(obj)


def validate_containersource_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Every field of a ContainerSource may change."""


SCHEMA: Final = kn_schema.kind_schema(
    kn_schema.obj(
        "Runs a container that sends events to the sink (K_SINK in its environment).",
        {
            "template": kn_schema.obj(
                "The pod to run.",
                {
                    "metadata": kn_schema.object_metadata("Labels and annotations of the pod."),
                    "spec": kn_schema.pod_spec("The pod's spec."),
                },
                required=("spec",),
            ),
            "sink": kn_schema.destination("Where the events are sent."),
            "ceOverrides": kn_schema.ce_overrides(),
        },
        required=("template", "sink"),
    ),
    kn_schema.source_status("The state of the ContainerSource."),
)
