"""A Trigger's filters, declared: ``spec.filter`` and the dialects of ``spec.filters``.

Follows Knative's ``pkg/apis/eventing/v1/trigger_validation.go`` and kawa's contract:

* :class:`TriggerFilter` (``filter.attributes``): a map of strings; keys match
  ``^[a-z][a-z0-9]*$`` (``SOURCE``, ``a-b``, ``a_b``, ``123`` and emoji are rejected); values
  are strings (``""`` means "any value").
* :class:`SubscriptionsAPIFilter` (one element of ``filters``): exactly one dialect.
  ``exact`` / ``prefix`` / ``suffix`` -- a map with exactly one attribute (as Knative's webhook
  requires) whose name follows the rule above and whose value is a non-empty string;
  ``all`` / ``any`` -- non-empty lists of filters; ``not`` -- one filter; ``cesql`` -- a
  CloudEvents SQL expression, parsed at admission (an error gives its line and column).

The dialects are the fields of :class:`SubscriptionsAPIFilter`: adding one is a field here and
a compiler in :mod:`kawa.filters.compile` (a test checks both lists agree). Matching lives in
:mod:`kawa.filters`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, ClassVar, Final

from pydantic import Field

from kawa import cesql
from kawa.apis.model.base import Context, Model, doc
from kawa.apis.model.introspect import fields_of
from kawa.apis.model.types import StringMap
from kawa.errors import FieldError

ATTRIBUTE_NAME: Final = re.compile(r"[a-z][a-z0-9]*")
"""Names a filter may use (``fullmatch``): lowercase letters and digits, a letter first."""

MAX_DEPTH: Final = 32
"""Deepest nesting of ``all``/``any``/``not`` accepted (keeps evaluation and recursion bounded)."""

_NAME_RULE: Final = (
    "must start with a lowercase letter and contain only lowercase letters and digits"
)


def attribute_name_errors(key: str, path: str) -> list[FieldError]:
    """Problems with ``key`` as a filter attribute name (the error's path is ``path[key]``)."""
    if ATTRIBUTE_NAME.fullmatch(key):
        return []
    return [FieldError(f"{path}[{key}]", f"invalid attribute name {key!r}: {_NAME_RULE}")]


class TriggerFilter(Model):
    """Exact-match filtering on event attributes."""

    unknown_field_hints: ClassVar[Mapping[str, str]] = {
        "sourceAndType": "sourceAndType only exists in eventing.knative.dev/v1alpha1; use "
        "attributes: {type: ..., source: ...}"
    }

    attributes: Annotated[
        StringMap | None,
        doc("Attribute -> value; all must match (an empty value matches any)."),
    ] = None

    def check(self, ctx: Context) -> Iterable[FieldError]:
        for key in self.attributes or {}:
            yield from attribute_name_errors(key, "attributes")


class SubscriptionsAPIFilter(Model):
    """One filter: exactly one dialect (exact, prefix, suffix, all, any, not, cesql)."""

    exact: Annotated[
        StringMap | None, doc("Attribute -> value: the attribute equals the value.")
    ] = None
    prefix: Annotated[
        StringMap | None, doc("Attribute -> prefix: the attribute starts with the prefix.")
    ] = None
    suffix: Annotated[
        StringMap | None, doc("Attribute -> suffix: the attribute ends with the suffix.")
    ] = None
    all: Annotated[list[SubscriptionsAPIFilter] | None, doc("Filters that must all match.")] = None
    any: Annotated[
        list[SubscriptionsAPIFilter] | None, doc("Filters of which at least one must match.")
    ] = None
    not_: Annotated[
        SubscriptionsAPIFilter | None,
        Field(alias="not", description="A filter that must not match."),
    ] = None
    cesql: Annotated[str | None, doc("A CloudEvents SQL expression that must be true.")] = None

    @property
    def dialects(self) -> list[str]:
        """The JSON names of the dialects this filter sets (one when valid)."""
        return [
            alias for alias, f in fields_of(type(self)).items() if getattr(self, f.name) is not None
        ]

    def check(self, ctx: Context) -> Iterable[FieldError]:
        present = self.dialects
        if not present:
            yield FieldError("", f"expected exactly one of {', '.join(DIALECTS)}, got none")
        elif len(present) > 1:
            yield FieldError(
                "",
                f"multiple dialects found ({', '.join(present)}); a filter can have only one "
                "dialect (combine them with all or any)",
            )
        for name, body in (("exact", self.exact), ("prefix", self.prefix), ("suffix", self.suffix)):
            if body is not None:
                yield from _single_attribute_errors(body, name)
        for name, members in (("all", self.all), ("any", self.any)):
            if members is not None and not members:
                yield FieldError(name, "must be a non-empty list of filters")
        if self.cesql is not None:
            yield from _cesql_errors(self.cesql, "cesql")


DIALECTS: Final = tuple(fields_of(SubscriptionsAPIFilter))
"""The dialect names, in declaration order."""


def depth_errors(filters: Sequence[SubscriptionsAPIFilter], path: str) -> list[FieldError]:
    """Filters nested deeper than :data:`MAX_DEPTH` (the first too-deep place found)."""
    stack = [(f, f"{path}[{i}]", 0) for i, f in enumerate(filters)]
    while stack:
        current, here, depth = stack.pop()
        if depth >= MAX_DEPTH:
            message = f"filters are nested too deeply (more than {MAX_DEPTH} levels)"
            return [FieldError(here, message)]
        for name, members in (("all", current.all), ("any", current.any)):
            stack.extend((m, f"{here}.{name}[{i}]", depth + 1) for i, m in enumerate(members or ()))
        if current.not_ is not None:
            stack.append((current.not_, f"{here}.not", depth + 1))
    return []


def _cesql_errors(body: str, path: str) -> list[FieldError]:
    if not body.strip():
        return [FieldError(path, "must be a non-empty CloudEvents SQL expression")]
    try:
        cesql.compile_expression(body)
    except cesql.CesqlError as err:
        return [FieldError(path, f"invalid CloudEvents SQL expression: {err.message}")]
    return []


def _single_attribute_errors(body: StringMap, path: str) -> list[FieldError]:
    if not body:
        return [FieldError(path, "must not be empty: give one attribute and its value")]
    if len(body) != 1:
        return [
            FieldError(
                path,
                f"multiple attributes found ({', '.join(body)}); a filter can have only one "
                "(combine several with all)",
            )
        ]
    errors: list[FieldError] = []
    for key, item in body.items():
        errors.extend(attribute_name_errors(key, path))
        if not item:
            errors.append(FieldError(f"{path}[{key}]", "must not be empty"))
    return errors
