"""Admission rules for a Trigger's ``spec.filter`` and ``spec.filters`` (eventing.knative.dev/v1).

Follows Knative's ``pkg/apis/eventing/v1/trigger_validation.go`` and kawa's contract:

* ``filter.attributes``: a map of strings; keys match ``^[a-z][a-z0-9]*$`` (``SOURCE``, ``a-b``,
  ``a_b``, ``123`` and emoji are rejected); values are strings (``""`` means "any value").
* ``filters``: a list; each element has exactly one dialect:
  ``exact`` / ``prefix`` / ``suffix`` -- a map with exactly one attribute (as Knative's webhook
  requires) whose name follows the rule above and whose value is a non-empty string;
  ``all`` / ``any`` -- non-empty lists of filters, validated recursively;
  ``not`` -- one filter; ``cesql`` -- a CloudEvents SQL expression, parsed at admission (a
  parse error is returned with its line and column).
  Unknown keys are rejected.

Returns lists of :class:`~kawa.errors.FieldError` with paths relative to the trigger
(``spec.filters[0].all[1].exact``). Called by :mod:`kawa.apis.eventing.trigger`; the
matching logic lives in :mod:`kawa.filters`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from kawa import cesql
from kawa.apis import meta
from kawa.errors import FieldError

ATTRIBUTE_NAME: Final = re.compile(r"[a-z][a-z0-9]*")
"""Names a filter may use (``fullmatch``): lowercase letters and digits, a letter first."""

MAP_DIALECTS: Final = ("exact", "prefix", "suffix")
LIST_DIALECTS: Final = ("all", "any")
DIALECTS: Final = (*MAP_DIALECTS, *LIST_DIALECTS, "not", "cesql")


MAX_DEPTH: Final = 32
"""Deepest nesting of ``all``/``any``/``not`` accepted (keeps evaluation and recursion bounded)."""

_NAME_RULE: Final = (
    "must start with a lowercase letter and contain only lowercase letters and digits"
)


def attribute_name_errors(key: Any, path: str) -> list[FieldError]:
    """Problems with ``key`` as a filter attribute name (the error's path is ``path[key]``)."""
    if isinstance(key, str) and ATTRIBUTE_NAME.fullmatch(key):
        return []
    return [FieldError(f"{path}[{key}]", f"invalid attribute name {key!r}: {_NAME_RULE}")]


def validate_attributes(value: Any, path: str) -> list[FieldError]:
    """``filter.attributes``: a string map with valid attribute names (``None`` is fine)."""
    if value is None:
        return []
    if not isinstance(value, Mapping):
        return [FieldError(path, f"expected a map of strings, got {meta.type_name(value)}")]
    errors: list[FieldError] = []
    for key, item in value.items():
        errors.extend(attribute_name_errors(key, path))
        if not isinstance(item, str):
            errors.append(
                FieldError(
                    f"{path}[{key}]", f"expected a string, got {meta.type_name(item)} (quote it)"
                )
            )
    return errors


def validate_filters(value: Any, path: str, *, depth: int = 0) -> list[FieldError]:
    """A list of filters (``spec.filters`` or the body of ``all``/``any``)."""
    if value is None:
        return []
    if not isinstance(value, list):
        return [FieldError(path, f"expected a list of filters, got {meta.type_name(value)}")]
    errors: list[FieldError] = []
    for index, item in enumerate(value):
        errors.extend(validate_filter(item, f"{path}[{index}]", depth=depth))
    return errors


def validate_filter(value: Any, path: str, *, depth: int = 0) -> list[FieldError]:
    """One filter: exactly one dialect, and that dialect's body valid."""
    expected = "expected exactly one of " + ", ".join(DIALECTS)
    if not isinstance(value, Mapping):
        return [FieldError(path, f"{expected}, got {meta.type_name(value)}")]
    if depth >= MAX_DEPTH:
        return [FieldError(path, f"filters are nested too deeply (more than {MAX_DEPTH} levels)")]
    errors = [
        FieldError(f"{path}.{key}", f"unknown filter dialect {key!r}; {expected}")
        for key in value
        if key not in DIALECTS
    ]
    present = [key for key in DIALECTS if key in value]
    if not present and not errors:
        errors.append(FieldError(path, f"{expected}, got none"))
    if len(present) > 1:
        errors.append(
            FieldError(
                path,
                f"multiple dialects found ({', '.join(present)}); a filter can have only one "
                "dialect (combine them with all or any)",
            )
        )
    for dialect in present:
        body = value[dialect]
        here = f"{path}.{dialect}"
        if dialect in MAP_DIALECTS:
            errors.extend(_single_attribute_map_errors(body, here))
        elif dialect in LIST_DIALECTS:
            if not isinstance(body, list) or not body:
                errors.append(FieldError(here, "must be a non-empty list of filters"))
            else:
                errors.extend(validate_filters(body, here, depth=depth + 1))
        elif dialect == "not":
            errors.extend(validate_filter(body, here, depth=depth + 1))
        else:
            errors.extend(_cesql_errors(body, here))
    return errors


def _cesql_errors(body: Any, path: str) -> list[FieldError]:
    if not isinstance(body, str) or not body.strip():
        return [FieldError(path, "must be a non-empty CloudEvents SQL expression")]
    try:
        cesql.compile_expression(body)
    except cesql.CesqlError as err:
        return [FieldError(path, f"invalid CloudEvents SQL expression: {err.message}")]
    return []


def _single_attribute_map_errors(body: Any, path: str) -> list[FieldError]:
    if not isinstance(body, Mapping):
        return [FieldError(path, f"expected a map of one attribute, got {meta.type_name(body)}")]
    if not body:
        return [FieldError(path, "must not be empty: give one attribute and its value")]
    if len(body) != 1:
        return [
            FieldError(
                path,
                f"multiple attributes found ({', '.join(map(str, body))}); a filter can have "
                "only one (combine several with all)",
            )
        ]
    errors: list[FieldError] = []
    for key, item in body.items():
        errors.extend(attribute_name_errors(key, path))
        if not isinstance(item, str):
            errors.append(
                FieldError(f"{path}[{key}]", f"expected a string, got {meta.type_name(item)}")
            )
        elif not item:
            errors.append(FieldError(f"{path}[{key}]", "must not be empty"))
    return errors
