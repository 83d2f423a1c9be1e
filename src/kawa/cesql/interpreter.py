"""A deliberately simple AST-walking CESQL evaluator, the baseline for the benchmark.

Same semantics as :mod:`kawa.cesql.compiler` (it shares :mod:`kawa.cesql.runtime`), but it
walks the syntax tree for every event. The TCK runs against both; ``bench/cesql_eval.py``
compares their speed. Parsed trees are cached per text so that only the walk is measured.
"""

from __future__ import annotations

from functools import lru_cache

from kawa.cesql import runtime as rt
from kawa.cesql.compiler import TOO_DEEP, Result, zero_of
from kawa.cesql.errors import CesqlError, CesqlParseError, Failure, Value
from kawa.cesql.syntax import (
    Binary,
    Call,
    Exists,
    Identifier,
    In,
    Like,
    Literal,
    Node,
    Unary,
    parse,
)
from kawa.cloudevents import CloudEvent


@lru_cache(maxsize=256)
def _parse(text: str) -> Node:
    return parse(text)


def _walk(node: Node, ev: CloudEvent) -> Value:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Identifier):
        raw = ev.attributes.get(node.name)
        if raw is None:
            raise rt.missing(node.name)
        return rt.attribute_value(raw)
    if isinstance(node, Exists):
        return node.name in ev.attributes
    if isinstance(node, Unary):
        if node.op == "NOT":
            return not rt.to_bool(_walk(node.operand, ev))
        return rt.int32(-rt.to_int(_walk(node.operand, ev)))
    if isinstance(node, Binary):
        op = node.op
        if op == "AND":
            return rt.to_bool(_walk(node.left, ev)) and rt.to_bool(_walk(node.right, ev))
        if op == "OR":
            return rt.to_bool(_walk(node.left, ev)) or rt.to_bool(_walk(node.right, ev))
        x = _walk(node.left, ev)
        y = _walk(node.right, ev)
        if op == "XOR":
            return rt.to_bool(x) != rt.to_bool(y)
        if op in ("=", "!=", "<>"):
            return (rt.cast_to_type_of(x, y) == y) is (op == "=")
        if op in ("<", "<=", ">", ">="):
            return rt.compare(op, rt.to_int(x), rt.to_int(y))
        return rt.arithmetic(op, rt.to_int(x), rt.to_int(y))
    if isinstance(node, Like):
        text = rt.to_str(_walk(node.operand, ev))
        return rt.like_matcher(node.pattern)(text) is not node.negated
    if isinstance(node, In):
        x = _walk(node.operand, ev)
        for item in node.items:
            if rt.cast_to_type_of(_walk(item, ev), x) == x:
                return not node.negated
        return node.negated
    return _call(node, ev)


def _call(node: Call, ev: CloudEvent) -> Value:
    fn = rt.resolve(node.name, len(node.args))
    if fn is None:
        raise rt.missing_function(node.name, len(node.args))
    args = [rt.CASTS[fn.param_type(i)](_walk(a, ev)) for i, a in enumerate(node.args)]
    try:
        return fn.impl(*args)
    except Failure as exc:
        exc.origin = node
        raise


def evaluate_ast(text: str, event: CloudEvent) -> Result:
    """Evaluate ``text`` for ``event`` by walking its syntax tree (raises CesqlParseError)."""
    try:
        root = _parse(text)
    except RecursionError:
        raise CesqlParseError(TOO_DEEP, line=1, column=1) from None
    try:
        return Result(_walk(root, event), ())
    except Failure as exc:
        value = exc.value if exc.origin is root and exc.value is not None else None
        return Result(zero_of(root) if value is None else value, (exc.to_error(),))
    except RecursionError:
        return Result(zero_of(root), (CesqlError("generic", TOO_DEEP),))
