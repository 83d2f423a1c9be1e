"""OpenAPI v3 structural schemas from declared models (what ``kubectl explain`` walks).

:func:`schema_of` turns a :class:`~kawa.apis.model.base.Model` into the schema Kubernetes
requires of a CRD: every node typed and described, objects with ``properties`` (``required``
where fields have no default), maps with ``additionalProperties``, free-form content with
``x-kubernetes-preserve-unknown-fields``, ``enum`` for ``Literal`` types, bounds for
``ge``/``le``, ``default`` for stored defaults, and patch merge keys for keyed lists. A model
reached again inside itself (a filter holding filters) is a free-form object there, since
structural schemas cannot recurse. :func:`merge_keys` lists the keyed lists for strategic
merge patches. Pure; called by :mod:`kawa.apis.kinds` when a kind's schema is first read.
"""

from __future__ import annotations

from typing import Any

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic_core import PydanticUndefined

from kawa.apis.model import introspect
from kawa.apis.model.base import AsWritten, Model, OpenAPI, PreserveUnknown, Stored
from kawa.apis.model.base import MergeKey as MergeKeyMarker

Schema = dict[str, Any]


def schema_of(model: type[Model], description: str = "") -> Schema:
    """The structural schema of ``model`` (its docstring describes it unless ``description``)."""
    return _model(model, description, ())


def _describe(model: type[Model]) -> str:
    text = (model.__doc__ or "").strip()
    return " ".join(text.split("\n\n", 1)[0].split()) if text else model.__name__


def _model(
    model: type[Model], description: str, seen: tuple[type[Model], ...], stored: bool = True
) -> Schema:
    if model in seen:
        return {
            "type": "object",
            "description": description or _describe(model),
            "x-kubernetes-preserve-unknown-fields": True,
        }
    seen = (*seen, model)
    properties: Schema = {}
    required: list[str] = []
    for alias, spec in introspect.fields_of(model).items():
        properties[alias] = _field(spec, seen, stored)
        if spec.info.is_required():
            required.append(alias)
    out: Schema = {
        "type": "object",
        "description": description or _describe(model),
        "properties": properties,
    }
    if required:
        out["required"] = required
    if model.model_config.get("extra") == "allow":
        out["x-kubernetes-preserve-unknown-fields"] = True
    return out


def _field(spec: introspect.FieldSpec, seen: tuple[type[Model], ...], stored: bool) -> Schema:
    """A field's schema; ``stored`` False: inside an AS_WRITTEN field, no defaults shown."""
    description = spec.info.description or ""
    stored = stored and introspect.marker(spec.markers, AsWritten) is None
    out = _type(spec.info.annotation, description, seen, tuple(spec.info.metadata), stored)
    if stored and introspect.marker(spec.markers, Stored) is not None:
        default = spec.info.get_default(call_default_factory=True)
        if default is not PydanticUndefined and default is not None:
            out["default"] = _json(default)
    merge = introspect.marker(spec.markers, MergeKeyMarker)
    if merge is not None:
        out["x-kubernetes-patch-merge-key"] = merge.key
        out["x-kubernetes-patch-strategy"] = "merge"
    return out


def _type(
    tp: Any,
    description: str,
    seen: tuple[type[Model], ...],
    extra: tuple[Any, ...] = (),
    stored: bool = True,
) -> Schema:
    shape = introspect.shape(tp)
    markers = (*extra, *shape.metadata)
    override = introspect.marker(markers, OpenAPI)
    if override is not None:
        return {
            **override.schema,
            "description": description or override.schema.get("description", ""),
        }
    if shape.form == "model":
        return _model(shape.tp, description, seen, stored)
    out: Schema
    if shape.form == "list":
        out = {
            "type": "array",
            "items": _type(shape.item, _item("An item.", shape.item), seen, (), stored),
        }
    elif shape.form == "map":
        value = introspect.shape(shape.item)
        if value.form == "any" and introspect.marker(value.metadata, OpenAPI) is None:
            out = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        else:
            value_schema = _type(shape.item, _item("A value.", shape.item), seen, (), stored)
            out = {"type": "object", "additionalProperties": value_schema}
    elif shape.form == "literal":
        choices = list(shape.choices)
        kind = "integer" if all(isinstance(c, int) for c in choices) else "string"
        out = {"type": kind, "enum": choices}
    elif shape.form in ("string", "boolean", "number"):
        out = {"type": shape.form}
    elif shape.form == "integer":
        out = {"type": "integer", "format": "int64"}
    else:
        out = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    if introspect.marker(markers, PreserveUnknown) is not None:
        out["x-kubernetes-preserve-unknown-fields"] = True
    out["description"] = description
    _constraints(out, markers)
    return out


def _item(generic: str, tp: Any) -> str:
    """The description of a list item or map value: its model's docstring, else ``generic``."""
    return "" if introspect.shape(tp).form == "model" else generic


def _constraints(out: Schema, markers: tuple[Any, ...]) -> None:
    for m in markers:
        if isinstance(m, Ge):
            out["minimum"] = m.ge
        elif isinstance(m, Gt):
            out["minimum"] = m.gt
            out["exclusiveMinimum"] = True
        elif isinstance(m, Le):
            out["maximum"] = m.le
        elif isinstance(m, Lt):
            out["maximum"] = m.lt
            out["exclusiveMaximum"] = True
        elif isinstance(m, MinLen):
            out["minItems" if out["type"] == "array" else "minLength"] = m.min_length
        elif isinstance(m, MaxLen):
            out["maxItems" if out["type"] == "array" else "maxLength"] = m.max_length
        elif getattr(m, "pattern", None) and out["type"] == "string":
            out["pattern"] = str(m.pattern)


def _json(value: Any) -> Any:
    if isinstance(value, Model):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(value, tuple):
        return [_json(v) for v in value]
    return value


def merge_keys(model: type[Model]) -> dict[str, str]:
    """Keyed lists of ``model`` by path (``{"spec.containers": "name",
    "spec.containers[].env": "name"}``), for strategic merge patches."""
    out: dict[str, str] = {}
    _merge_keys(model, "", out, ())
    return out


def _merge_keys(
    model: type[Model], path: str, out: dict[str, str], seen: tuple[type[Model], ...]
) -> None:
    if model in seen:
        return
    for alias, spec in introspect.fields_of(model).items():
        here = f"{path}.{alias}" if path else alias
        merge = introspect.marker(spec.markers, MergeKeyMarker)
        if merge is not None:
            out[here] = merge.key
        shape = spec.shape
        if shape.form == "list":
            shape = introspect.shape(shape.item)
            here = f"{here}[]"
        if shape.form == "model":
            _merge_keys(shape.tp, here, out, (*seen, model))
