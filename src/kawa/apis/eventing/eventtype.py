"""The EventType kind (eventing.knative.dev/v1beta3, storage, and v1beta2): the event registry.

An EventType describes a kind of event a Broker (or any addressable, ``spec.reference``) can
deliver. v1beta3 describes it with ``attributes[]`` (``{name, required, value}``: ``type``,
``source``, ``specversion`` and ``id`` must be listed); v1beta2 had flat ``type``, ``source``,
``schema``, ``schemaData`` and a deprecated ``broker`` name. :func:`convert_eventtype`
translates both ways, keeping what the other version cannot hold in an annotation so a round
trip is lossless. The whole spec is immutable (Knative). ``ReferenceExists`` feeds ``Ready``.
Declared as :data:`kawa.apis.eventing.EVENTTYPE`; read by the event-registry reconciler.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis import duck, kn_common, kn_schema, meta
from kawa.apis.conditions import Clock, ConditionSet
from kawa.errors import FieldError, ValidationError

GROUP: Final = "eventing.knative.dev"
KIND: Final = "EventType"
API_VERSION: Final = "eventing.knative.dev/v1beta3"
API_VERSION_V1BETA2: Final = "eventing.knative.dev/v1beta2"
API_VERSIONS: Final = (API_VERSION, API_VERSION_V1BETA2)

REQUIRED_ATTRIBUTES: Final = ("type", "source", "specversion", "id")
_ATTRIBUTE_NAME: Final = re.compile(r"[a-z0-9]+")
_SPEC_FIELDS: Final = ("reference", "description", "attributes")
_V1BETA2_FIELDS: Final = (
    "type",
    "source",
    "schema",
    "schemaData",
    "broker",
    "reference",
    "description",
)
# v1beta2 field -> v1beta3 attribute name
_FLAT_ATTRIBUTES: Final = (
    ("type", "type"),
    ("source", "source"),
    ("schema", "dataschema"),
    ("schemaData", "schemadata"),
)

REFERENCE_EXISTS: Final = "ReferenceExists"
EVENTTYPE_CONDITIONS: Final = ConditionSet((REFERENCE_EXISTS,))


@dataclass(frozen=True, slots=True)
class EventAttribute:
    """One CloudEvents attribute of the type: ``value`` may be a template such as ``{name}``."""

    name: str
    required: bool
    value: str


@dataclass(frozen=True, slots=True)
class EventType:
    namespace: str
    name: str
    uid: str
    generation: int
    reference: duck.KReference | None
    description: str
    attributes: tuple[EventAttribute, ...]

    def attribute(self, name: str) -> str:
        """The value of attribute ``name`` (``""`` when not listed or without a value)."""
        return next((a.value for a in self.attributes if a.name == name), "")


def default_eventtype(obj: Mapping[str, Any]) -> meta.Object:
    """A copy with ``spec.reference.namespace`` defaulted to the EventType's namespace."""
    out = kn_common.deep_copy(obj)
    spec = out.get("spec")
    if isinstance(spec, dict):
        ref = spec.get("reference")
        if isinstance(ref, dict) and not ref.get("namespace"):
            ref["namespace"] = meta.namespace_of(out)
    return out


def parse_eventtype(obj: Mapping[str, Any]) -> EventType:
    """Validate an EventType of either version (read as v1beta3) and return its typed view."""
    errors: list[FieldError] = []
    if obj.get("apiVersion") == API_VERSION_V1BETA2:
        spec = obj.get("spec")
        if isinstance(spec, Mapping):
            kn_common.unknown_fields(spec, _V1BETA2_FIELDS, "spec", errors)
            meta.read_str(spec, "type", "spec.type", errors, required=True)
            for key in ("source", "schema", "schemaData", "broker", "description"):
                meta.read_str(spec, key, f"spec.{key}", errors)
        kn_common.raise_if_errors(errors, KIND, obj)
        obj = convert_eventtype(obj, API_VERSION)
    obj = default_eventtype(obj)
    kn_common.check_header(obj, API_VERSIONS, KIND, errors)
    who = kn_common.identity(obj)
    spec = kn_common.read_spec(obj, _SPEC_FIELDS, errors, required=True)
    reference = None
    if spec.get("reference") is not None:
        reference = duck.read_reference(
            spec["reference"], "spec.reference", errors, namespace=who.namespace
        )
    description = meta.read_str(spec, "description", "spec.description", errors) or ""
    attributes = _read_attributes(spec, errors)
    kn_common.raise_if_errors(errors, KIND, obj)
    return EventType(
        who.namespace, who.name, who.uid, who.generation, reference, description, attributes
    )


