"""Defaults written into stored objects, from the declaration.

:func:`apply_defaults` walks a dict along its model: a field marked
:data:`~kawa.apis.model.base.STORED` that is absent (or ``null``; ``""`` for a string) gets
its declared default, then the model's :meth:`~kawa.apis.model.base.Model.set_defaults` runs
(the defaults that depend on context or on other fields), then the walk goes on into the
nested objects, lists and maps: parents first, as Knative's ``SetDefaults`` calls its
children (but not into a field marked :data:`~kawa.apis.model.base.AS_WRITTEN`). Values of
the wrong type are left alone for validation to report. Called by
:mod:`kawa.apis.model.objects`; kinds may call it for embedded values.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from kawa.apis.model import introspect
from kawa.apis.model.base import AsWritten, Context, Model, Stored


def apply_defaults(model: type[Model], data: Any, ctx: Context) -> None:
    """Write the defaults of ``model`` into ``data`` (a dict) in place."""
    if not isinstance(data, dict):
        return
    for spec, default in _stored(model):
        current = data.get(spec.alias)
        # "" is unset for a string (Go's zero value), a wrong type for anything else
        if current is None or (current == "" and spec.shape.form in ("string", "literal")):
            data[spec.alias] = copy.deepcopy(default)
    model.set_defaults(data, ctx)
    for spec in _nested(model):
        _descend(spec.shape, data.get(spec.alias), ctx)


def _descend(shape: introspect.Shape, value: Any, ctx: Context) -> None:
    if shape.form == "model":
        apply_defaults(shape.tp, value, ctx)
    elif shape.form == "list" and isinstance(value, list):
        item_shape = introspect.shape(shape.item)
        for item in value:
            _descend(item_shape, item, ctx)
    elif shape.form == "map" and isinstance(value, dict):
        item_shape = introspect.shape(shape.item)
        for item in value.values():
            _descend(item_shape, item, ctx)


@functools.cache
def _stored(model: type[Model]) -> tuple[tuple[introspect.FieldSpec, Any], ...]:
    out = []
    for spec in introspect.fields_of(model).values():
        if introspect.marker(spec.markers, Stored) is not None:
            default = spec.info.get_default(call_default_factory=True)
            out.append((spec, _plain(default)))
    return tuple(out)


@functools.cache
def _nested(model: type[Model]) -> tuple[introspect.FieldSpec, ...]:
    return tuple(
        spec
        for spec in introspect.fields_of(model).values()
        if introspect.contains_model(spec.info.annotation)
        and introspect.marker(spec.markers, AsWritten) is None
    )


def _plain(value: Any) -> Any:
    """A declared default as JSON data (a model default becomes its dict)."""
    if isinstance(value, Model):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value
