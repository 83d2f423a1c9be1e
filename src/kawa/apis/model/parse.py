"""Dicts to typed views: validation against a declared :class:`Model`, errors with field paths.

:func:`validate` checks a Kubernetes-shaped dict against a model and returns the model's
instance, or ``None`` after appending one :class:`~kawa.errors.FieldError` per problem: every
problem at once, each at its Kubernetes field path (``spec.delivery.retry``,
``spec.filters[0].exact``, ``spec.filter.attributes[source]``) with a message saying what was
expected. It runs in two steps, as Kubernetes runs the schema before Knative's webhook: the
types of the whole object (pydantic, strict JSON rules; a ``null`` field is an absent one,
:func:`prune_nulls`), with the :class:`~kawa.apis.model.base.RawChecked` rules on the raw
value beside them; then every model's :meth:`~kawa.apis.model.base.Model.check` -- of the
whole object when the types hold, else of every part whose types hold, so one answer still
lists every problem it can.

Called by :mod:`kawa.apis.model.objects` for whole objects and by kinds for embedded values.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeVar

import orjson
import pydantic
from annotated_types import Ge, Gt, Le, Lt

from kawa.apis import meta
from kawa.apis.meta import type_name
from kawa.apis.model import introspect
from kawa.apis.model.base import Context, Model, RawChecked
from kawa.errors import FieldError

M = TypeVar("M", bound=Model)

_EXPECTED: Final = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "float_type": "a number",
    "bool_type": "a boolean",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "tuple_type": "a list",
}


def join(path: str, key: str) -> str:
    """``path.key``, or ``key`` alone at the top; ``[i]`` keys attach without a dot."""
    if not path:
        return key
    return f"{path}{key}" if key.startswith("[") else f"{path}.{key}"


def validate(
    model: type[M],
    value: Any,
    errors: list[FieldError],
    *,
    ctx: Context,
    path: str = "",
    rules: bool = True,
) -> M | None:
    """``value`` as an instance of ``model``; ``None`` after appending its problems.
    ``rules=False`` checks the types only (a status, which shares types with the spec but
    not its rules: a status's traffic names the Revision that ``latestRevision`` chose)."""
    if not isinstance(value, Mapping):
        errors.append(FieldError(path, f"expected a mapping, got {type_name(value)}"))
        return None
    try:
        raw = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
        clean: Any = value
        if b"null" in raw:  # rare: only then copy the value without its null fields
            clean = orjson.loads(raw)
            prune_nulls(model, clean)
            raw = orjson.dumps(clean, option=orjson.OPT_NON_STR_KEYS)
    except TooDeep as err:
        errors.append(_too_deep(err, path))
        return None
    except TypeError as err:  # not JSON data, or nested deeper than orjson goes
        errors.append(_too_deep_or(value, path, f"expected JSON data: {err}"))
        return None
    raw_problems: list[FieldError] = []
    if rules and _holds_raw_checks(model):
        _raw_checks(introspect.shape(model), clean, (path,) if path else (), raw_problems)
    try:
        instance = model.model_validate_json(raw)
    except pydantic.ValidationError as err:
        problems = err.errors(include_url=False)
        if any(problem["type"] == "json_invalid" for problem in problems):
            # the JSON parser's own nesting limit
            errors.append(_too_deep_or(value, path, "nested too deeply"))
            return None
        found = translate(model, problems, path)
        seen = set(found)
        errors.extend(found)
        errors.extend(e for e in raw_problems if e not in seen)
        if rules:
            bad = {tuple(problem["loc"]) for problem in problems}
            _salvage(model, clean, bad, ctx, path, errors)
        return None
    if raw_problems:
        errors.extend(raw_problems)
        return None
    if not rules:
        return instance
    before = len(errors)
    run_checks(instance, ctx, path, errors)
    return instance if len(errors) == before else None


MAX_DEPTH: Final = meta.MAX_NESTING
"""Deepest nesting of objects and lists accepted in a resource (no kind needs more): the
nesting pydantic's JSON parser takes, so a value is refused at the same depth whether or not
it has null fields to drop first (a test pins the two together)."""


def _too_deep(err: TooDeep, path: str) -> FieldError:
    where = join(path, err.path) if err.path else path
    return FieldError(where, f"nested too deeply (more than {MAX_DEPTH} levels)")


def _too_deep_or(value: Any, path: str, message: str) -> FieldError:
    """Where ``value`` is no JSON (nested too deeply, an integer beyond 64 bits...), or
    ``message`` at ``path`` when that is not it."""
    problems = meta.json_value_errors(value)
    if problems:
        return FieldError(join(path, problems[0].path), problems[0].message)
    return FieldError(path, message)


class TooDeep(Exception):
    """Raised by :func:`prune_nulls` past :data:`MAX_DEPTH`; ``path`` is where."""

    def __init__(self) -> None:
        super().__init__("nested too deeply")
        self.keys: list[str] = []

    @property
    def path(self) -> str:
        out = ""
        for key in reversed(self.keys):
            out = join(out, key)
        return out


def prune_nulls(model: type[Model], data: Any) -> None:
    """Drop the ``null`` fields of ``data``'s objects in place, as Kubernetes prunes nulls
    from fields that are not nullable: a ``null`` field is an absent one. ``null`` values of
    maps and list items stay (they are type errors: ``attributes: {type: }`` is refused, not
    read as "any type"), and so does anything inside free-form content. Raises
    :class:`TooDeep` past :data:`MAX_DEPTH` levels."""
    _prune(introspect.shape(model), data, 0)


def _prune(shape: introspect.Shape, value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise TooDeep
    if shape.form == "model" and isinstance(value, dict):
        for key in [k for k, v in value.items() if v is None]:
            del value[key]
        fields = introspect.fields_of(shape.tp)
        for key, item in value.items():
            spec = fields.get(key)
            if spec is not None and isinstance(item, dict | list):
                _step(spec.shape, item, depth, key)
    elif shape.form in ("list", "map") and isinstance(value, list | dict):
        inner = introspect.shape(shape.item)
        items = enumerate(value) if isinstance(value, list) else value.items()
        for key, item in items:
            if isinstance(item, dict | list):
                _step(inner, item, depth, f"[{key}]")


def _step(shape: introspect.Shape, item: Any, depth: int, key: Any) -> None:
    try:
        _prune(shape, item, depth + 1)
    except TooDeep as err:
        err.keys.append(str(key))
        raise


def _raw_checks(
    shape: introspect.Shape, value: Any, where: tuple[str, ...], errors: list[FieldError]
) -> None:
    """Every :meth:`RawChecked.check_raw` of the models ``value`` holds, on the raw value."""
    if shape.form == "model" and isinstance(value, Mapping):
        model: type[Model] = shape.tp
        if issubclass(model, RawChecked):
            found = list(model.check_raw(value))
            if found:
                prefix = _render(where)
                errors.extend(e.nested(prefix) if prefix else e for e in found)
        for spec in _raw_fields(model):
            if spec.alias in value:
                _raw_checks(spec.shape, value[spec.alias], (*where, spec.alias), errors)
    elif shape.form == "list" and isinstance(value, list):
        item = introspect.shape(shape.item)
        for i, member in enumerate(value):
            _raw_checks(item, member, (*where, f"[{i}]"), errors)
    elif shape.form == "map" and isinstance(value, Mapping):
        item = introspect.shape(shape.item)
        for key, member in value.items():
            _raw_checks(item, member, (*where, f"[{key}]"), errors)


@functools.cache
def _raw_fields(model: type[Model]) -> tuple[introspect.FieldSpec, ...]:
    """The fields of ``model`` whose values may hold a :class:`RawChecked` model."""
    return tuple(
        spec
        for spec in introspect.fields_of(model).values()
        if _reaches(spec.info.annotation, _is_raw_checked, frozenset({model}))
    )


def _is_raw_checked(model: type[Model]) -> bool:
    return issubclass(model, RawChecked)


def _holds_raw_checks(model: type[Model]) -> bool:
    return issubclass(model, RawChecked) or bool(_raw_fields(model))


def _reaches(tp: Any, wanted: Callable[[type[Model]], bool], seen: frozenset[type[Model]]) -> bool:
    """Whether values of ``tp`` may hold a model for which ``wanted`` holds."""
    shape = introspect.shape(tp)
    if shape.form in ("list", "map"):
        return _reaches(shape.item, wanted, seen)
    if shape.form != "model":
        return False
    if wanted(shape.tp):
        return True
    if shape.tp in seen:
        return False
    return any(
        _reaches(spec.info.annotation, wanted, seen | {shape.tp})
        for spec in introspect.fields_of(shape.tp).values()
    )


def _salvage(
    tp: Any,
    value: Any,
    bad: set[tuple[Any, ...]],
    ctx: Context,
    path: str,
    errors: list[FieldError],
) -> None:
    """After type errors, still run the rules of every part that has none, so one answer
    lists every problem (a misspelt field and an invalid filter elsewhere, say). ``bad`` are
    the locations of the type errors below ``value``."""
    if () in bad:
        return  # this value itself has the wrong type
    shape = introspect.shape(tp)
    if shape.form == "model" and isinstance(value, Mapping):
        if not bad:
            if _plan(shape.tp)[0] or _plan(shape.tp)[1]:  # rules somewhere below
                try:
                    raw = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
                    instance = shape.tp.model_validate_json(raw)
                except (TypeError, pydantic.ValidationError):
                    return
                run_checks(instance, ctx, path, errors)
            return
        below = _by_first_step(bad)
        for alias, spec in introspect.fields_of(shape.tp).items():
            if alias in value:
                inner = below.get(alias, set())
                _salvage(spec.info.annotation, value[alias], inner, ctx, join(path, alias), errors)
    elif shape.form in ("list", "map") and isinstance(value, list | Mapping):
        below = _by_first_step(bad)
        items = enumerate(value) if isinstance(value, list) else value.items()
        for key, item in items:
            here = f"{path}[{key}]"
            _salvage(shape.item, item, below.get(key, set()), ctx, here, errors)


def _by_first_step(bad: set[tuple[Any, ...]]) -> dict[Any, set[tuple[Any, ...]]]:
    """The locations in ``bad`` grouped by their first step (the rest kept)."""
    out: dict[Any, set[tuple[Any, ...]]] = {}
    for loc in bad:
        if loc:
            out.setdefault(loc[0], set()).add(loc[1:])
    return out


# -- pydantic's errors as field errors -------------------------------------------------------


def translate(
    model: type[Model], problems: Iterable[Mapping[str, Any]], path: str = ""
) -> list[FieldError]:
    """Pydantic's error records as :class:`FieldError` values with Kubernetes paths."""
    out: dict[FieldError, None] = {}  # in order, once each
    for problem in problems:
        where, parent, leaf = _locate(model, tuple(problem["loc"]), path)
        out[FieldError(where, _message(problem, parent, leaf))] = None
    return list(out)


def _locate(
    model: type[Model], loc: tuple[Any, ...], path: str
) -> tuple[str, introspect.Shape | None, introspect.FieldSpec | introspect.Shape | None]:
    """The field path of ``loc``, the shape holding the last step, and what it points at."""
    current: introspect.Shape | None = introspect.shape(model)
    parent: introspect.Shape | None = None
    leaf: introspect.FieldSpec | introspect.Shape | None = current
    for step in loc:
        parent = current
        if current is not None and current.form == "model":
            found = introspect.fields_of(current.tp).get(str(step))
            path = join(path, str(step))
            leaf = found
            current = found.shape if found is not None else None
        elif current is not None and current.form in ("list", "map"):
            path = join(path, f"[{step}]")
            current = leaf = introspect.shape(current.item)
        else:
            # a pydantic-internal step (a union member's tag): not part of the field path
            continue
    return path, parent, leaf


def _message(
    problem: Mapping[str, Any],
    parent: introspect.Shape | None,
    leaf: introspect.FieldSpec | introspect.Shape | None,
) -> str:
    kind = problem["type"]
    given = problem.get("input")
    ctx = problem.get("ctx") or {}
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        if parent is None or parent.form != "model":
            return "unknown field"
        hint = parent.tp.unknown_field_hints.get(str(problem["loc"][-1]))
        if hint:
            return f"unknown field: {hint}"
        names = list(introspect.fields_of(parent.tp))
        return f"unknown field; expected one of {', '.join(names)}" if names else "unknown field"
    if kind in _EXPECTED:
        hint = ""
        if kind == "string_type" and isinstance(given, bool | int | float):
            hint = " (quote it in YAML)"  # port: 80, enabled: yes
        return f"expected {_EXPECTED[kind]}, got {type_name(given)}{hint}"
    shape = leaf.shape if isinstance(leaf, introspect.FieldSpec) else leaf
    if kind == "literal_error" and shape is not None and shape.choices:
        choices = ", ".join(str(c) for c in shape.choices)
        return f"must be one of {choices}, got {given!r}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        markers = leaf.markers if isinstance(leaf, introspect.FieldSpec) else ()
        return f"invalid value {given!r}: must be {_bounds(markers, ctx)}"
    if kind == "string_too_short":
        if ctx.get("min_length") == 1:
            return "required field is missing"
        return f"must be at least {ctx.get('min_length')} characters"
    if kind == "string_too_long":
        return f"must be no more than {ctx.get('max_length')} characters"
    if kind == "too_short":
        if ctx.get("min_length") == 1:
            return "required field is missing (a non-empty list)"
        return f"must have at least {ctx.get('min_length')} items"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} items"
    if kind == "string_pattern_mismatch":
        return f"invalid value {given!r}: must match {ctx.get('pattern')}"
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    return str(problem.get("msg", "invalid value"))


def _bounds(markers: tuple[Any, ...], ctx: Mapping[str, Any]) -> str:
    low = next((m.ge for m in markers if isinstance(m, Ge)), None)
    high = next((m.le for m in markers if isinstance(m, Le)), None)
    if low is not None and high is not None:
        return f"between {low} and {high}, inclusive"
    if low is not None:
        return f"greater than or equal to {low}"
    if high is not None:
        return f"less than or equal to {high}"
    above = next((m.gt for m in markers if isinstance(m, Gt)), ctx.get("gt"))
    if above is not None:
        return f"greater than {above}"
    below = next((m.lt for m in markers if isinstance(m, Lt)), ctx.get("lt"))
    return f"less than {below}"


# -- the rules beyond types ------------------------------------------------------------------


def run_checks(instance: Model, ctx: Context, path: str, errors: list[FieldError]) -> None:
    """Every :meth:`Model.check` of ``instance`` and of the models it holds, paths nested."""
    _run(instance, ctx, (path,) if path else (), errors)


def _run(instance: Model, ctx: Context, where: tuple[str, ...], errors: list[FieldError]) -> None:
    has_check, nested = _plan(type(instance))
    if has_check:
        found = list(instance.check(ctx))
        if found:
            prefix = _render(where)
            errors.extend(e.nested(prefix) if prefix else e for e in found)
    for spec in nested:
        _descend(getattr(instance, spec.name), ctx, (*where, spec.alias), errors)


def _descend(value: Any, ctx: Context, where: tuple[str, ...], errors: list[FieldError]) -> None:
    if isinstance(value, Model):
        _run(value, ctx, where, errors)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _descend(item, ctx, (*where, f"[{i}]"), errors)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _descend(item, ctx, (*where, f"[{key}]"), errors)


def _render(where: tuple[str, ...]) -> str:
    out = ""
    for part in where:
        out = join(out, part)
    return out


@functools.cache
def _plan(model: type[Model]) -> tuple[bool, tuple[introspect.FieldSpec, ...]]:
    """Whether ``model`` has rules of its own, and its fields whose values may hold a model
    with rules (the walk skips the rest)."""
    nested = tuple(
        spec
        for spec in introspect.fields_of(model).values()
        if _reaches(spec.info.annotation, _has_check, frozenset({model}))
    )
    return _has_check(model), nested


def _has_check(model: type[Model]) -> bool:
    return model.check is not Model.check