def _read_attributes(
    spec: Mapping[str, Any], errors: list[FieldError]
) -> tuple[EventAttribute, ...]:
    out: list[EventAttribute] = []
    seen: set[str] = set()
    raw_list = kn_common.read_list(spec, "attributes", "spec.attributes", errors)
    for i, raw in enumerate(raw_list):
        path = f"spec.attributes[{i}]"
        if not isinstance(raw, Mapping):
            errors.append(FieldError(path, f"expected a mapping, got {meta.type_name(raw)}"))
            continue
        kn_common.unknown_fields(raw, ("name", "required", "value"), path, errors)
        name = meta.read_str(raw, "name", f"{path}.name", errors, required=True)
        required = kn_common.read_bool(raw, "required", f"{path}.required", errors)
        value = meta.read_str(raw, "value", f"{path}.value", errors) or ""
        if name is None:
            continue
        if not _ATTRIBUTE_NAME.fullmatch(name):
            errors.append(
                FieldError(f"{path}.name", f"expected lower-case letters and digits, got {name!r}")
            )
        elif name in seen:
            errors.append(FieldError(f"{path}.name", f"duplicate attribute {name!r}"))
        seen.add(name)
        out.append(EventAttribute(name, bool(required), value))
    missing = [name for name in REQUIRED_ATTRIBUTES if name not in seen]
    if missing:
        errors.append(
            FieldError(
                "spec.attributes",
                f"missing required attributes: {', '.join(missing)} "
                f"(every EventType lists {', '.join(REQUIRED_ATTRIBUTES)})",
            )
        )
    return tuple(out)


def validate_eventtype(obj: Mapping[str, Any]) -> None:
    parse_eventtype(obj)


def validate_eventtype_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Every field of the spec is immutable (compared in v1beta3)."""
    old_spec = _storage_spec(old)
    new_spec = _storage_spec(new)
    if old_spec != new_spec:
        raise ValidationError.single(
            "spec",
            "immutable fields changed: an EventType's spec cannot change; delete and recreate it",
            subject=meta.subject_of(KIND, new),
        )


def _storage_spec(obj: Mapping[str, Any]) -> Any:
    converted = default_eventtype(
        convert_eventtype(obj, API_VERSION) if obj.get("apiVersion") != API_VERSION else obj
    )
    return converted.get("spec")


# -- conversion ------------------------------------------------------------------------------


def convert_eventtype(obj: Mapping[str, Any], api_version: str) -> meta.Object:
    """``obj`` (either version) as ``api_version``: v1beta2 flat fields <-> v1beta3 attributes."""
    if api_version not in API_VERSIONS:
        raise kn_common.convert_unsupported(KIND, api_version, API_VERSIONS)
    out = kn_common.deep_copy(obj)
    source_version = out.get("apiVersion")
    out["apiVersion"] = api_version
    spec = out.get("spec")
    if source_version == api_version or not isinstance(spec, dict):
        return out
    if api_version == API_VERSION:
        out["spec"] = _up(out, spec)
    else:
        out["spec"] = _down(out, spec)
    return out


def _up(out: meta.Object, spec: dict[str, Any]) -> dict[str, Any]:
    """v1beta2 -> v1beta3."""
    kept = kn_common.unstash(out, "v1beta3")
    new: dict[str, Any] = {
        k: spec[k] for k in ("reference", "description") if spec.get(k) is not None
    }
    values = {attr: spec.get(field) for field, attr in _FLAT_ATTRIBUTES}
    attributes = kept.get("attributes")
    if isinstance(attributes, list):
        attributes = [dict(a) if isinstance(a, Mapping) else a for a in attributes]
        for attr in attributes:
            if isinstance(attr, dict) and attr.get("name") in values:
                value = values.pop(attr["name"])
                if value is None:
                    attr.pop("value", None)
                else:
                    attr["value"] = value
        attributes.extend(
            {"name": name, "required": name in REQUIRED_ATTRIBUTES, "value": value}
            for name, value in values.items()
            if value is not None
        )
    else:
        attributes = _derive_attributes(values)
    new["attributes"] = attributes
    broker = spec.get("broker")
    lost: dict[str, Any] = {}
    if broker:
        lost["broker"] = broker
        if "reference" not in new:
            new["reference"] = {
                "apiVersion": "eventing.knative.dev/v1",
                "kind": "Broker",
                "name": broker,
            }
            lost["referenceFromBroker"] = True
    kn_common.stash(out, "v1beta2", lost)
    return new


def _derive_attributes(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The v1beta3 attributes of v1beta2's flat fields (by attribute name)."""
    attributes: list[dict[str, Any]] = []
    for name in ("type", "source", "specversion", "id", "dataschema", "schemadata"):
        value = "1.0" if name == "specversion" else values.get(name)
        if name in REQUIRED_ATTRIBUTES or value is not None:
            item: dict[str, Any] = {"name": name, "required": name in REQUIRED_ATTRIBUTES}
            if value is not None:
                item["value"] = value
            attributes.append(item)
    return attributes


