"""Kubernetes' label selector (meta/v1 ``LabelSelector``) declared as a model, and matching.

``matchLabels`` (label keys and values checked as Kubernetes checks labels) and
``matchExpressions`` (``key``, ``operator`` ``In``, ``NotIn``, ``Exists`` or ``DoesNotExist``,
``values`` non-empty for the first two and empty for the others), all ANDed; the empty selector
matches everything. Embedded by the kinds that select objects by label (an ApiServerSource's
resources and namespaces, a SinkBinding's subject, a Deployment's Pods) and read by what they
run (:mod:`kawa.sources.apiserver`, :mod:`kawa.sources.sinkbinding`). :func:`format_selector`
writes a selector as kubectl prints it (``app=web,tier in (a,b)``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final, Literal, get_args

from pydantic import AfterValidator

from kawa.apis import meta
from kawa.apis.model.base import Context, Model, doc
from kawa.apis.model.types import Text
from kawa.errors import FieldError

Operator = Literal["In", "NotIn", "Exists", "DoesNotExist"]
OPERATORS: Final[tuple[str, ...]] = get_args(Operator)


def _key_problems(key: str) -> list[str]:
    return [f"invalid key {key!r}: {p}" for p in meta.label_key_errors(key)]


def _label_key(key: str) -> str:
    problems = _key_problems(key)
    if problems:
        raise ValueError("; ".join(problems))
    return key


def _label_keys(labels: dict[str, str]) -> dict[str, str]:
    problems = [p for key in labels for p in _key_problems(key)]
    if problems:
        raise ValueError("; ".join(problems))
    return labels


def _label_value(value: str) -> str:
    problems = meta.label_value_errors(value)
    if problems:
        raise ValueError(f"invalid value {value!r}: {'; '.join(problems)}")
    return value


LabelValue = Annotated[str, AfterValidator(_label_value)]


class LabelSelectorRequirement(Model):
    """One requirement on a label."""

    key: Annotated[Text, AfterValidator(_label_key), doc("The label key.")]
    operator: Annotated[Operator, doc("How the label relates to the values.")]
    values: Annotated[
        list[str], doc("The values (non-empty for In and NotIn, empty otherwise).")
    ] = []

    def check(self, ctx: Context) -> Iterable[FieldError]:
        if self.operator in ("In", "NotIn") and not self.values:
            yield FieldError("values", f"must be non-empty when operator is {self.operator}")
        elif self.operator in ("Exists", "DoesNotExist") and self.values:
            yield FieldError("values", f"must be empty when operator is {self.operator}")

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "In":
            return present and labels[self.key] in self.values
        if self.operator == "NotIn":
            return not (present and labels[self.key] in self.values)
        if self.operator == "Exists":
            return present
        return not present


class LabelSelector(Model):
    """Objects whose labels match: every label of matchLabels and every requirement of
    matchExpressions; the empty selector matches everything."""

    match_labels: Annotated[
        dict[str, LabelValue],
        AfterValidator(_label_keys),
        doc("Labels an object must have, with these values."),
    ] = {}
    match_expressions: Annotated[
        list[LabelSelectorRequirement], doc("Requirements on labels, all of which must hold.")
    ] = []

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether an object with ``labels`` is selected."""
        if any(labels.get(key) != value for key, value in self.match_labels.items()):
            return False
        return all(requirement.matches(labels) for requirement in self.match_expressions)


def format_selector(selector: Mapping[str, Any] | None) -> str:
    """A label selector as kubectl prints it (``app=web,tier in (a,b)``); ``<none>`` when
    empty."""
    if not isinstance(selector, Mapping):
        return "<none>"
    parts: list[tuple[str, str]] = []
    match_labels = selector.get("matchLabels")
    for key, value in (match_labels or {}).items() if isinstance(match_labels, Mapping) else ():
        parts.append((str(key), f"{key}={value}"))
    expressions = selector.get("matchExpressions")
    for item in expressions if isinstance(expressions, list) else ():
        if not isinstance(item, Mapping):
            continue
        key, operator = str(item.get("key", "")), item.get("operator")
        values = ",".join(sorted(str(v) for v in item.get("values") or []))
        if operator == "In":
            parts.append((key, f"{key} in ({values})"))
        elif operator == "NotIn":
            parts.append((key, f"{key} notin ({values})"))
        elif operator == "Exists":
            parts.append((key, key))
        elif operator == "DoesNotExist":
            parts.append((key, f"!{key}"))
    if not parts:
        return "<none>"
    return ",".join(text for _, text in sorted(parts))
