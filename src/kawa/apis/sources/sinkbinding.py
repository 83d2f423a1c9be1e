"""The SinkBinding kind (sources.knative.dev/v1): injects a sink into other workloads.

``spec.subject`` names the workloads (``apiVersion``, ``kind``, ``namespace`` defaulted to the
binding's, and exactly one of ``name`` or ``selector``); their containers get ``K_SINK`` (the
resolved ``spec.sink``) and ``K_CE_OVERRIDES``. Condition ``SinkProvided`` behind ``Ready``.
Declared in :data:`kawa.apis.sources.KINDS`.
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
KIND: Final = "SinkBinding"
_SPEC_FIELDS: Final = ("subject", "sink", "ceOverrides")
_SUBJECT_FIELDS: Final = ("apiVersion", "kind", "namespace", "name", "selector")

SINKBINDING_CONDITIONS: Final = ConditionSet((kn_common.SINK_PROVIDED,))


@dataclass(frozen=True, slots=True)
class Subject:
    """The workloads bound: one by ``name``, or all matching ``selector``."""

    api_version: str
    kind: str
    namespace: str
    name: str | None
    selector: kn_common.LabelSelector | None


@dataclass(frozen=True, slots=True)
class SinkBinding:
    namespace: str
    name: str
    uid: str
    generation: int
    subject: Subject
    sink: duck.Destination
    ce_overrides: dict[str, str] | None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def default_sinkbinding(obj: Mapping[str, Any]) -> meta.Object:
    """A copy with ``subject.namespace`` and ``sink.ref.namespace`` defaulted."""
    out = kn_common.deep_copy(obj)
    spec = out.get("spec")
    if isinstance(spec, dict):
        namespace = meta.namespace_of(out)
        kn_common.default_sink(spec, namespace)
        subject = spec.get("subject")
        if isinstance(subject, dict) and not subject.get("namespace"):
            subject["namespace"] = namespace
    return out


def _read_subject(value: Any, errors: list[FieldError], namespace: str) -> Subject | None:
    path = "spec.subject"
    if not isinstance(value, Mapping):
        message = "required field is missing" if value is None else "expected a mapping"
        errors.append(FieldError(path, message))
        return None
    before = len(errors)
    kn_common.unknown_fields(value, _SUBJECT_FIELDS, path, errors)
    api_version = meta.read_str(value, "apiVersion", f"{path}.apiVersion", errors, required=True)
    kind = meta.read_str(value, "kind", f"{path}.kind", errors, required=True)
    subject_ns = meta.read_str(value, "namespace", f"{path}.namespace", errors) or namespace
    if subject_ns != namespace:
        errors.append(
            FieldError(
                f"{path}.namespace",
                f"must be the SinkBinding's namespace {namespace!r}, got {subject_ns!r}",
            )
        )
    name = meta.read_str(value, "name", f"{path}.name", errors)
    selector = kn_common.read_label_selector(value.get("selector"), f"{path}.selector", errors)
    if (name is None) == (value.get("selector") is None):
        errors.append(
            FieldError(
                path,
                "expected exactly one of name or selector, got "
                + ("both" if name is not None else "neither"),
            )
        )
    if len(errors) > before or api_version is None or kind is None:
        return None
    return Subject(api_version, kind, subject_ns, name, selector)


def parse_sinkbinding(obj: Mapping[str, Any]) -> SinkBinding:
    obj = default_sinkbinding(obj)
    errors: list[FieldError] = []
    kn_common.check_header(obj, (API_VERSION,), KIND, errors)
    who = kn_common.identity(obj)
    spec = kn_common.read_spec(obj, _SPEC_FIELDS, errors, required=True)
    subject = _read_subject(spec.get("subject"), errors, who.namespace)
    sink = kn_common.read_sink(spec, "spec.sink", errors, namespace=who.namespace)
    overrides = kn_common.read_ce_overrides(spec.get("ceOverrides"), "spec.ceOverrides", errors)
    kn_common.raise_if_errors(errors, KIND, obj)
    if subject is None or sink is None:
        raise ValidationError.single("spec", "invalid", subject=meta.subject_of(KIND, obj))
    return SinkBinding(who.namespace, who.name, who.uid, who.generation, subject, sink, overrides)


def validate_sinkbinding(obj: Mapping[str, Any]) -> None:
    parse_sinkbinding(obj)


def validate_sinkbinding_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Every field of a SinkBinding may change."""


SCHEMA: Final = kn_schema.kind_schema(
    kn_schema.obj(
        "Gives workloads the address of a sink in K_SINK.",
        {
            "subject": kn_schema.obj(
                "The workloads to bind: one by name, or all matching a selector.",
                {
                    "apiVersion": kn_schema.string("API version of the workloads."),
                    "kind": kn_schema.string("Kind of the workloads (Deployment, Job ...)."),
                    "namespace": kn_schema.string("Their namespace (the binding's)."),
                    "name": kn_schema.string("The one workload bound."),
                    "selector": kn_schema.label_selector("The labels of the workloads bound."),
                },
                required=("apiVersion", "kind"),
            ),
            "sink": kn_schema.destination("Where the workloads send events."),
            "ceOverrides": kn_schema.ce_overrides(),
        },
        required=("subject", "sink"),
    ),
    kn_schema.source_status("The state of the SinkBinding."),
)