def _down(out: meta.Object, spec: dict[str, Any]) -> dict[str, Any]:
    """v1beta3 -> v1beta2."""
    kept = kn_common.unstash(out, "v1beta2")
    new: dict[str, Any] = {}
    attributes = spec.get("attributes")
    items = attributes if isinstance(attributes, list) else []
    by_name = {
        a["name"]: a.get("value")
        for a in items
        if isinstance(a, Mapping) and isinstance(a.get("name"), str)
    }
    for field, attr in _FLAT_ATTRIBUTES:
        if by_name.get(attr) is not None:
            new[field] = by_name[attr]
    if kept.get("broker"):
        new["broker"] = kept["broker"]
    if spec.get("reference") is not None and not kept.get("referenceFromBroker"):
        new["reference"] = spec["reference"]
    if spec.get("description") is not None:
        new["description"] = spec["description"]
    derived = _derive_attributes({attr: new.get(field) for field, attr in _FLAT_ATTRIBUTES})
    if attributes is not None and attributes != derived:
        kn_common.stash(out, "v1beta3", {"attributes": attributes})
    return new


# -- status ----------------------------------------------------------------------------------


def mark_reference_exists(status: dict[str, Any], *, clock: Clock) -> None:
    EVENTTYPE_CONDITIONS.mark_true(status, REFERENCE_EXISTS, clock=clock)


def mark_reference_does_not_exist(status: dict[str, Any], *, clock: Clock) -> None:
    EVENTTYPE_CONDITIONS.mark_false(
        status,
        REFERENCE_EXISTS,
        "ResourceDoesNotExist",
        "Resource in spec.reference does not exist",
        clock=clock,
    )


def mark_reference_not_set(status: dict[str, Any], *, clock: Clock) -> None:
    EVENTTYPE_CONDITIONS.mark_true(
        status, REFERENCE_EXISTS, "ReferenceNotSet", "spec.reference is not set", clock=clock
    )


SCHEMA: Final = kn_schema.kind_schema(
    kn_schema.obj(
        "The kind of event an addressable (usually a Broker) can deliver.",
        {
            "reference": kn_schema.kreference(
                "The addressable (a Broker, a Channel ...) that delivers these events."
            ),
            "description": kn_schema.string("What these events are about, for people."),
            "attributes": kn_schema.array(
                "The CloudEvents attributes of these events; type, source, specversion and "
                "id must be listed.",
                kn_schema.obj(
                    "One CloudEvents attribute.",
                    {
                        "name": kn_schema.string("The attribute's name (lower-case a-z0-9)."),
                        "required": kn_schema.boolean("Whether every event carries it."),
                        "value": kn_schema.string(
                            "Its value; may hold {placeholders} for variable parts."
                        ),
                    },
                    required=("name",),
                ),
            ),
        },
    ),
    kn_schema.status("The state of the EventType."),
)
