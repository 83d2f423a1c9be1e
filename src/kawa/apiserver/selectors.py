"""Label and field selectors (``?labelSelector=`` / ``?fieldSelector=``), as Kubernetes parses them.

Label selectors: ``a=b`` / ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``, ``a`` (exists),
``!a`` (does not exist), comma-separated and ANDed. Field selectors: ``path=value``,
``path==value``, ``path!=value`` on dotted field paths (``metadata.name``,
``involvedObject.uid``, ``status.phase`` ...), comma-separated and ANDed; as in Kubernetes,
only the paths a kind supports (its :attr:`~kawa.apis.kinds.ResourceKind.field_labels`), any
other is ``400 BadRequest`` (``field label not supported: spec.x``); an Event's ``source`` is
its ``source.component``, and its events.k8s.io/v1 names (``regarding.name``...) select the
stored core/v1 fields. Pure functions: each parser returns a predicate over a resource
dict, or raises ValidationError naming the parameter. :func:`from_query` combines both
parameters of a request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.errors import ValidationError

Predicate = Callable[[Mapping[str, Any]], bool]

_SET_EXPR: Final = re.compile(
    r"^\s*(?P<key>[A-Za-z0-9./_-]+)\s+(?P<op>in|notin)\s+\((?P<values>[^)]*)\)\s*$"
)
_EQ_EXPR: Final = re.compile(
    r"^\s*(?P<key>[A-Za-z0-9./_-]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^=!]*?)\s*$"
)
_EXISTS: Final = re.compile(r"^\s*(?P<neg>!?)\s*(?P<key>[A-Za-z0-9./_-]+)\s*$")
_FIELD_PATHS: Final = {
    "source": "source.component",
    "reportingController": "reportingComponent",
    **{
        f"regarding.{part}": f"involvedObject.{part}"
        for part in (
            "kind",
            "namespace",
            "name",
            "uid",
            "apiVersion",
            "resourceVersion",
            "fieldPath",
        )
    },
}
"""Field labels that select another path of the stored object: a core Event's ``source``, and
the events.k8s.io/v1 names of its fields (selectors see objects as stored, in core/v1)."""


def _split_terms(text: str) -> list[str]:
    """Split at commas that are not inside parentheses."""
    terms: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(ch)
    terms.append("".join(current))
    return [t for t in terms if t.strip()]


def _labels(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    labels = obj.get("metadata", {}).get("labels")
    return labels if isinstance(labels, Mapping) else {}


@dataclass(frozen=True, slots=True)
class Requirement:
    """One term of a selector: ``key`` ``op`` (``=``, ``!=``, ``in``, ``notin``, ``exists``,
    ``!exists``) ``values``."""

    key: str
    op: str
    values: frozenset[str] = frozenset()

    def holds(self, present: bool, value: str | None) -> bool:
        if self.op == "=":
            return value in self.values
        if self.op in ("!=", "notin"):
            return value not in self.values
        if self.op == "in":
            return value in self.values
        if self.op == "exists":
            return present
        return not present


def parse_label_selector(text: str, *, param: str = "labelSelector") -> tuple[Requirement, ...]:
    requirements: list[Requirement] = []
    for term in _split_terms(text):
        if m := _SET_EXPR.match(term):
            values = frozenset(v.strip() for v in m["values"].split(",") if v.strip())
            requirements.append(Requirement(m["key"], m["op"], values))
        elif m := _EQ_EXPR.match(term):
            op = "!=" if m["op"] == "!=" else "="
            requirements.append(Requirement(m["key"], op, frozenset({m["value"]})))
        elif m := _EXISTS.match(term):
            requirements.append(Requirement(m["key"], "!exists" if m["neg"] else "exists"))
        else:
            raise ValidationError.single(
                param,
                f"unable to parse requirement {term.strip()!r}: expected key=value, key!=value, "
                "key in (a,b), key notin (a,b), key or !key",
            )
    return tuple(requirements)


def label_selector(text: str, *, param: str = "labelSelector") -> Predicate:
    """A predicate matching objects whose labels satisfy ``text``."""
    requirements = parse_label_selector(text, param=param)

    def matches(obj: Mapping[str, Any]) -> bool:
        labels = _labels(obj)
        return all(
            r.holds(r.key in labels, None if labels.get(r.key) is None else str(labels[r.key]))
            for r in requirements
        )

    return matches


def field_value(obj: Mapping[str, Any], path: str) -> str | None:
    """The string form of the field at a dotted ``path`` (``None`` when absent)."""
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    if current is None or isinstance(current, Mapping | list):
        return None
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)


def field_selector(
    text: str, *, param: str = "fieldSelector", allowed: Collection[str] | None = None
) -> Predicate:
    """A predicate matching objects whose fields satisfy ``text``; ``allowed``: the field
    labels that may be used (any, when ``None``)."""
    requirements: list[Requirement] = []
    for term in _split_terms(text):
        m = _EQ_EXPR.match(term)
        if m is None:
            raise ValidationError.single(
                param,
                f"invalid field selector {term.strip()!r}: expected field=value or field!=value",
            )
        if allowed is not None and m["key"] not in allowed:
            raise ValidationError.single("", f"field label not supported: {m['key']}")
        op = "!=" if m["op"] == "!=" else "="
        key = _FIELD_PATHS.get(m["key"], m["key"])
        requirements.append(Requirement(key, op, frozenset({m["value"]})))

    def matches(obj: Mapping[str, Any]) -> bool:
        return all(r.holds(True, field_value(obj, r.key) or "") for r in requirements)

    return matches


def from_query(query: Mapping[str, str], fields: Collection[str] | None = None) -> Predicate:
    """The predicate of a request's ``labelSelector`` and ``fieldSelector`` (both must hold;
    either may be absent); ``fields``: the field labels the kind supports."""
    checks: list[Predicate] = []
    if text := query.get("labelSelector"):
        checks.append(label_selector(text))
    if text := query.get("fieldSelector"):
        checks.append(field_selector(text, allowed=fields))
    return lambda obj: all(check(obj) for check in checks)
