"""Reading declared types: what a field holds, its markers, its JSON name.

The parser (error paths and messages), the defaulting walk and the OpenAPI generator all ask
the same questions of a :class:`~kawa.apis.model.base.Model`: which field has this JSON name,
is this type a list, a map, a model or a scalar, which markers does it carry. Answers are
computed once per class. Pure functions; used by the sibling modules only.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic.fields import FieldInfo

from kawa.apis.model.base import Model


@dataclass(frozen=True, slots=True)
class Shape:
    """A type with its ``Annotated`` metadata and ``None`` stripped.

    ``form`` is one of ``model``, ``list``, ``map``, ``literal``, ``string``, ``integer``,
    ``number``, ``boolean`` or ``any``; ``item`` is the element type of a list or the value
    type of a map; ``choices`` the values of a ``Literal``.
    """

    form: str
    tp: Any
    metadata: tuple[Any, ...] = ()
    item: Any = None
    choices: tuple[Any, ...] = ()
    nullable: bool = False


_SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


def shape(tp: Any) -> Shape:
    """The :class:`Shape` of a declared type (computed once per type)."""
    try:
        return _shape_cached(tp)
    except TypeError:  # an unhashable type annotation
        return _shape(tp)


def _shape(tp: Any) -> Shape:
    metadata: list[Any] = []
    nullable = False
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            metadata.extend(tp.__metadata__)
            tp = tp.__origin__
            continue
        if origin in (Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            nullable = nullable or len(members) < len(get_args(tp))
            if len(members) == 1:
                tp = members[0]
                continue
            return Shape("any", tp, tuple(metadata), nullable=nullable)
        break
    meta = tuple(metadata)
    origin = get_origin(tp)
    if isinstance(tp, type) and issubclass(tp, Model):
        return Shape("model", tp, meta, nullable=nullable)
    if origin in (list, tuple):
        args = [a for a in get_args(tp) if a is not Ellipsis]
        return Shape("list", tp, meta, item=args[0] if args else Any, nullable=nullable)
    if origin in (dict, Mapping) or tp is dict:
        pair = get_args(tp)
        return Shape("map", tp, meta, item=pair[1] if len(pair) == 2 else Any, nullable=nullable)
    if origin is Literal:
        return Shape("literal", tp, meta, choices=get_args(tp), nullable=nullable)
    form = _SCALARS.get(tp, "any")
    return Shape(form, tp, meta, nullable=nullable)


_shape_cached = functools.lru_cache(maxsize=None)(_shape)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One declared field: Python name, JSON name, pydantic's FieldInfo, the declared type's
    shape and every marker (the field's own and its type's)."""

    name: str
    alias: str
    info: FieldInfo
    shape: Shape
    markers: tuple[Any, ...]


@functools.cache
def fields_of(model: type[Model]) -> dict[str, FieldSpec]:
    """The fields of ``model`` by JSON name, in declaration order."""
    out: dict[str, FieldSpec] = {}
    for name, info in model.model_fields.items():
        alias = info.alias or name
        found = shape(info.annotation)
        out[alias] = FieldSpec(name, alias, info, found, (*info.metadata, *found.metadata))
    return out


def marker(markers: tuple[Any, ...], cls: type[Any]) -> Any:
    """The first marker of type ``cls``, or ``None``."""
    return next((m for m in markers if isinstance(m, cls)), None)


def contains_model(tp: Any) -> bool:
    """Whether values of ``tp`` may hold a :class:`Model` (so walks must descend)."""
    s = shape(tp)
    if s.form == "model":
        return True
    if s.form in ("list", "map"):
        return contains_model(s.item)
    return False
