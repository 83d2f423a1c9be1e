"""The EventType kind (eventing.knative.dev/v1beta3, storage, and v1beta2): the event registry.

An EventType describes a kind of event a Broker (or any addressable, ``spec.reference``) can
deliver. v1beta3 describes it with ``attributes[]`` (``{name, required, value}``: names are
lower-case letters and digits, each listed once, and ``type``, ``source``, ``specversion`` and
``id`` must be listed); v1beta2 had flat ``type`` (required), ``source``, ``schema``,
``schemaData`` and a deprecated ``broker`` name (:class:`EventTypeSpecV1Beta2`, checked when
such an object is converted). :func:`convert_eventtype` translates both ways, keeping what the
other version cannot hold in an annotation so a round trip is lossless. The whole spec is
immutable (Knative). ``ReferenceExists`` feeds ``Ready``. Declared as
:data:`kawa.apis.eventing.EVENTTYPE`; read by the event-registry reconciler.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, Final

from pydantic import AfterValidator, Field

from kawa.apis import duck, kn_common, meta
from kawa.apis.conditions import Clock, ConditionSet
from kawa.apis.model.base import Context, Immutable, Model, doc
from kawa.apis.model.objects import KubeObject, parse_object
from kawa.apis.model.parse import validate
from kawa.apis.model.types import Text
from kawa.errors import FieldError

GROUP: Final = "eventing.knative.dev"
KIND: Final = "EventType"
API_VERSION: Final = "eventing.knative.dev/v1beta3"
API_VERSION_V1BETA2: Final = "eventing.knative.dev/v1beta2"
API_VERSIONS: Final = (API_VERSION, API_VERSION_V1BETA2)

REQUIRED_ATTRIBUTES: Final = ("type", "source", "specversion", "id")
_ATTRIBUTE_NAME: Final = re.compile(r"[a-z0-9]+")
# v1beta2 field -> v1beta3 attribute name
_FLAT_ATTRIBUTES: Final = (
    ("type", "type"),
    ("source", "source"),
    ("schema", "dataschema"),
    ("schemaData", "schemadata"),
)

REFERENCE_EXISTS: Final = "ReferenceExists"
EVENTTYPE_CONDITIONS: Final = ConditionSet((REFERENCE_EXISTS,))


def _attribute_name(name: str) -> str:
    if not _ATTRIBUTE_NAME.fullmatch(name):
        raise ValueError(f"expected lower-case letters and digits, got {name!r}")
    return name


class EventAttribute(Model):
    """One CloudEvents attribute."""

    name: Annotated[
        Text, AfterValidator(_attribute_name), doc("The attribute's name (lower-case a-z0-9).")
    ]
    required: Annotated[bool, doc("Whether every event carries it.")] = False
    value: Annotated[str, doc("Its value; may hold {placeholders} for variable parts.")] = ""


class EventTypeSpec(Model):
    """The kind of event an addressable (usually a Broker) can deliver."""

    reference: Annotated[
        duck.KReference | None,
        doc("The addressable (a Broker, a Channel ...) that delivers these events."),
    ] = None
    description: Annotated[str, doc("What these events are about, for people.")] = ""
    attributes: Annotated[
        list[EventAttribute],
        doc(
            "The CloudEvents attributes of these events; type, source, specversion and id "
            "must be listed."
        ),
    ] = []

    def attribute(self, name: str) -> str:
        """The value of attribute ``name`` (``""`` when not listed or without a value)."""
        return next((a.value for a in self.attributes if a.name == name), "")

    def check(self, ctx: Context) -> Iterable[FieldError]:
        seen: set[str] = set()
        for i, attribute in enumerate(self.attributes):
            if attribute.name in seen:
                yield FieldError(f"attributes[{i}].name", f"duplicate attribute {attribute.name!r}")
            seen.add(attribute.name)
        missing = [name for name in REQUIRED_ATTRIBUTES if name not in seen]
        if missing:
            yield FieldError(
                "attributes",
                f"missing required attributes: {', '.join(missing)} "
                f"(every EventType lists {', '.join(REQUIRED_ATTRIBUTES)})",
            )


class EventType(KubeObject):
    """An EventType describes a kind of event an addressable (usually a Broker) can deliver."""

    spec: Annotated[
        EventTypeSpec,
        doc("The kind of event an addressable (usually a Broker) can deliver; immutable."),
        Immutable("an EventType's spec cannot change: delete and recreate it"),
    ]


class EventTypeStatus(duck.Status):
    """The state of the EventType."""


class EventTypeSpecV1Beta2(Model):
    """The spec of a v1beta2 EventType (checked before it is converted to v1beta3)."""

    type: Annotated[Text, doc("The CloudEvents type of these events.")]
    source: Annotated[str | None, doc("The CloudEvents source of these events.")] = None
    schema_: Annotated[
        str | None, Field(alias="schema", description="The schema of the events' data.")
    ] = None
    schema_data: Annotated[str | None, doc("The schema itself, inline.")] = None
    broker: Annotated[str | None, doc("Deprecated: the Broker delivering these events.")] = None
    reference: Annotated[
        duck.KReference | None, doc("The addressable that delivers these events.")
    ] = None
    description: Annotated[str | None, doc("What these events are about, for people.")] = None


def parse_eventtype(obj: Mapping[str, Any]) -> EventType:
    """An EventType of either version, converted to v1beta3, defaulted, validated and typed;
    raises :class:`~kawa.errors.ValidationError` listing every problem."""
    if obj.get("apiVersion") == API_VERSION_V1BETA2:
        obj = convert_eventtype(obj, API_VERSION)
    return parse_object(EventType, obj, kind=KIND, api_versions=API_VERSIONS, namespaced=True)


# -- conversion ------------------------------------------------------------------------------


def convert_eventtype(obj: Mapping[str, Any], api_version: str) -> meta.Object:
    """``obj`` (either version) as ``api_version``: v1beta2 flat fields <-> v1beta3 attributes.

    A v1beta2 spec is checked first (:class:`EventTypeSpecV1Beta2`: ``type`` is required), since
    its problems could not be told at their paths once converted.
    """
    if api_version not in API_VERSIONS:
        raise kn_common.convert_unsupported(KIND, api_version, API_VERSIONS)
    if obj.get("apiVersion") == API_VERSION_V1BETA2 and api_version == API_VERSION:
        _check_v1beta2(obj)
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


def _check_v1beta2(obj: Mapping[str, Any]) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return  # the v1beta3 parse reports it
    if f"{kn_common.STASH_PREFIX}v1beta3" in meta.annotations_of(obj):
        # read as v1beta2 from a v1beta3 object and written back: what v1beta2 could not say
        # (an attribute without a value, such as a type) is in the stash; v1beta3's rules apply
        return
    errors: list[FieldError] = []
    validate(EventTypeSpecV1Beta2, spec, errors, ctx=Context(), path="spec")
    kn_common.raise_if_errors(errors, KIND, obj)


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
    # a type without a value has no v1beta2 spelling (its type is required): the stash also
    # marks such an object as read from v1beta3, so writing it back is judged as v1beta3
    if attributes is not None and (attributes != derived or "type" not in new):
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


# -- printer columns (``-o wide``) ------------------------------------------------------------

DATA_SCHEMA_ANNOTATION: Final = "eventing.kawa.dev/data-schema"
"""The JSON Schema of the data kawa inferred for an auto-created EventType (kawa's own)."""
_SUMMARY_WIDTH: Final = 60


def attribute_value(name: str) -> Callable[[Mapping[str, Any]], str]:
    """A column's value: the ``value`` of the spec's attribute ``name`` ("" without one)."""

    def cell(obj: Mapping[str, Any]) -> str:
        spec = obj.get("spec")
        for attribute in spec.get("attributes") or () if isinstance(spec, Mapping) else ():
            if isinstance(attribute, Mapping) and attribute.get("name") == name:
                value = attribute.get("value")
                return value if isinstance(value, str) else ""
        return ""

    return cell


def data_schema_summary(obj: Mapping[str, Any]) -> str:
    """The inferred data schema in one short line: the top-level properties and their types
    (``id:integer total:number``), or the type of the data ("" without a schema)."""
    annotations = meta.annotations_of(obj)
    text = annotations.get(DATA_SCHEMA_ANNOTATION)
    if text is None:
        return ""
    try:
        schema = json.loads(text)
    except ValueError:
        return ""
    if not isinstance(schema, Mapping):
        return ""
    properties = schema.get("properties")
    if isinstance(properties, Mapping) and properties:
        parts = [f"{key}:{_type_text(sub)}" for key, sub in properties.items()]
        line = " ".join(parts)
    else:
        line = _type_text(schema)
    return line if len(line) <= _SUMMARY_WIDTH else line[: _SUMMARY_WIDTH - 3] + "..."


def _type_text(schema: object) -> str:
    given = schema.get("type") if isinstance(schema, Mapping) else None
    if isinstance(given, list):
        return "|".join(str(t) for t in given)
    return str(given) if given else "any"
